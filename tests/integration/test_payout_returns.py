"""Payouts that come back: the bank refuses one (Stripe says some fail days after `paid`)
or Stripe cancels it. A `payout_failure` / `payout_cancel` balance transaction puts its
money back in the balance; the reconciliation marks the payout returned, reverses what it
booked for it (D 467 / C 512 per operator, on the day it came back), and the next payout,
which pays that money out again, splits per operator and matches (`returned`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.adapters.reconciliation_store import ReconciliationStore
from chalicelib.config import Settings
from chalicelib.domain.timezones import PARIS
from chalicelib.services.context import Context
from chalicelib.services.reconciliation import reconcile_payments
from tests.conftest import NOW
from tests.integration.test_reconciliation import (
    FEE,
    entries,
    fec_balances,
    ledger,
    paid_at_two_operators,
    paid_bookings,
    report,
)
from tests.support.api import Api
from tests.support.fake_stripe_ledger import FakeBalanceTransaction, LedgerFakeGateway

BANK, CLEARING = "512000", "467000"


@pytest.fixture
def stripe_fake() -> LedgerFakeGateway:
    return LedgerFakeGateway(start=int(NOW.timestamp()))


def paris_day(txn: FakeBalanceTransaction) -> str:
    return datetime.fromtimestamp(txn.created, UTC).astimezone(PARIS).date().isoformat()


def shown(api: Api, token: str, operator_id: str, payout_id: str) -> dict[str, Any]:
    (part,) = [p for p in report(api, token, operator_id)["payouts"] if p["id"] == payout_id]
    return part


def test_a_booked_payout_the_bank_sends_back_is_reversed_then_paid_out_again(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    operator = network["operator"]
    paid_bookings(api, member, network, stripe_fake, settings, 2)
    first = stripe_fake.pay_out()
    reconcile_payments(ctx)
    assert fec_balances(api, accountant, operator)[BANK] == first.amount == 3000 - 2 * FEE

    # WHEN the bank sends the paid payout back, three days later
    back = stripe_fake.return_payout(first.id, days_later=3)
    result = reconcile_payments(ctx)

    # THEN it is reversed on that day: the money is at Stripe again, not in the bank
    assert result["payouts_returned"] == 1
    (reversal,) = entries(ctx, operator, f"payout-{first.id}-returned").values()
    assert {(line.account, line.debit, line.credit) for line in reversal} == {
        (CLEARING, first.amount, 0),
        (BANK, 0, first.amount),
    }
    assert {line.entry_date.isoformat() for line in reversal} == {paris_day(back)}
    balance = fec_balances(api, accountant, operator)
    assert (balance[BANK], balance[CLEARING]) == (0, first.amount)
    returned = shown(api, accountant, operator, first.id)
    assert (returned["status"], returned["matched"]) == ("failed", True)

    # AND the next payout, which holds the money that came back, matches and is booked
    second = stripe_fake.pay_out()
    assert second.amount == first.amount
    assert reconcile_payments(ctx)["payouts_booked"] == 1
    again = shown(api, accountant, operator, second.id)
    assert (again["gross"], again["fees"], again["refunds"]) == (0, 0, 0)
    assert again["returned"] == again["net"] == again["amount"] == second.amount
    assert again["matched"] is True and again["status"] == "paid"
    balance = fec_balances(api, accountant, operator)
    assert (balance[BANK], balance[CLEARING]) == (second.amount, 0)
    assert report(api, accountant, operator)["ok"] is True

    # AND running again changes nothing
    before = ledger(ctx, operator)
    assert reconcile_payments(ctx)["payouts_returned"] == 0
    assert ledger(ctx, operator) == before


def test_a_payout_that_failed_before_it_was_booked_books_nothing_and_is_paid_out_again(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    operator = network["operator"]
    paid_bookings(api, member, network, stripe_fake, settings, 2)
    first = stripe_fake.pay_out(status="in_transit")
    stripe_fake.return_payout(first.id)

    # The failure is read before the payout is recorded: the next run attributes it
    assert reconcile_payments(ctx)["payouts_returned"] == 0
    assert reconcile_payments(ctx)["payouts_returned"] == 1

    assert entries(ctx, operator, "payout-") == {}
    assert shown(api, accountant, operator, first.id)["status"] == "failed"
    second = stripe_fake.pay_out()
    reconcile_payments(ctx)
    assert shown(api, accountant, operator, second.id)["returned"] == second.amount
    assert list(entries(ctx, operator, "payout-")) == [f"payout-{second.id}"]
    balance = fec_balances(api, accountant, operator)
    assert (balance[BANK], balance[CLEARING]) == (second.amount, 0)


def test_a_cancelled_payout_of_two_operators_comes_back_to_each_its_share(
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    other = paid_at_two_operators(api, admin, member, network, stripe_fake, settings)
    first = stripe_fake.pay_out()
    reconcile_payments(ctx)
    stripe_fake.return_payout(first.id, status="canceled")
    second = stripe_fake.pay_out()

    reconcile_payments(ctx)

    shares = {network["operator"]: 1500 - FEE, other: 3000 - 2 * FEE}
    for operator, share in shares.items():
        assert shown(api, accountant, operator, first.id)["status"] == "canceled"
        part = shown(api, accountant, operator, second.id)
        assert (part["returned"], part["net"], part["matched"]) == (share, share, True)
        assert part["payout_amount"] == second.amount == first.amount
        balance = fec_balances(api, accountant, operator)
        assert (balance[BANK], balance[CLEARING]) == (share, 0)
        assert len(entries(ctx, operator, f"payout-{first.id}-returned")) == 1


def test_a_payout_sent_back_while_a_run_books_it_is_reversed_by_that_run(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another run marks the payout returned between this run's booking and its settling:
    it found nothing booked to reverse, so this one reverses it, once."""
    operator = network["operator"]
    paid_bookings(api, member, network, stripe_fake, settings, 2)
    first = stripe_fake.pay_out()
    settle = ReconciliationStore.settle_payout
    came_back = {"txn": "txn_back", "status": "failed", "day": "2026-12-09"}
    came_back["recorded_at"] = datetime(2026, 12, 9, 9, tzinfo=UTC).isoformat()

    def returned_meanwhile(store: ReconciliationStore, payout_id: str, matched: bool) -> bool:
        assert store.mark_returned(payout_id, came_back).get("matched") is None
        return settle(store, payout_id, matched)

    monkeypatch.setattr(ReconciliationStore, "settle_payout", returned_meanwhile)
    reconcile_payments(ctx)
    monkeypatch.undo()

    (reversal,) = entries(ctx, operator, f"payout-{first.id}-returned").values()
    assert {line.entry_date.isoformat() for line in reversal} == {"2026-12-09"}
    balance = fec_balances(api, accountant, operator)
    assert (balance[BANK], balance[CLEARING]) == (0, first.amount)
    # the parts it wrote as paid before it knew are written again as they came back
    assert shown(api, accountant, operator, first.id)["status"] == "failed"

    # The failure, read later, reverses nothing more: the payout was never settled booked
    stripe_fake.return_payout(first.id)
    reconcile_payments(ctx)
    assert len(entries(ctx, operator, f"payout-{first.id}-returned")) == 1
    assert fec_balances(api, accountant, operator)[BANK] == 0


def test_a_payout_booked_by_a_run_that_died_before_settling_it_is_reversed_when_it_comes_back(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its entry was written but it was never settled (`matched` not set): whether it was
    booked is read from the entry's claim."""
    operator = network["operator"]
    paid_bookings(api, member, network, stripe_fake, settings, 2)
    first = stripe_fake.pay_out()

    def dies(store: ReconciliationStore, payout_id: str, matched: bool) -> bool:
        raise RuntimeError("the run dies before settling the payout")

    monkeypatch.setattr(ReconciliationStore, "settle_payout", dies)
    with pytest.raises(RuntimeError):
        reconcile_payments(ctx)
    monkeypatch.undo()
    assert fec_balances(api, accountant, operator)[BANK] == first.amount  # booked

    stripe_fake.return_payout(first.id, days_later=3)
    assert reconcile_payments(ctx)["payouts_returned"] == 1
    second = stripe_fake.pay_out()
    reconcile_payments(ctx)

    balance = fec_balances(api, accountant, operator)
    assert (balance[BANK], balance[CLEARING]) == (second.amount, 0)
    assert len(entries(ctx, operator, f"payout-{first.id}-returned")) == 1


def test_a_payout_stripe_cannot_itemize_that_comes_back_is_left_to_the_accountant(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    operator = network["operator"]
    paid_bookings(api, member, network, stripe_fake, settings, 1)
    manual = stripe_fake.pay_out(manual=True)
    reconcile_payments(ctx)
    back = stripe_fake.return_payout(manual.id)
    second = stripe_fake.pay_out()

    result = reconcile_payments(ctx)

    assert result["payouts_returned"] == 1  # counted: its alarm fires
    assert ctx.reconciliation.transactions([back.id])[back.id]["state"] == "unattributed"
    assert shown(api, accountant, operator, manual.id)["status"] == "failed"
    assert shown(api, accountant, operator, second.id)["matched"] is False
    assert entries(ctx, operator, "payout-") == {}
