"""Disputes: the customer's bank disputes a card payment. Stripe takes the amount and a
dispute fee out of the balance when it opens (an `adjustment` balance transaction whose
source is the dispute) and puts the amount back if it is won. The reconciliation books
both on the payment's invoice (D 411 / C 467 taken, D 467 / C 411 put back) with the fee
(D 627 / C 467, given back the reverse), and the payouts holding them match
(`disputed`); the report lists each dispute with its status (`charge.dispute.*`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.errors import Misconfigured, PaymentProviderUnavailable
from chalicelib.services.context import Context
from chalicelib.services.reconciliation import reconcile_payments
from tests.conftest import NOW, PARIS
from tests.integration.test_failed_refunds import customer_balance
from tests.integration.test_reconciliation import (
    FEE,
    entries,
    fec_balances,
    paid_bookings,
    report,
)
from tests.support.api import Api
from tests.support.fake_stripe_ledger import LedgerFakeGateway
from tests.support.webhooks import deliver

CLEARING, FEES = "467000", "627000"
DISPUTE_FEE = 1500


@pytest.fixture
def stripe_fake() -> LedgerFakeGateway:
    return LedgerFakeGateway(start=int(NOW.timestamp()))


def disputed(
    api: Api, member: str, network: dict, fake: LedgerFakeGateway, settings: Settings
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Three paid bookings, the first disputed (its `charge.dispute.created` delivered):
    answers (that booking, the dispute)."""
    first, _second, _third = paid_bookings(api, member, network, fake, settings, 3)
    dispute = fake.open_dispute(first["payment_intent_id"], fee=DISPUTE_FEE)
    assert deliver(api, settings, "charge.dispute.created", dispute).status == 200
    return first, dispute


def won_later(
    api: Api,
    member: str,
    network: dict,
    fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    days: int,
) -> tuple[dict[str, Any], str]:
    """A dispute opened, then won `days` later (`charge.dispute.closed` delivered):
    the dispute, and the Paris day it closed."""
    _booking, dispute = disputed(api, member, network, fake, settings)
    ctx.clock.advance(seconds=days * 86400)  # type: ignore[attr-defined]
    won = fake.close_dispute(dispute, won=True)
    assert deliver_now(api, settings, ctx, "charge.dispute.closed", won).status == 200
    return dispute, paris_day(ctx.clock.now())


def deliver_now(
    api: Api, settings: Settings, ctx: Context, event_type: str, obj: dict[str, Any]
) -> Any:
    """`obj`'s event, created now by the test's clock (the app dates a close by it)."""
    return deliver(api, settings, event_type, obj, created=int(ctx.clock.now().timestamp()))


def paris_day(moment: datetime) -> str:
    return moment.astimezone(PARIS).date().isoformat()


def dispute_entries(ctx: Context, operator: str) -> list[list[tuple[str, int, int]]]:
    found = {k: v for k, v in entries(ctx, operator, "inv-").items() if "-BQ-dispute-" in k}
    return [[(line.account, line.debit, line.credit) for line in lines] for lines in found.values()]


def unlettered_customer_lines(api: Api, token: str, operator_id: str) -> list[str]:
    fec = api.get(f"/v1/accounting/fec?operator_id={operator_id}&year=2026", token=token)
    rows = [row.split("|") for row in fec.body.decode().splitlines()[1:]]
    return ["|".join(cols) for cols in rows if cols[4] == "411000" and not cols[13]]


def test_a_dispute_lost_leaves_the_customer_owing_and_its_payout_matched(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    operator = network["operator"]
    booking, dispute = disputed(api, member, network, stripe_fake, settings)
    payout = stripe_fake.pay_out()

    reconcile_payments(ctx)

    # THEN the money taken is on the invoice's piece: the customer owes it again
    assert dispute_entries(ctx, operator) == [[("411000", 1500, 0), (CLEARING, 0, 1500)]]
    assert customer_balance(api, accountant, operator, booking["member_id"]) == 1500
    assert len(unlettered_customer_lines(api, accountant, operator)) == 3  # its invoice's
    balance = fec_balances(api, accountant, operator)
    assert balance[FEES] == 3 * FEE + DISPUTE_FEE and balance[CLEARING] == 0
    # AND the payout holding it matches: gross − fees − refunds − disputed = net
    answer = report(api, accountant, operator)
    (shown,) = answer["payouts"]
    assert (shown["gross"], shown["fees"], shown["disputed"]) == (4500, 3 * FEE + 1500, 1500)
    assert shown["net"] == shown["amount"] == payout.amount and shown["matched"] is True
    (listed,) = answer["disputes"]
    assert (listed["dispute_id"], listed["status"], listed["amount"]) == (
        dispute["id"],
        "needs_response",
        1500,
    )
    assert listed["payment_intent_id"] == booking["payment_intent_id"]
    assert listed["invoice_id"] is not None and listed["closed_at"] is None
    due_by = dispute["evidence_details"]["due_by"]
    assert listed["respond_by"] == datetime.fromtimestamp(due_by, UTC).isoformat()

    # WHEN it is lost, 20 days later: nothing moves; the report says so
    ctx.clock.advance(seconds=20 * 86400)  # type: ignore[attr-defined]
    lost = stripe_fake.close_dispute(dispute, won=False)
    assert deliver_now(api, settings, ctx, "charge.dispute.closed", lost).status == 200
    reconcile_payments(ctx)
    (listed,) = report(api, accountant, operator)["disputes"]
    assert listed["status"] == "lost" and listed["closed_at"] is not None
    assert customer_balance(api, accountant, operator, booking["member_id"]) == 1500
    # AND the report of the day it closed lists it too, not that of a day between
    opened, closed = listed["created_at"][:10], listed["closed_at"][:10]
    assert opened < closed
    for day, listed_then in ((opened, 1), (closed, 1), ("2026-12-10", 0)):
        within = report(api, accountant, operator, f"&from={day}&to={day}")["disputes"]
        assert len(within) == listed_then, day


def test_a_dispute_won_puts_the_money_and_the_fee_back_and_settles_the_customer(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    operator = network["operator"]
    booking, dispute = disputed(api, member, network, stripe_fake, settings)
    stripe_fake.pay_out()
    reconcile_payments(ctx)

    won = stripe_fake.close_dispute(dispute, won=True, fee_back=DISPUTE_FEE)
    assert deliver(api, settings, "charge.dispute.closed", won).status == 200
    second = stripe_fake.pay_out()
    reconcile_payments(ctx)

    assert sorted(dispute_entries(ctx, operator)) == sorted(
        [
            [("411000", 1500, 0), (CLEARING, 0, 1500)],
            [(CLEARING, 1500, 0), ("411000", 0, 1500)],
        ]
    )
    assert customer_balance(api, accountant, operator, booking["member_id"]) == 0
    balance = fec_balances(api, accountant, operator)
    assert (balance[FEES], balance[CLEARING]) == (3 * FEE, 0)
    # the invoice is settled again: its customer lines, dispute's included, are lettered
    assert unlettered_customer_lines(api, accountant, operator) == []
    answer = report(api, accountant, operator)
    back = next(p for p in answer["payouts"] if p["id"] == second.id)
    assert (back["disputed"], back["fees"], back["net"]) == (-1500, -1500, 3000)
    assert back["matched"] is True and answer["ok"] is True
    assert [d["status"] for d in answer["disputes"]] == ["won"]


def test_a_dispute_whose_events_never_came_is_read_from_stripe_and_booked(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operator = network["operator"]
    first, _second, _third = paid_bookings(api, member, network, stripe_fake, settings, 3)
    dispute = stripe_fake.open_dispute(first["payment_intent_id"])
    stripe_fake.pay_out()

    # WHILE Stripe cannot tell, the dispute's transaction waits (nothing booked)
    def down(dispute_id: str) -> dict[str, Any]:
        raise PaymentProviderUnavailable("Stripe timed out (fake).")

    monkeypatch.setattr(stripe_fake, "retrieve_dispute", down)
    assert reconcile_payments(ctx)["payouts_booked"] == 0
    assert dispute_entries(ctx, operator) == []
    monkeypatch.undo()

    # THEN the next run reads the dispute from Stripe, records it and books it
    assert reconcile_payments(ctx)["payouts_booked"] == 1
    assert len(dispute_entries(ctx, operator)) == 1
    answer = report(api, accountant, operator)
    assert answer["payouts"][0]["matched"] is True
    assert [(d["dispute_id"], d["status"]) for d in answer["disputes"]] == [
        (dispute["id"], "needs_response")
    ]
    booking = ctx.bookings.get(first["id"])
    assert booking is not None and booking.disputed is True


def test_a_dispute_closed_months_after_it_opened_is_in_the_report_of_its_close(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    operator = network["operator"]
    # WHEN it closes 200 days after it opened (pre-arbitration can take that long)
    dispute, closed = won_later(api, member, network, stripe_fake, settings, ctx, days=200)
    # THEN the report of the day it closed lists it, as it closed, once
    (listed,) = report(api, accountant, operator, f"&from={closed}&to={closed}")["disputes"]
    assert (listed["dispute_id"], listed["status"]) == (dispute["id"], "won")
    assert listed["closed_at"][:10] == closed
    # AND a span holding both its opening and its close lists it once
    (once,) = report(api, accountant, operator, f"&from=2026-11-01&to={closed}")["disputes"]
    assert once["status"] == "won"


def test_a_close_delivered_days_late_is_dated_when_the_dispute_closed(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    operator = network["operator"]
    _booking, dispute = disputed(api, member, network, stripe_fake, settings)
    # GIVEN a dispute won on day 10, whose event Stripe could deliver only 3 days later
    ctx.clock.advance(seconds=10 * 86400)  # type: ignore[attr-defined]
    won, closed = stripe_fake.close_dispute(dispute, won=True), ctx.clock.now()
    ctx.clock.advance(seconds=3 * 86400)  # type: ignore[attr-defined]
    created = int(closed.timestamp())
    assert deliver(api, settings, "charge.dispute.closed", won, created=created).status == 200
    # THEN it closed on day 10: the report of that day lists it, that of its delivery not
    day, delivered = paris_day(closed), paris_day(ctx.clock.now())
    (listed,) = report(api, accountant, operator, f"&from={day}&to={day}")["disputes"]
    assert listed["closed_at"] == closed.astimezone(UTC).isoformat()
    assert report(api, accountant, operator, f"&from={delivered}&to={delivered}")["disputes"] == []


def test_a_dispute_read_from_stripe_takes_its_close_from_its_event_delivered_later(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    operator = network["operator"]
    first, _second, _third = paid_bookings(api, member, network, stripe_fake, settings, 3)
    dispute = stripe_fake.open_dispute(first["payment_intent_id"])
    # GIVEN a dispute won on day 10 whose events have not come, paid out on day 13
    ctx.clock.advance(seconds=10 * 86400)  # type: ignore[attr-defined]
    won, closed = stripe_fake.close_dispute(dispute, won=True), ctx.clock.now()
    ctx.clock.advance(seconds=3 * 86400)  # type: ignore[attr-defined]
    stripe_fake.pay_out()
    # WHEN the reconciliation reads it from Stripe (which tells no close time): day 13
    reconcile_payments(ctx)
    (listed,) = report(api, accountant, operator)["disputes"]
    assert (listed["status"], paris_day(datetime.fromisoformat(listed["closed_at"]))) == (
        "won",
        paris_day(ctx.clock.now()),
    )
    assert listed["closed_at"].endswith("+00:00")  # compared as text with the event's: UTC
    # THEN the close event, delivered at last, dates it back to day 10 (nothing else moves)
    created = int(closed.timestamp())
    assert deliver(api, settings, "charge.dispute.closed", won, created=created).status == 200
    (listed,) = report(api, accountant, operator)["disputes"]
    assert (listed["status"], listed["closed_at"]) == ("won", closed.astimezone(UTC).isoformat())
    day = paris_day(closed)
    within = report(api, accountant, operator, f"&from={day}&to={day}")["disputes"]
    assert [d["dispute_id"] for d in within] == [dispute["id"]]
    # AND a later event never moves it forward again
    later = int(ctx.clock.now().timestamp())
    assert deliver(api, settings, "charge.dispute.updated", won, created=later).status == 200
    (listed,) = report(api, accountant, operator)["disputes"]
    assert listed["closed_at"] == closed.astimezone(UTC).isoformat()


def test_a_dispute_closed_before_its_close_was_indexed_is_still_in_the_report_of_its_close(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    dispute, closed = won_later(api, member, network, stripe_fake, settings, ctx, days=40)
    # GIVEN the item as a release before the GSI2 index wrote it
    ctx.table.table.update_item(
        Key={"PK": f"DISPUTE#{dispute['id']}", "SK": "DISPUTE"},
        UpdateExpression="REMOVE GSI2PK, GSI2SK",
    )
    # THEN the report of the day it closed still lists it (found by its opening)
    listed = report(api, accountant, network["operator"], f"&from={closed}&to={closed}")
    assert [d["dispute_id"] for d in listed["disputes"]] == [dispute["id"]]


def test_a_late_dispute_created_event_never_reopens_a_closed_dispute(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    first, _second, _third = paid_bookings(api, member, network, stripe_fake, settings, 3)
    dispute = stripe_fake.open_dispute(first["payment_intent_id"])
    lost = stripe_fake.close_dispute(dispute, won=False)

    assert deliver(api, settings, "charge.dispute.closed", lost).status == 200
    assert deliver(api, settings, "charge.dispute.created", dispute).status == 200

    (listed,) = report(api, accountant, network["operator"])["disputes"]
    assert listed["status"] == "lost" and listed["closed_at"] is not None
    stored = ctx.bookings.get(first["id"])
    assert stored is not None and stored.disputed is True


def test_a_dispute_never_goes_back_to_an_earlier_status(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    first, _second, _third = paid_bookings(api, member, network, stripe_fake, settings, 3)
    dispute = stripe_fake.open_dispute(first["payment_intent_id"])
    reviewed = {**dispute, "status": "under_review"}
    lost = stripe_fake.close_dispute(dispute, won=False)

    def status() -> tuple[str, Any]:
        (listed,) = report(api, accountant, network["operator"])["disputes"]
        return listed["status"], listed["closed_at"]

    assert deliver(api, settings, "charge.dispute.updated", reviewed).status == 200
    assert deliver(api, settings, "charge.dispute.created", dispute).status == 200
    assert status() == ("under_review", None)
    assert deliver(api, settings, "charge.dispute.closed", lost).status == 200
    closed_at = status()[1]
    contradicting = {**lost, "status": "won"}  # a closed dispute never changes again
    assert deliver(api, settings, "charge.dispute.closed", contradicting).status == 200
    assert status() == ("lost", closed_at)  # closed once, as it first closed


def test_an_inquiry_that_becomes_a_chargeback_shows_the_chargeback_and_its_deadline(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    first, _second, _third = paid_bookings(api, member, network, stripe_fake, settings, 3)
    dispute = stripe_fake.open_dispute(first["payment_intent_id"])
    inquiry = {**dispute, "status": "warning_needs_response"}
    due_later = int(dispute["evidence_details"]["due_by"]) + 20 * 86400
    escalated = {**dispute, "evidence_details": {"due_by": due_later}}

    for event, obj in (
        ("charge.dispute.created", inquiry),
        ("charge.dispute.updated", {**inquiry, "status": "warning_under_review"}),
        ("charge.dispute.updated", escalated),  # needs_response: a chargeback now
        ("charge.dispute.updated", {k: v for k, v in escalated.items() if k != "evidence_details"}),
    ):
        assert deliver(api, settings, event, obj).status == 200

    (listed,) = report(api, accountant, network["operator"])["disputes"]
    assert listed["status"] == "needs_response"
    # the deadline is the chargeback's, kept by an event that does not carry it
    assert listed["respond_by"] == datetime.fromtimestamp(due_later, UTC).isoformat()


def test_a_dispute_of_a_payment_relais_does_not_know_is_left_to_the_accountant_at_once(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    """Another system's payment on the same Stripe account, disputed: Stripe is asked once."""
    (paid,) = paid_bookings(api, member, network, stripe_fake, settings, 1)
    foreign = stripe_fake.open_dispute(paid["payment_intent_id"])
    stripe_fake.disputes[foreign["id"]]["payment_intent"] = "pi_of_another_system"

    for _ in range(2):
        reconcile_payments(ctx)

    assert stripe_fake.calls.count("retrieve_dispute") == 1
    (txn,) = [t for t in stripe_fake.balance if t.source == foreign["id"]]
    assert ctx.reconciliation.transactions([txn.id])[txn.id]["state"] == "unattributed"
    assert report(api, accountant, network["operator"])["disputes"] == []


def test_a_key_that_may_not_read_disputes_never_stops_the_reconciliation(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operator = network["operator"]
    first, _second, _third = paid_bookings(api, member, network, stripe_fake, settings, 3)
    stripe_fake.open_dispute(first["payment_intent_id"])  # its events never came
    payout = stripe_fake.pay_out()

    def refused(dispute_id: str) -> dict[str, Any]:
        raise Misconfigured("The payment provider refused our credentials (fake).")

    monkeypatch.setattr(stripe_fake, "retrieve_dispute", refused)
    result = reconcile_payments(ctx)

    # THEN the run went on to the payouts; the dispute, and so its payout, wait
    assert (result["payouts_seen"], result["payouts_booked"]) == (1, 0)
    assert dispute_entries(ctx, operator) == []
    # AND once the key may read disputes, the next run books both
    monkeypatch.undo()
    assert reconcile_payments(ctx)["payouts_booked"] == 1
    assert len(dispute_entries(ctx, operator)) == 1
    (shown,) = report(api, accountant, operator)["payouts"]
    assert (shown["id"], shown["matched"]) == (payout.id, True)
