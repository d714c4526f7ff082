"""../test_crash_payments.py on DynamoDB Local (its tests and fixtures, collected here
again with this folder's table)."""

from tests.faults.test_crash_payments import (  # noqa: F401 (collected here again)
    big_pool,
    card,
    test_given_a_crash_after_any_call_of_an_erasure_when_retried_then_refunded_and_anonymised,
    test_given_a_crash_after_any_call_of_buying_and_using_credits_when_retried_then_one_pack,
    test_given_a_crash_after_any_call_of_cancel_refund_credit_note_when_retried_then_one_note,
    test_given_a_crash_after_any_call_of_pay_confirm_invoice_when_retried_then_one_invoice,
)
