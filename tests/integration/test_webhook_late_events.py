"""Stripe events delivered late or about what Relais never recorded: each takes effect
once, never leaving a member both paid-for goods and their money back (API.md: "Each
event takes effect exactly once, whatever the order and the number of deliveries")."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from chalicelib.services.context import Context
from tests.integration.test_memberships import (  # noqa: F401 (the `product` fixture)
    mine,
    product,
    start_membership,
)
from tests.integration.test_partial_credit_notes import charge_refunded
from tests.integration.test_webhooks import pack  # noqa: F401 (a fixture)
from tests.support.api import Api, free_seats
from tests.support.fake_stripe_memberships import MembershipFakeGateway
from tests.support.invariants import assert_money_accounted_for
from tests.support.webhooks import deliver

PARIS = ZoneInfo("Europe/Paris")
DAY = "2026-12-03"  # Thursday; the test clock is Tuesday 2026-12-01 07:00 Paris


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def book_by_card(api: Api, token: str, resource: str, **fields: Any) -> dict[str, Any]:
    body = {"resource_id": resource, "date": DAY, "unit": "day", "payment": "card", **fields}
    answer = api.post("/v1/bookings", body, token=token)
    assert answer.status == 201, answer.json
    assert answer.json["booking"]["status"] == "held"
    return dict(answer.json)


def expired_paid_hold(
    api: Api,
    admin: str,
    member: str,
    room: str,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A 10:00-11:00 hold paid at Stripe whose success has not been delivered yet, expired
    by `expire_holds`: (the booking answer, the succeeded intent)."""
    held = book_by_card(api, member, room, start="10:00", end="11:00", unit="hour")
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    clock.advance(minutes=16)
    assert api.post("/v1/admin/jobs/expire_holds", {}, token=admin).json["processed"] == 1
    return held, intent


def seats_left(api: Api, network: dict[str, str], resource: str) -> int:
    return min(free_seats(api, network["relay"], resource, DAY).values())


def failed_intent(intent: dict[str, Any]) -> dict[str, Any]:
    return {
        **intent,
        "status": "requires_payment_method",
        "last_payment_error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
        },
    }


def my_invoices(api: Api, token: str, kind: str | None = None) -> list[dict[str, Any]]:
    path = "/v1/invoices" + (f"?type={kind}" if kind else "")
    answer = api.get(path, token=token)
    assert answer.status == 200, answer.json
    return list(answer.json["items"])


def booking_of(api: Api, token: str, booking_id: str) -> dict[str, Any]:
    answer = api.get(f"/v1/bookings/{booking_id}", token=token)
    assert answer.status == 200, answer.json
    return dict(answer.json)


def test_membership_failure_delivered_after_its_success_leaves_the_membership_paid(
    api: Api,
    admin: str,
    member: str,
    product: str,  # noqa: F811
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    """(Found by review R8.) Same intent: Stripe delivers
    `payment_intent.payment_failed` (an earlier attempt) after
    `payment_intent.succeeded`. The period is paid: the membership must stay active and
    must not be charged again."""
    start_membership(api, settings, stripe_fake, member, product)
    (charge,) = stripe_fake.charges
    assert charge.outcome == "succeeded"
    succeeded = stripe_fake.event_object(charge.intent_id)
    assert deliver(api, settings, "payment_intent.succeeded", succeeded).status == 200
    before = mine(api, member)
    assert before["status"] == "active"

    late = failed_intent(succeeded)
    answer = deliver(api, settings, "payment_intent.payment_failed", late)

    assert answer.status == 200, answer.json
    after = mine(api, member)
    # the retry the failure scheduled (a day later): the period already paid charged again?
    job = api.post(
        "/v1/admin/jobs/renew_memberships",
        {"as_of": paris(2026, 12, 5, 0, 5).isoformat()},
        token=admin,
    )
    assert job.status == 200, job.json
    seen = {
        "status": after["status"],
        "next_charge_at": after.get("next_charge_at"),
        "charges": [(c.metadata.get("period"), c.outcome) for c in stripe_fake.money_moved()],
        "invoices": len(my_invoices(api, member)),
    }
    assert seen == {
        "status": "active",
        "next_charge_at": before.get("next_charge_at"),
        "charges": [("1", "succeeded")],
        "invoices": 1,
    }


def test_pack_success_for_an_intent_relais_never_recorded_is_a_200_not_a_500(
    api: Api,
    member: str,
    pack: dict[str, Any],  # noqa: F811
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    ctx: Context,
) -> None:
    """(Found by review R8: a 500, a half-written payment.) An event about an unknown
    object (an intent Relais has no record of, naming a real purchase in its metadata):
    200, and never credits granted without an invoice."""
    bought = api.post("/v1/purchases", {"product_id": pack["id"]}, token=member)
    assert bought.status == 201, bought.json
    real = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    foreign = {**real, "id": "pi_unknown_1", "latest_charge": "ch_unknown_1"}

    answer = deliver(api, settings, "payment_intent.succeeded", foreign)

    assert answer.status == 200, answer.json
    credits = api.get("/v1/wallet", token=member).json["credits_remaining"]
    invoices = my_invoices(api, member)
    assert (credits > 0) == (len(invoices) > 0), (credits, invoices)


def test_full_refund_handled_while_a_late_success_rebooks_the_expired_hold(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    ctx: Context,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(Found by review R8.) Two events for one booking at once (two Lambdas): the late
    `payment_intent.succeeded` of an expired hold has read its payment (not refunded) and
    is about to take the seat again, while `charge.refunded` (a full Dashboard refund) is
    handled: it finds the booking `expired`, frees nothing. The success then rebooks it:
    the member keeps the seat *and* the money."""
    from chalicelib.services import opening_exceptions

    held, intent = expired_paid_hold(api, admin, member, network["room"], stripe_fake, clock)
    reinstate = opening_exceptions.reinstate_within_hours
    refund_answers = []

    def refund_lands_first(*args: Any, **kwargs: Any) -> Any:
        refunded = charge_refunded(intent, [("re_dash", 2000)])
        refund_answers.append(deliver(api, settings, "charge.refunded", refunded).status)
        return reinstate(*args, **kwargs)

    with monkeypatch.context() as racing:
        racing.setattr(opening_exceptions, "reinstate_within_hours", refund_lands_first)
        answer = deliver(api, settings, "payment_intent.succeeded", intent)
    assert answer.status == 200 and refund_answers == [200], (answer.json, refund_answers)

    payment = ctx.payments.payment(intent["id"])
    assert payment is not None and payment.fully_refunded
    seen = (
        booking_of(api, member, held["booking"]["id"])["status"],
        seats_left(api, network, network["room"]),
    )
    assert seen[0] != "confirmed" and seen[1] == 1, seen
    assert_money_accounted_for(ctx)


def test_a_late_success_after_a_partial_dashboard_refund_still_confirms_a_free_seat(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    ctx: Context,
    clock: FixedClock,
) -> None:
    """API.md: a paid hold whose payment succeeds after it expired is confirmed if the
    seat is still free. A 5 € gesture refunded from the Dashboard first is no full refund:
    the booking is confirmed and nothing more is refunded (found by review R9)."""
    held, intent = expired_paid_hold(api, admin, member, network["room"], stripe_fake, clock)
    gesture = charge_refunded(intent, [("re_gesture", 500)])
    assert deliver(api, settings, "charge.refunded", gesture).status == 200
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    payment = ctx.payments.payment(intent["id"])
    assert payment is not None
    seen = (
        booking_of(api, member, held["booking"]["id"])["status"],
        seats_left(api, network, network["room"]),
        payment.refunded_amount,
    )
    assert seen == ("confirmed", 0, 500), seen
