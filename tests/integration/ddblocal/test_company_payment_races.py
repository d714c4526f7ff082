"""A payment recorded on a company invoice racing a credit note against it, on DynamoDB
Local. The interleaving is pinned with events: the payment has read the invoice's state
and is about to write when the cancellation (its credit note) runs start to end."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.auth import Principal
from chalicelib.domain.company import NewCompany, invoice_source
from chalicelib.domain.identifiers import new_id
from chalicelib.domain.timezones import PARIS
from chalicelib.services import companies, company_invoicing, company_payments, periods
from chalicelib.services.bookings import book, cancel
from chalicelib.services.context import Context
from tests.integration.ddblocal.conftest import Network
from tests.integration.ddblocal.test_never_oversell import DAY, day_request, member
from tests.integration.test_companies import company_body

pytestmark = [pytest.mark.ddblocal, pytest.mark.usefixtures("ddb_real_engine")]
ADMIN = Principal(sub="admin-1", groups=frozenset({"admin"}))
ACCOUNTANT = Principal(sub="acc-1", groups=frozenset({"accountant"}))
TIMEOUT = 60
SIREN = "552100554"


def new_company(operator_id: str) -> NewCompany:
    return NewCompany.model_validate(company_body(operator_id, siren=SIREN))


def test_a_payment_racing_a_credit_note_that_makes_it_cover_the_invoice_marks_it_paid(
    ddb_ctx: Context, ddb_network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN December invoiced to a company for two days (a run by hand, `as_of` ahead)
    company = companies.create_company(ddb_ctx, ADMIN, new_company(ddb_network.operator))
    employee = member("employee-1")
    companies.add_member(ddb_ctx, ADMIN, company.id, employee.sub)
    booked = [
        book(ddb_ctx, employee, day_request(ddb_network.pool, d, "company"), new_id("bkg"))
        for d in (DAY, DAY + timedelta(days=1))
    ]
    company_invoicing.invoice_companies(ddb_ctx, datetime(2027, 1, 1, 3, 0, tzinfo=PARIS))
    invoice_id = ddb_ctx.invoices.by_source(invoice_source(company.id, 2026, 12))
    assert invoice_id is not None
    day_price = int(booked[1]["booking"]["price"]["amount"])
    # WHEN the transfer for one day is recorded while the other day is cancelled (its
    # credit note lowers what is due), the payment having read the state before it
    payment_read, cancel_done = threading.Event(), threading.Event()
    real_open_from = periods.open_from

    def slow_payment(ctx: Context, operator_id: str) -> str:
        # called by record_company_payment between its read of the state and its write
        if threading.current_thread().name == "payment" and not payment_read.is_set():
            payment_read.set()
            assert cancel_done.wait(TIMEOUT)
        return real_open_from(ctx, operator_id)

    monkeypatch.setattr(periods, "open_from", slow_payment)

    def run(name: str) -> Any:
        threading.current_thread().name = name
        if name == "payment":
            return company_payments.record_company_payment(
                ddb_ctx, ACCOUNTANT, invoice_id, day_price, "transfer", date(2026, 12, 1), "VIR-1"
            )
        assert payment_read.wait(TIMEOUT)
        try:
            return cancel(ddb_ctx, employee, booked[1]["booking"]["id"])
        finally:
            cancel_done.set()

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(run, name) for name in ("payment", "cancel")]
        answers = [f.result(timeout=TIMEOUT * 2) for f in futures]
    # THEN the payment, refused on the moved amount due and read again, pays it in full:
    # `paid`, and no longer in the unpaid list
    assert answers[1]["credit_note_id"]
    final = company_payments.invoice_payment_state(ddb_ctx, invoice_id)
    assert final is not None
    assert (final["amount_paid"], final["amount_due"], final["status"]) == (
        day_price,
        day_price,
        "paid",
    )
    unpaid = company_payments.unpaid_company_invoices(ddb_ctx, ddb_network.operator)
    assert invoice_id not in [s["invoice_id"] for s in unpaid]
