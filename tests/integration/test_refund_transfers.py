"""A refund Stripe could not make, paid by bank transfer and recorded on its credit note
(`POST /v1/invoices/{id}/refund-transfer`): the customer's account is settled and
lettered in the FEC, the booking says `transferred`, the accountant's list shows it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.services import refund_transfers
from chalicelib.services.context import Context
from tests.integration.test_failed_refunds import (
    CUSTOMERS,
    cancelled_with_refund,
    customer_balance,
)
from tests.integration.test_notifications import (  # noqa: F401 (fixtures: SES on)
    ses,
    settings,
)
from tests.integration.test_reconciliation import (  # noqa: F401 (the fixture)
    entries,
    fec_balances,
    report,
    stripe_fake,
)
from tests.support.api import Api, assert_problem
from tests.support.fake_stripe_ledger import LedgerFakeGateway
from tests.support.invariants import assert_invariants
from tests.support.webhooks import deliver

BANK = "512000"
ACCOUNTANT = Principal(sub="accountant-1", groups=frozenset({"accountant"}))
pytestmark = pytest.mark.usefixtures("ses")


@pytest.fixture
def failed(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    clock: FixedClock,
) -> dict[str, Any]:
    """A paid booking cancelled in time whose 15,00 € refund the bank refused; two days
    later."""
    cancelled = cancelled_with_refund(api, member, network, stripe_fake, settings)
    answer = deliver(
        api, settings, "charge.refund.updated", stripe_fake.fail_refund(cancelled["refund_id"])
    )
    assert answer.json["outcome"] == "refund_failure_recorded"
    clock.moment += timedelta(days=2)
    return cancelled


def transfer(api: Api, token: str, note_id: str, **body: Any) -> Any:
    fields = {"paid_at": "2026-12-03", "reference": "VIR-2026-0042", **body}
    return api.post(f"/v1/invoices/{note_id}/refund-transfer", fields, token=token)


def test_a_transfer_paying_a_failed_refund_settles_the_customer_once(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    ctx: Context,
    failed: dict[str, Any],
) -> None:
    operator, note_id = network["operator"], failed["credit_note_id"]
    member_sub = failed["booking"]["member_id"]
    assert customer_balance(api, accountant, operator, member_sub) == -1500  # owed

    # WHEN the accountant records the transfer that paid the member (twice: a retry)
    first = transfer(api, accountant, note_id)
    again = transfer(api, accountant, note_id, reference=" VIR-2026-0042 ")

    # THEN it is recorded once, for the refund's amount
    assert (first.status, again.status) == (201, 201)
    assert first.json == again.json
    assert first.json["refund_id"] == failed["refund_id"]
    assert (first.json["amount"], first.json["paid_on"]) == (1500, "2026-12-03")
    # AND one bank entry on the credit note's piece settles the member's account
    (entry,) = entries(ctx, operator, f"{note_id}-BQ-transfer").values()
    assert {(line.account, line.debit, line.credit) for line in entry} == {
        (CUSTOMERS, 1500, 0),
        (BANK, 0, 1500),
    }
    note = api.get(f"/v1/invoices/{note_id}", token=accountant).json
    assert {line.piece_ref for line in entry} == {note["number"]}
    assert customer_balance(api, accountant, operator, member_sub) == 0
    # AND the FEC letters the credit note: refund, failure and transfer together
    fec = api.get(f"/v1/accounting/fec?operator_id={operator}&year=2026", token=accountant)
    rows = [r.split("|") for r in fec.body.decode().splitlines()[1:]]
    lettered = {r[13] for r in rows if r[8] == note["number"] and r[4] == CUSTOMERS}
    assert len(lettered) == 1 and "" not in lettered
    assert fec_balances(api, accountant, operator)[BANK] == -1500
    # AND the booking says the refund was paid by transfer, the accountant's list too
    booking = api.get(f"/v1/bookings/{failed['id']}", token=member).json
    assert booking["refund"] == {"amount": 1500, "status": "transferred"}
    (owed,) = report(api, accountant, operator)["failed_refunds"]
    assert owed["transfer"] == {"reference": "VIR-2026-0042", "paid_on": "2026-12-03"}
    # AND the audit trail names who recorded it
    trail = api.get(f"/v1/audit?entity=refund_transfer&operator_id={operator}", token=accountant)
    (entry,) = trail.json["items"]
    assert (entry["entity_id"], entry["action"]) == (failed["refund_id"], "create")
    assert_invariants(ctx)


def test_another_transfer_for_the_same_refund_is_refused(
    api: Api, accountant: str, ctx: Context, network: dict, failed: dict[str, Any]
) -> None:
    note_id = failed["credit_note_id"]
    assert transfer(api, accountant, note_id).status == 201

    for other in ({"reference": "VIR-2026-0043"}, {"paid_at": "2026-12-02"}):
        assert_problem(transfer(api, accountant, note_id, **other), 409, "already_exists")

    assert len(entries(ctx, network["operator"], f"{note_id}-BQ-transfer")) == 1


def test_a_transfer_is_checked_before_anything_is_written(
    api: Api,
    member: str,
    accountant: str,
    ctx: Context,
    network: dict,
    failed: dict[str, Any],
) -> None:
    note_id = failed["credit_note_id"]
    # not in the future; not before the refund failed (1 December); a reference
    assert_problem(
        transfer(api, accountant, note_id, paid_at="2026-12-04"), 422, "validation_error"
    )
    assert_problem(
        transfer(api, accountant, note_id, paid_at="2026-11-30"), 422, "validation_error"
    )
    assert_problem(transfer(api, accountant, note_id, reference="   "), 422, "validation_error")
    # the books only; a real credit note
    assert_problem(transfer(api, member, note_id), 403, "forbidden")
    assert_problem(transfer(api, accountant, "inv-nope"), 404, "not_found")
    assert entries(ctx, network["operator"], f"{note_id}-BQ-transfer") == {}


def test_only_a_failed_refunds_credit_note_is_paid_by_transfer(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
) -> None:
    cancelled = cancelled_with_refund(api, member, network, stripe_fake, settings)
    note = api.get(f"/v1/invoices/{cancelled['credit_note_id']}", token=accountant).json
    # the refund was made: nothing to transfer; an invoice is no credit note
    assert_problem(transfer(api, accountant, note["id"]), 409, "invalid_state")
    assert_problem(transfer(api, accountant, note["refers_to"]), 409, "invalid_state")


@pytest.mark.parametrize("paid_at", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-05:00"])
def test_a_day_out_of_the_calendar_is_refused(
    api: Api, accountant: str, failed: dict[str, Any], paid_at: str
) -> None:
    # moved to Paris's time, these overflow the calendar: 422, never 500
    answer = transfer(api, accountant, failed["credit_note_id"], paid_at=paid_at)
    assert_problem(answer, 422, "validation_error")


def test_a_transfer_noted_before_a_crash_is_booked_by_the_next_call_whatever_it_says(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    ctx: Context,
    failed: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    note_id, book = failed["credit_note_id"], refund_transfers.periods.book

    def crash(*_: Any) -> bool:
        raise RuntimeError("the function stopped between the refund's mark and its entry")

    # GIVEN a call that noted the transfer, then died before its bank entry
    monkeypatch.setattr(refund_transfers.periods, "book", crash)
    with pytest.raises(RuntimeError):
        refund_transfers.record_refund_transfer(
            ctx, ACCOUNTANT, note_id, date(2026, 12, 3), "VIR-2026-0042"
        )
    monkeypatch.setattr(refund_transfers.periods, "book", book)

    # WHEN a colleague records it again, typing the reference differently
    again = transfer(api, accountant, note_id, reference="VIR-2026-42")

    # THEN they are told it is recorded, and what was noted is booked and shown
    assert_problem(again, 409, "already_exists")
    assert len(entries(ctx, network["operator"], f"{note_id}-BQ-transfer")) == 1
    booking = api.get(f"/v1/bookings/{failed['id']}", token=member).json
    assert booking["refund"]["status"] == "transferred"
    assert_invariants(ctx)
