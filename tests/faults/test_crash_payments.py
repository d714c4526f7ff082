"""Crash at every step of the card flows, then let the ordinary retries run.

For each k, the flow dies right after its k-th DynamoDB or Stripe call (tests/support/
crash.py); the client then retries with its Idempotency-Key, Stripe redelivers the
event, and the invariants of the whole table must hold (tests/support/invariants.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.jobs import run_job
from chalicelib.services.context import Context
from tests.faults.conftest import CRASH_SAMPLES
from tests.integration.test_refunded_packs import dispute_of, make_pack
from tests.support.api import Api, resource_body
from tests.support.crash import Probe, Scenario, crash_at_every_step
from tests.support.fake_stripe import FakeGateway
from tests.support.invariants import assert_invariants
from tests.support.webhooks import deliver

DAY = "2026-12-03"  # Thursday, 48 h ahead of the test clock: cancelled in time, refunded


@pytest.fixture
def big_pool(api: Api, admin: str, network: dict[str, str]) -> str:
    """A hot-desk pool with a seat for every run of a flow."""
    answer = api.post(
        f"/v1/relays/{network['relay']}/resources",
        resource_body(name="Grand plateau", capacity=400),
        token=admin,
    )
    assert answer.status == 201, answer.json
    return str(answer.json["id"])


class CardFlows:
    """Subject i is member-i booking a day in the big pool by card."""

    def __init__(self, ctx: Context, api: Api, stripe_fake: FakeGateway, pool: str) -> None:
        self.ctx, self.api, self.settings, self.stripe = ctx, api, ctx.settings, stripe_fake
        self.pool = pool
        self.bookings: dict[int, str] = {}

    def token(self, i: int) -> str:
        return self.api.token(f"member-{i}")

    def pay(self, i: int) -> None:
        """POST /v1/bookings (retried with its key) → the customer pays → the webhook."""
        answer = self.api.post(
            "/v1/bookings",
            {"resource_id": self.pool, "date": DAY, "unit": "day", "payment": "card"},
            token=self.token(i),
            headers={"Idempotency-Key": f"book-{i}"},
        )
        assert answer.status == 201, answer.json
        self.bookings[i] = answer.json["booking"]["id"]
        intent = self.stripe.succeed(answer.json["payment"]["payment_intent_id"])
        delivered = deliver(
            self.api, self.settings, "payment_intent.succeeded", intent, event_id=f"evt-pay-{i}"
        )
        assert delivered.status == 200, delivered.json

    def booking(self, i: int) -> dict[str, Any]:
        answer = self.api.get(f"/v1/bookings/{self.bookings[i]}", token=self.token(i))
        assert answer.status == 200, answer.json
        return dict(answer.json)

    def paid_and_invoiced(self, i: int) -> None:
        booking = self.booking(i)
        assert booking["status"] == "confirmed", booking
        assert booking.get("invoice_id"), booking
        mine = self.api.get("/v1/bookings", token=self.token(i)).json["items"]
        assert [b["id"] for b in mine] == [booking["id"]], "one booking per request"

    def cancel(self, i: int) -> None:
        """POST …/cancel, retried by the member until it answers."""
        answer = self.api.post(f"/v1/bookings/{self.bookings[i]}/cancel", token=self.token(i))
        assert answer.status == 200, answer.json

    def retry_cancel_then_jobs(self, i: int) -> None:
        """The member retries (a cancellation that went through answers 409 invalid_state),
        then the every-minute job settles any refund still owed."""
        answer = self.api.post(f"/v1/bookings/{self.bookings[i]}/cancel", token=self.token(i))
        assert answer.status == 200 or answer.json["code"] == "invalid_state", answer.json
        run_job(self.ctx, "expire_holds")

    def refunded_with_credit_note(self, i: int) -> None:
        assert self.booking(i)["status"] == "cancelled"
        stored = self.ctx.bookings.get(self.bookings[i])  # the refund is not in the answer
        assert stored is not None and stored.refund is not None, stored
        assert stored.refund["status"] == "succeeded", stored.refund
        assert stored.refund.get("credit_note_id"), stored.refund


@pytest.fixture
def card(ctx: Context, api: Api, stripe_fake: FakeGateway, big_pool: str) -> CardFlows:
    return CardFlows(ctx, api, stripe_fake, big_pool)


def test_given_a_crash_after_any_call_of_pay_confirm_invoice_when_retried_then_one_invoice(
    ctx: Context, probe: Probe, card: CardFlows, stripe_fake: FakeGateway
) -> None:
    # Given a member booking by card, paying, and Stripe telling us
    # When the flow dies after its k-th call (each k), then the client and Stripe retry
    # Then the booking is confirmed with one invoice, and every invariant holds
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario("pay → confirm → invoice", run=card.pay, converged=card.paid_and_invoiced),
        check=lambda: assert_invariants(ctx, stripe_fake),
        samples=CRASH_SAMPLES,
    )
    assert report.steps > 10
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")


def test_given_a_crash_after_any_call_of_cancel_refund_credit_note_when_retried_then_one_note(
    ctx: Context, probe: Probe, card: CardFlows, stripe_fake: FakeGateway
) -> None:
    # Given a confirmed, invoiced booking cancelled in the free window
    # When the cancellation dies after its k-th call (each k), then the member retries
    # Then the booking is cancelled, refunded once, with one credit note; invariants hold
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario(
            "cancel → refund → credit note",
            prepare=card.pay,
            run=card.cancel,
            recover=card.retry_cancel_then_jobs,
            converged=card.refunded_with_credit_note,
        ),
        check=lambda: assert_invariants(ctx, stripe_fake),
        samples=CRASH_SAMPLES,
    )
    assert report.steps > 5
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")


def test_given_a_crash_after_any_call_of_a_refund_failing_when_redelivered_then_one_entry(
    ctx: Context, probe: Probe, card: CardFlows, stripe_fake: FakeGateway
) -> None:
    def paid_and_refunded(i: int) -> None:
        card.pay(i)
        card.cancel(i)

    def refund_of(i: int) -> str:
        intent_id = card.booking(i)["payment_intent_id"]
        (refund,) = [r for r in stripe_fake.refunds.values() if r.payment_intent == intent_id]
        return refund.id

    def bank_refuses(i: int) -> None:
        """`charge.refund.updated` (failed), redelivered under its event id until 200."""
        failed = stripe_fake.fail_refund(refund_of(i))
        delivered = deliver(
            card.api, card.settings, "charge.refund.updated", failed, event_id=f"evt-fail-{i}"
        )
        assert delivered.status == 200, delivered.json

    def owed_once(i: int) -> None:
        assert card.booking(i)["refund"]["status"] == "failed"
        stored = ctx.payments.refund(card.booking(i)["payment_intent_id"], refund_of(i))
        assert stored is not None and stored.status == "failed", stored

    # Given a booking paid, cancelled in time and refunded, whose refund the bank refuses
    # When handling the failure dies after its k-th call, then Stripe redelivers it
    # Then the refund is failed, the booking says so, and its bank entry exists (the
    # invariants check it) once
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario(
            "refund failed → bank entry → marks",
            prepare=paid_and_refunded,
            run=bank_refuses,
            converged=owed_once,
        ),
        check=lambda: assert_invariants(ctx, stripe_fake),
        samples=CRASH_SAMPLES,
    )
    assert report.steps > 5
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")


def test_given_a_crash_after_any_call_of_buying_and_using_credits_when_retried_then_one_pack(
    ctx: Context,
    probe: Probe,
    card: CardFlows,
    api: Api,
    admin: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
) -> None:
    product = make_pack(api, admin, network["operator"])

    def buy_and_book(i: int) -> None:
        """POST /v1/purchases → pays → webhook → books a day with one credit (each retried
        with its key, redelivered under its event id)."""
        token = card.token(i)
        bought = api.post(
            "/v1/purchases",
            {"product_id": product},
            token=token,
            headers={"Idempotency-Key": f"buy-{i}"},
        )
        assert bought.status == 201, bought.json
        intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
        delivered = deliver(
            api, ctx.settings, "payment_intent.succeeded", intent, event_id=f"evt-buy-{i}"
        )
        assert delivered.status == 200, delivered.json
        booked = api.post(
            "/v1/bookings",
            {"resource_id": card.pool, "date": DAY, "unit": "day", "payment": "credits"},
            token=token,
            headers={"Idempotency-Key": f"use-{i}"},
        )
        assert booked.status == 201, booked.json
        card.bookings[i] = booked.json["booking"]["id"]

    def one_pack_one_credit_used(i: int) -> None:
        wallet = api.get("/v1/wallet", token=card.token(i)).json
        assert [p["credits_total"] for p in wallet["packs"]] == [10], wallet
        assert wallet["credits_remaining"] == 9, wallet
        assert card.booking(i)["status"] == "confirmed"

    # Given a member buying a 10-credit pack by card, then booking a day with a credit
    # When the flow dies after its k-th call, then the client and Stripe retry
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario("credits purchase and use", run=buy_and_book, converged=one_pack_one_credit_used),
        check=lambda: assert_invariants(ctx, stripe_fake),
        samples=CRASH_SAMPLES,
    )
    # Then one pack, one credit drawn, one invoice for the purchase; invariants hold
    assert report.steps > 10
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")


def test_given_a_crash_after_any_call_of_a_lost_dispute_when_redelivered_then_pack_revoked(
    ctx: Context,
    probe: Probe,
    card: CardFlows,
    api: Api,
    admin: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
) -> None:
    product = make_pack(api, admin, network["operator"])
    intents: dict[int, dict[str, Any]] = {}

    def bought(i: int) -> None:
        """A pack bought and paid by member i (not counted)."""
        answer = api.post("/v1/purchases", {"product_id": product}, token=card.token(i))
        assert answer.status == 201, answer.json
        intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
        assert deliver(api, ctx.settings, "payment_intent.succeeded", intent).status == 200
        intents[i] = intent

    def lost(i: int) -> None:
        """`charge.dispute.closed` lost, redelivered by Stripe under its event id."""
        dispute = dispute_of(intents[i], "lost")
        delivered = deliver(
            api, ctx.settings, "charge.dispute.closed", dispute, event_id=f"evt-lost-{i}"
        )
        assert delivered.status == 200, delivered.json

    def revoked(i: int) -> None:
        wallet = api.get("/v1/wallet", token=card.token(i)).json
        assert wallet["credits_remaining"] == 0, wallet
        dispute = ctx.payments.dispute(dispute_of(intents[i], "lost")["id"])
        assert dispute is not None and dispute.status == "lost"

    # Given a paid credit pack whose payment's dispute is lost
    # When the webhook dies after its k-th call, then Stripe delivers it again
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario("lost dispute of a pack", prepare=bought, run=lost, converged=revoked),
        check=lambda: assert_invariants(ctx, stripe_fake),
        samples=CRASH_SAMPLES,
    )
    # Then the pack is revoked once, the dispute recorded; the invariants hold
    assert report.steps > 3
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")


def test_given_a_crash_after_any_call_of_an_erasure_when_retried_then_refunded_and_anonymised(
    ctx: Context, probe: Probe, card: CardFlows, api: Api, stripe_fake: FakeGateway
) -> None:
    def prepare(i: int) -> None:
        """Member i with a profile and a paid booking 48 h ahead (refundable)."""
        profile = {"name": f"Camille {i}", "email": f"camille{i}@example.org"}
        assert api.request("PUT", "/v1/me", profile, token=card.token(i)).status == 200
        card.pay(i)

    def erase(i: int) -> None:
        answer = api.request("DELETE", "/v1/me", token=card.token(i))
        assert answer.status == 204, answer.body

    def retry_then_jobs(i: int) -> None:
        erase(i)  # the member (or the support desk) asks again
        run_job(ctx, "expire_holds")  # refunds still owed

    def erased(i: int) -> None:
        card.refunded_with_credit_note(i)
        profile = api.get("/v1/me", token=card.token(i)).json
        assert profile["erased_at"] and profile.get("email") is None, profile

    # Given a member with a paid booking
    # When the erasure dies after its k-th call, then it is asked again and jobs run
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario("erasure", prepare=prepare, run=erase, recover=retry_then_jobs, converged=erased),
        check=lambda: assert_invariants(ctx, stripe_fake),
        samples=CRASH_SAMPLES,
    )
    # Then the booking is cancelled and refunded once with its credit note, the profile
    # anonymised; invariants hold
    assert report.steps > 5
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")
