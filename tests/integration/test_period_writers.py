"""Each ledger writer, driven through its real flow, never lands in a closed month.

Bookings paid by card (invoice + payment), refunds (credit note), Stripe fees from the
reconciliation job, and bank transfers recorded for a company invoice. Issuing at a
month's end racing its close is covered in test_periods.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.invoice_store import InvoiceStore
from chalicelib.config import Settings
from chalicelib.services.context import Context
from chalicelib.services.reconciliation import reconcile_payments
from tests.conftest import NOW, PARIS
from tests.integration.test_companies import (  # noqa: F401 - fixtures
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
    pay,
)
from tests.integration.test_reconciliation import paid_booking
from tests.support.api import Api
from tests.support.fake_stripe_ledger import LedgerFakeGateway

JAN_5 = datetime(2027, 1, 5, 10, 0, tzinfo=PARIS)


@pytest.fixture
def stripe_fake() -> LedgerFakeGateway:
    return LedgerFakeGateway(start=int(NOW.timestamp()))


def close(api: Api, token: str, operator_id: str, month: str) -> None:
    answer = api.post(f"/v1/operators/{operator_id}/periods/{month}/close", {}, token=token)
    assert answer.status == 200, answer.json


def vat(api: Api, token: str, operator_id: str, month: str) -> int:
    answer = api.get(f"/v1/accounting/vat?operator_id={operator_id}&month={month}", token=token)
    return int(answer.json["total_vat"])


def lines_of(ctx: Context, operator_id: str, year: int, prefix: str) -> list[Any]:
    ledger = InvoiceStore(ctx.table).ledger(operator_id, year)
    return [line for line in ledger if line.entry_id.startswith(prefix)]


def test_stripe_fees_of_a_closed_month_are_booked_in_the_next_one(
    api: Api,
    member: str,
    accountant: str,
    network: dict[str, str],
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-04")
    clock.moment = JAN_5
    close(api, accountant, network["operator"], "2026-12")

    reconcile_payments(ctx)

    fees = lines_of(ctx, network["operator"], 2027, "fee-")
    assert {(line.entry_date, line.label[-15:]) for line in fees} == {
        (date(2027, 1, 1), "(du 01/12/2026)")
    }
    assert lines_of(ctx, network["operator"], 2026, "fee-") == []


def test_a_refund_after_the_close_leaves_the_closed_month_vat_unchanged(
    api: Api,
    member: str,
    accountant: str,
    network: dict[str, str],
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    clock: FixedClock,
) -> None:
    booking = paid_booking(api, member, network["pool"], stripe_fake, settings, "2027-01-20")
    december_vat = vat(api, accountant, network["operator"], "2026-12")
    clock.moment = JAN_5
    close(api, accountant, network["operator"], "2026-12")

    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)

    assert cancelled.json["credit_note_id"] is not None
    assert vat(api, accountant, network["operator"], "2026-12") == december_vat == 250
    assert vat(api, accountant, network["operator"], "2027-01") == -250


def test_a_transfer_dated_in_a_closed_month_is_booked_in_the_first_open_one(
    api: Api,
    accountant: str,
    clock: FixedClock,
    ctx: Context,
    network: dict[str, str],
    invoiced: dict[str, Any],  # noqa: F811
) -> None:
    operator = network["operator"]
    clock.moment = datetime(2027, 2, 20, 10, 0, tzinfo=PARIS)
    close(api, accountant, operator, "2026-12")
    close(api, accountant, operator, "2027-01")

    assert pay(api, accountant, invoiced["id"], paid_at="2027-01-15").status == 201

    bank = [line for line in lines_of(ctx, operator, 2027, invoiced["id"]) if line.journal == "BQ"]
    assert {(line.entry_date, line.piece_date) for line in bank} == {
        (date(2027, 2, 1), date(2027, 1, 15))
    }


def test_the_vat_of_a_transfer_dated_in_a_closed_month_is_declared_in_the_first_open_one(
    api: Api,
    accountant: str,
    clock: FixedClock,
    network: dict[str, str],
    invoiced: dict[str, Any],  # noqa: F811
) -> None:
    operator = network["operator"]
    clock.moment = datetime(2027, 2, 20, 10, 0, tzinfo=PARIS)
    close(api, accountant, operator, "2026-12")
    close(api, accountant, operator, "2027-01")
    january = vat(api, accountant, operator, "2027-01")

    assert pay(api, accountant, invoiced["id"], paid_at="2027-01-15").status == 201

    assert vat(api, accountant, operator, "2027-01") == january  # closed: never changes
    assert vat(api, accountant, operator, "2027-02") == invoiced["totals"]["vat"]


def test_a_transfer_settling_a_company_invoice_letters_both_customer_lines(
    api: Api,
    accountant: str,
    clock: FixedClock,
    network: dict[str, str],
    invoiced: dict[str, Any],  # noqa: F811
) -> None:
    operator = network["operator"]
    clock.moment = datetime(2027, 1, 20, 10, 0, tzinfo=PARIS)
    pay(api, accountant, invoiced["id"], paid_at="2027-01-15")
    fec = api.get(f"/v1/accounting/fec?operator_id={operator}&year=2027", token=accountant)
    rows = [row.split("|") for row in fec.body.decode().splitlines()[1:]]
    assert {(r[0], r[13], r[14]) for r in rows if r[4] == "411000"} == {
        ("VE", "A", "20270115"),
        ("BQ", "A", "20270115"),
    }


def test_a_payout_that_arrived_in_a_closed_month_is_booked_in_the_next_one(
    api: Api,
    member: str,
    accountant: str,
    network: dict[str, str],
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-04")
    payout = stripe_fake.pay_out()  # arrives on 3 December, unknown to the books yet
    clock.moment = JAN_5
    close(api, accountant, network["operator"], "2026-12")

    reconcile_payments(ctx)

    booked = lines_of(ctx, network["operator"], 2027, f"payout-{payout.id}")
    assert {(line.entry_date, line.piece_date) for line in booked} == {
        (date(2027, 1, 1), date(2026, 12, 3))
    }
