"""Refunds that fail, in the orders Stripe may deliver them and across crashes: a failure
before the refund is recorded (a stale `charge.refunded` then lists it as made, with its
refunds or only `amount_refunded`), a payout holding a refund that failed before it was
recorded, a pending refund retried after a crash, the alarm's metric after a crash, and a
refund failed at creation keeping Stripe's reason (tests from a review)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.booking_store import BookingStore
from chalicelib.adapters.payment_store import PaymentStore
from chalicelib.config import Settings
from chalicelib.services import refund_failures
from chalicelib.services.context import Context
from chalicelib.services.payments import settle_due_refunds
from chalicelib.services.reconciliation import reconcile_payments
from tests.integration.test_failed_refunds import (  # noqa: F401 (fixtures)
    CLEARING,
    cancelled_with_refund,
    customer_balance,
    sent,
    ses,
    settings,
)
from tests.integration.test_reconciliation import (  # noqa: F401 (the fixture)
    fec_balances,
    paid_booking,
    report,
    stripe_fake,
)
from tests.support.api import Api
from tests.support.fake_stripe_ledger import LedgerFakeGateway
from tests.support.webhooks import deliver

pytestmark = pytest.mark.usefixtures("ses")


def dashboard_refund(fake: LedgerFakeGateway, intent_id: str, amount: int = 1500) -> Any:
    """A refund made from Stripe's dashboard (its `refund` balance transaction too)."""
    return fake.create_refund(
        payment_intent_id=intent_id, amount=amount, idempotency_key=f"dash-{intent_id}", metadata={}
    )


def charge_snapshot(booking: dict[str, Any], refunds: list[dict[str, Any]] | None) -> dict:
    charge: dict[str, Any] = {
        "id": f"ch_{booking['payment_intent_id']}",
        "object": "charge",
        "payment_intent": booking["payment_intent_id"],
        "amount": 1500,
        "amount_refunded": 1500,
    }
    if refunds is not None:
        charge["refunds"] = {"data": refunds}
    return charge


def test_failure_delivered_before_a_stale_charge_refunded_is_not_lost(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
) -> None:
    # GIVEN a paid booking refunded from the dashboard; `charge.refunded` was built then
    booking = paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-07")
    refund = dashboard_refund(stripe_fake, booking["payment_intent_id"])
    stale = charge_snapshot(
        booking, [{"id": refund.id, "amount": 1500, "status": "succeeded", "metadata": {}}]
    )
    # WHEN the bank refuses it and `refund.failed` is delivered before `charge.refunded`
    failed = stripe_fake.fail_refund(refund.id)
    first = deliver(api, settings, "refund.failed", failed).json["outcome"]
    assert first == "failed_before_recorded"
    assert deliver(api, settings, "charge.refunded", stale).status == 200

    # THEN the refund is not taken as made (the member got nothing back)
    stored = ctx.payments.refund(booking["payment_intent_id"], refund.id)
    assert stored is None or not stored.made, stored
    # AND once paid out and reconciled, the Stripe clearing account is empty
    stripe_fake.pay_out()
    reconcile_payments(ctx)
    assert fec_balances(api, accountant, network["operator"]).get(CLEARING, 0) == 0


def test_listed_refunds_path_counts_a_refund_that_failed_as_made(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
) -> None:
    # GIVEN a dashboard refund that the bank refused before its `charge.refunded` (API
    # versions since 2022-11-15: only `amount_refunded`, 1500 when the event was built)
    booking = paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-07")
    refund = dashboard_refund(stripe_fake, booking["payment_intent_id"])
    failed = stripe_fake.fail_refund(refund.id)
    # WHEN `charge.refunded` then the failure are delivered
    assert deliver(api, settings, "charge.refunded", charge_snapshot(booking, None)).status == 200
    assert deliver(api, settings, "charge.refund.updated", failed).status == 200
    # THEN no refund is recorded as made (Stripe lists the only one as failed)
    made = [r for r in ctx.payments.refunds(booking["payment_intent_id"]) if r.made]
    assert made == [], made
    assert api.get(f"/v1/bookings/{booking['id']}", token=member).json["status"] == "confirmed"


def test_payout_holding_a_never_recorded_failed_refund_is_matched(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
) -> None:
    # GIVEN a dashboard refund that failed before Relais recorded it ("issues nothing")
    booking = paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-07")
    refund = dashboard_refund(stripe_fake, booking["payment_intent_id"])
    stripe_fake.fail_refund(refund.id)
    listed = [{"id": refund.id, "amount": 1500, "status": "failed", "metadata": {}}]
    charge = {**charge_snapshot(booking, listed), "amount_refunded": 0}
    assert deliver(api, settings, "charge.refunded", charge).status == 200
    # WHEN Stripe pays out (charge, refund −1500, refund_failure +1500) and it is reconciled
    stripe_fake.pay_out()
    reconcile_payments(ctx)
    # THEN the payout matches: the refund and its failure net to nothing
    (payout,) = report(api, accountant, network["operator"])["payouts"]
    assert payout["matched"] is True, payout


def test_pending_refund_retried_after_a_crash_still_shows_its_failure_on_the_booking(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    booking = paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-07")
    create = stripe_fake.create_refund

    def pending_refund(**kwargs: Any) -> Any:  # a SEPA refund: pending for days
        made = replace(create(**kwargs), status="pending")
        stripe_fake.refunds[made.id] = made
        return made

    monkeypatch.setattr(stripe_fake, "create_refund", pending_refund)
    real_record = BookingStore.record_refund
    calls = {"n": 0}

    def crash_once(self: BookingStore, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("Lambda killed after the refund and its credit note")
        real_record(self, *args, **kwargs)

    monkeypatch.setattr(BookingStore, "record_refund", crash_once)
    # GIVEN a cancellation whose refund (pending) was made and recorded, then a crash
    crashed = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)
    assert crashed.status == 500 and calls["n"] == 1
    (refund_id,) = stripe_fake.refunds
    # WHEN the job retries the owed refund, then the bank refuses the refund
    settle_due_refunds(ctx)
    failed = stripe_fake.fail_refund(refund_id)
    assert deliver(api, settings, "charge.refund.updated", failed).status == 200
    # THEN the booking says the 15,00 € refund failed
    shown = api.get(f"/v1/bookings/{booking['id']}", token=member).json
    assert shown["refund"] == {"amount": 1500, "status": "failed"}, shown["refund"]


def test_refunds_failed_metric_is_counted_when_a_crash_is_finished_by_the_redelivery(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    booking = cancelled_with_refund(api, member, network, stripe_fake, settings)
    refund_id = booking["refund_id"]
    counted: list[str] = []
    monkeypatch.setattr(refund_failures, "count", lambda name, *a, **k: counted.append(name))
    real_outcome = PaymentStore.refund_outcome
    calls = {"n": 0}

    def crash_once(self: PaymentStore, *args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("Lambda killed right after the bank entry")
        return real_outcome(self, *args, **kwargs)

    monkeypatch.setattr(PaymentStore, "refund_outcome", crash_once)
    failed = stripe_fake.fail_refund(refund_id)
    # WHEN the failure's handling dies after its entry, and Stripe delivers it again
    crashed = deliver(api, settings, "charge.refund.updated", failed, event_id="evt-f")
    assert crashed.status == 500 and calls["n"] == 1
    assert deliver(api, settings, "charge.refund.updated", failed, event_id="evt-f").status == 200
    # THEN the RefundsFailed alarm still hears of it (once)
    assert counted.count("RefundsFailed") == 1, counted


def test_a_refund_failed_at_creation_keeps_stripes_reason_and_time(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    booking = paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-07")
    create = stripe_fake.create_refund

    def failing_refund(**kwargs: Any) -> Any:  # Stripe answers the refund `failed` at once
        made = replace(create(**kwargs), status="failed")
        stripe_fake.refunds[made.id] = made
        return made

    monkeypatch.setattr(stripe_fake, "create_refund", failing_refund)
    answer = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)
    assert answer.status == 200 and answer.json["refund"]["status"] == "failed"
    (refund_id,) = stripe_fake.refunds
    # WHEN Stripe's `refund.failed` says why
    failed = stripe_fake.fail_refund(refund_id)
    assert deliver(api, settings, "refund.failed", failed).status == 200
    # THEN the accountant's list says why and when
    (owed,) = report(api, accountant, network["operator"])["failed_refunds"]
    assert owed["failure_reason"] == "expired_or_canceled_card", owed
    assert owed["failed_at"] is not None, owed


def test_a_failure_racing_the_refunds_recording_is_still_taken_into_account(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a refund recorded as made by a `charge.refunded` at the very moment its
    # failure is handled: the failure's first read finds no refund yet
    booking = cancelled_with_refund(api, member, network, stripe_fake, settings)
    refund_id = booking["refund_id"]
    real_refund = PaymentStore.refund
    reads = {"n": 0}

    def not_yet_recorded(self: PaymentStore, intent_id: str, wanted: str) -> Any:
        reads["n"] += 1
        return None if reads["n"] == 1 else real_refund(self, intent_id, wanted)

    monkeypatch.setattr(PaymentStore, "refund", not_yet_recorded)
    # WHEN the failure is handled
    failed = stripe_fake.fail_refund(refund_id)
    answer = deliver(api, settings, "charge.refund.updated", failed)
    # THEN it is the recorded refund's failure: owed to the member, the booking says so
    assert answer.json["outcome"] == "refund_failure_recorded", answer.json
    shown = api.get(f"/v1/bookings/{booking['id']}", token=member).json
    assert shown["refund"]["status"] == "failed"


def test_a_charge_refunded_with_malformed_refunds_records_only_the_well_formed_one(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
) -> None:
    # GIVEN a paid booking, and a `charge.refunded` whose refunds list holds odd entries
    booking = paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-07")
    listed = [
        {"id": "re_ok", "amount": 500, "status": "succeeded", "metadata": None},
        {"amount": 500, "status": "succeeded"},  # no id
        {"id": "re_list", "amount": 500, "status": ["failed"]},
        {"id": "re_text", "amount": "500", "status": "succeeded"},
        "re_bare",
    ]
    charge = {**charge_snapshot(booking, listed), "amount_refunded": 2000}
    # WHEN it is delivered
    answer = deliver(api, settings, "charge.refunded", charge)
    # THEN it is answered (never a 5xx Stripe would retry for days), and only the
    # well-formed refund is recorded
    assert answer.status == 200, answer.json
    recorded = ctx.payments.refunds(booking["payment_intent_id"])
    assert [(r.id, r.amount) for r in recorded] == [("re_ok", 500)]


def test_a_late_success_never_overwrites_a_failure_handled_meanwhile(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a refund read as pending by a `refund.updated` (succeeded) while its failure
    # is handled: the success's read is older than the failure's marks
    booking = cancelled_with_refund(api, member, network, stripe_fake, settings)
    refund_id = booking["refund_id"]
    failed = stripe_fake.fail_refund(refund_id)
    assert deliver(api, settings, "charge.refund.updated", failed).status == 200
    real_refund = PaymentStore.refund

    def read_before_the_failure(self: PaymentStore, intent_id: str, wanted: str) -> Any:
        stored = real_refund(self, intent_id, wanted)
        return stored.model_copy(update={"status": "pending"}) if stored else None

    monkeypatch.setattr(PaymentStore, "refund", read_before_the_failure)
    # WHEN the success is handled
    succeeded = {**failed, "status": "succeeded"}
    answer = deliver(api, settings, "refund.updated", succeeded)
    # THEN the booking still says the refund failed
    assert answer.json["outcome"] == "already_recorded", answer.json
    shown = api.get(f"/v1/bookings/{booking['id']}", token=member).json
    assert shown["refund"]["status"] == "failed"
