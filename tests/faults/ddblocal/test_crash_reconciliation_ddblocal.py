"""../test_crash_reconciliation.py on DynamoDB Local (its test and fixture, collected
here again with this folder's table)."""

from tests.faults.test_crash_reconciliation import (  # noqa: F401 (collected here again)
    stripe_fake,
    test_given_a_crash_after_any_call_of_a_payout_coming_back_when_rerun_then_reversed_once,
    test_given_a_crash_after_any_call_of_payout_reconciliation_when_rerun_then_booked_once,
)
