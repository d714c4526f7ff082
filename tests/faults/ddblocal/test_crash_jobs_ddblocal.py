"""../test_crash_jobs.py and ../test_crash_einvoices.py on DynamoDB Local (their tests
and fixtures, collected here again with this folder's table)."""

from tests.faults.test_crash_einvoices import (  # noqa: F401 (collected here again)
    fake_pa,
    test_given_a_crash_after_any_call_of_the_einvoice_job_when_rerun_then_deposited_once,
)
from tests.faults.test_crash_jobs import (  # noqa: F401
    renewals,
    stripe_fake,
    test_given_a_crash_after_any_call_of_a_renewal_when_rerun_then_charged_once,
    test_given_a_crash_after_any_call_of_company_invoicing_when_rerun_then_one_invoice,
)
