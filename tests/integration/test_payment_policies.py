"""What happens to the money in every booking path (moto, fake Stripe gateway).

Late payments after a hold expired, cancellations before and after the deadline,
Stripe outages during refunds, closures, replayed service calls (Lambda retries), and
credit packs. Every test that moves money ends with `assert_money_accounted_for`.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.domain.booking import BookingRequest, BookingStatus
from chalicelib.errors import InvalidState
from chalicelib.services import bookings
from chalicelib.services.context import Context
from chalicelib.services.webhooks import handle_stripe_webhook
from tests.support.api import Answer, Api, assert_problem, free_seats
from tests.support.fake_stripe import FakeGateway, signed_event
from tests.support.invariants import assert_money_accounted_for, money_violations

PARIS = ZoneInfo("Europe/Paris")
DAY = "2026-12-03"  # Thursday, 49 h after the test clock (Tuesday 2026-12-01 07:00 Paris)
TODAY = "2026-12-01"
MEMBER = "member-1"


# -- helpers -----------------------------------------------------------------------------


def book(
    api: Api, token: str, resource: str, *, payment: str = "card", **fields: Any
) -> dict[str, Any]:
    body = {"resource_id": resource, "date": DAY, "unit": "day", "payment": payment, **fields}
    answer = api.post("/v1/bookings", body, token=token)
    assert answer.status == 201, answer.json
    return dict(answer.json)


def deliver(api: Api, settings: Settings, event_type: str, obj: dict[str, Any]) -> Answer:
    payload, header = signed_event(event_type, obj, settings.stripe_webhook_secret)
    return api.post("/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header})


def pay(api: Api, settings: Settings, stripe_fake: FakeGateway, intent_id: str) -> Answer:
    """The customer pays and Stripe tells us."""
    answer = deliver(api, settings, "payment_intent.succeeded", stripe_fake.succeed(intent_id))
    assert answer.status == 200, answer.json
    return answer


def paid_booking(
    api: Api,
    token: str,
    settings: Settings,
    stripe_fake: FakeGateway,
    resource: str,
    **fields: Any,
) -> dict[str, Any]:
    held = book(api, token, resource, **fields)
    pay(api, settings, stripe_fake, held["payment"]["payment_intent_id"])
    return held


def run_job(api: Api, admin: str, job: str = "expire_holds") -> dict[str, Any]:
    answer = api.post(f"/v1/admin/jobs/{job}", {}, token=admin)
    assert answer.status == 200, answer.json
    return dict(answer.json)


def min_free(api: Api, relay: str, resource: str, day: str = DAY) -> int:
    return min(free_seats(api, relay, resource, day).values())


def status_of(ctx: Context, booking_id: str) -> str:
    booking = ctx.bookings.get(booking_id)
    assert booking is not None
    return str(booking.status)


def make_pack(api: Api, admin: str, operator: str, *, credits: int = 10, days: int = 180) -> str:
    answer = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": f"{credits} jours ({days} j)",
            "price": {"amount": 1200 * credits, "vat_rate": "20.00"},
            "operator_id": operator,
            "credits": credits,
            "validity_days": days,
        },
        token=admin,
    )
    assert answer.status == 201, answer.json
    return str(answer.json["id"])


def buy_pack(
    api: Api, token: str, settings: Settings, stripe_fake: FakeGateway, product_id: str
) -> str:
    bought = api.post("/v1/purchases", {"product_id": product_id}, token=token)
    assert bought.status == 201, bought.json
    pay(api, settings, stripe_fake, bought.json["payment"]["payment_intent_id"])
    return str(bought.json["purchase"]["id"])


def card_request(resource: str, **fields: Any) -> BookingRequest:
    return BookingRequest.model_validate(
        {"resource_id": resource, "date": DAY, "unit": "day", "payment": "card", **fields}
    )


# -- late success after the hold expired -------------------------------------------------


def test_late_success_after_expiry_rebooks_the_seat_when_still_free(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    held = book(api, member, network["pool"])
    clock.advance(minutes=16)
    assert run_job(api, admin)["processed"] == 1
    assert status_of(ctx, held["booking"]["id"]) == "expired"
    assert min_free(api, network["relay"], network["pool"]) == 3

    pay(api, settings, stripe_fake, held["payment"]["payment_intent_id"])

    assert status_of(ctx, held["booking"]["id"]) == "confirmed"
    assert min_free(api, network["relay"], network["pool"]) == 2
    assert stripe_fake.refunds == {}
    assert_money_accounted_for(ctx)


def test_late_success_after_seat_was_taken_is_refunded_in_full(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    room = {"unit": "hour", "start": "10:00", "end": "11:00"}
    late = book(api, member, network["room"], **room)
    clock.advance(minutes=16)
    run_job(api, admin)
    other = book(api, api.token("member-2"), network["room"], **room)
    intent_id = late["payment"]["payment_intent_id"]

    pay(api, settings, stripe_fake, intent_id)

    assert status_of(ctx, late["booking"]["id"]) == "expired"
    assert status_of(ctx, other["booking"]["id"]) == "held"
    assert [(r.payment_intent, r.amount) for r in stripe_fake.refunds.values()] == [
        (intent_id, 2000)
    ]
    assert sum(r.amount for r in ctx.payments.refunds(intent_id)) == 2000
    assert min_free(api, network["relay"], network["room"]) == 0
    assert_money_accounted_for(ctx)


def test_late_success_after_the_booking_is_over_is_refunded_in_full(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    """A seat whose time is over is free to nobody (a delayed 3-D Secure, an event
    redelivered hours later): refunded, never confirmed for an hour already gone."""
    room = {"date": TODAY, "unit": "hour", "start": "09:00", "end": "10:00"}
    late = book(api, member, network["room"], **room)
    clock.advance(minutes=16)
    run_job(api, admin)
    clock.moment = datetime(2026, 12, 1, 12, 0, tzinfo=PARIS)
    intent_id = late["payment"]["payment_intent_id"]

    pay(api, settings, stripe_fake, intent_id)

    assert status_of(ctx, late["booking"]["id"]) == "expired"
    assert [(r.payment_intent, r.amount) for r in stripe_fake.refunds.values()] == [
        (intent_id, 2000)
    ]
    assert sum(r.amount for r in ctx.payments.refunds(intent_id)) == 2000
    assert_money_accounted_for(ctx)


def test_late_success_during_the_booking_rebooks_the_seat_when_still_free(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    room = {"date": TODAY, "unit": "hour", "start": "09:00", "end": "11:00"}
    late = book(api, member, network["room"], **room)
    clock.advance(minutes=16)
    run_job(api, admin)
    clock.moment = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)

    pay(api, settings, stripe_fake, late["payment"]["payment_intent_id"])

    assert status_of(ctx, late["booking"]["id"]) == "confirmed"
    assert stripe_fake.refunds == {}
    assert_money_accounted_for(ctx)


# -- cancellations -----------------------------------------------------------------------


def test_cancel_held_booking_cancels_intent_and_frees_seat(
    api: Api, member: str, network: dict[str, str], stripe_fake: FakeGateway, ctx: Context
) -> None:
    held = book(api, member, network["pool"])
    intent_id = held["payment"]["payment_intent_id"]

    answer = api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)

    assert answer.status == 200, answer.json
    assert answer.json["booking"]["status"] == "cancelled"
    assert answer.json["refund"] is None
    assert stripe_fake.intents[intent_id].status == "canceled"
    assert min_free(api, network["relay"], network["pool"]) == 3
    assert_money_accounted_for(ctx)


def test_cancel_paid_booking_in_time_refunds_in_full(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = paid_booking(api, member, settings, stripe_fake, network["pool"])
    intent_id = held["payment"]["payment_intent_id"]

    answer = api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)

    assert answer.status == 200, answer.json
    assert answer.json["booking"]["status"] == "cancelled"
    assert answer.json["refund"] == {"amount": 1500, "status": "succeeded"}
    assert [(r.payment_intent, r.amount) for r in stripe_fake.refunds.values()] == [
        (intent_id, 1500)
    ]
    assert sum(r.amount for r in ctx.payments.refunds(intent_id)) == 1500
    assert min_free(api, network["relay"], network["pool"]) == 3
    assert_money_accounted_for(ctx)


def test_cancel_paid_booking_exactly_at_the_deadline_refunds_in_full(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    held = paid_booking(api, member, settings, stripe_fake, network["pool"])
    clock.moment = datetime(2026, 12, 2, 8, 0, tzinfo=PARIS)  # exactly 24 h before the start

    answer = api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)

    assert answer.status == 200, answer.json
    assert answer.json["refund"] == {"amount": 1500, "status": "succeeded"}
    assert_money_accounted_for(ctx)


def test_cancel_paid_booking_after_deadline_refunds_nothing(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    held = paid_booking(api, member, settings, stripe_fake, network["pool"])
    clock.moment = datetime(2026, 12, 2, 9, 0, tzinfo=PARIS)  # 23 h before the start

    answer = api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)

    assert answer.status == 200, answer.json
    assert answer.json["booking"]["status"] == "cancelled"
    assert answer.json["refund"] is None
    assert stripe_fake.refunds == {}
    assert "create_refund" not in stripe_fake.calls
    assert ctx.payments.refunds(held["payment"]["payment_intent_id"]) == []
    assert_money_accounted_for(ctx)


def test_cancel_while_stripe_is_down_answers_refund_pending(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = paid_booking(api, member, settings, stripe_fake, network["pool"])
    stripe_fake.unavailable = True

    answer = api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)

    assert answer.status == 200, answer.json
    assert answer.json["booking"]["status"] == "cancelled"
    assert answer.json["refund"] == {"amount": 1500, "status": "pending"}
    assert status_of(ctx, held["booking"]["id"]) == "cancelled"
    assert stripe_fake.refunds == {}
    assert min_free(api, network["relay"], network["pool"]) == 3
    assert_money_accounted_for(ctx)  # owed, and queued for expire_holds


def test_pending_refund_is_made_once_by_expire_holds_when_stripe_is_back(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = paid_booking(api, member, settings, stripe_fake, network["pool"])
    intent_id = held["payment"]["payment_intent_id"]
    stripe_fake.unavailable = True
    api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)
    stripe_fake.unavailable = False

    first = run_job(api, admin)
    second = run_job(api, admin)

    assert first["refunds_settled"] == 1
    assert second["refunds_settled"] == 0
    assert [(r.payment_intent, r.amount) for r in stripe_fake.refunds.values()] == [
        (intent_id, 1500)
    ]
    assert [r.amount for r in ctx.payments.refunds(intent_id)] == [1500]
    assert_money_accounted_for(ctx)


def test_pending_refund_is_not_made_again_after_a_repeated_success_event(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # Cancelled in time while Stripe was down (refund owed), then the success event comes
    # again under a new id once Stripe is back, then expire_holds settles what is owed.
    held = paid_booking(api, member, settings, stripe_fake, network["pool"])
    intent_id = held["payment"]["payment_intent_id"]
    stripe_fake.unavailable = True
    api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)
    stripe_fake.unavailable = False

    deliver(api, settings, "payment_intent.succeeded", stripe_fake.succeed(intent_id))
    run_job(api, admin)

    assert sum(r.amount for r in stripe_fake.refunds.values()) == 1500
    assert sum(r.amount for r in ctx.payments.refunds(intent_id)) == 1500
    assert_money_accounted_for(ctx)


def test_pending_refund_is_not_made_again_after_a_dashboard_refund(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # Cancelled in time while Stripe was down; support refunds it by hand in the
    # dashboard (charge.refunded); then expire_holds runs.
    held = paid_booking(api, member, settings, stripe_fake, network["pool"])
    intent_id = held["payment"]["payment_intent_id"]
    stripe_fake.unavailable = True
    api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)
    stripe_fake.unavailable = False
    charge = {
        "id": f"ch_{intent_id}",
        "object": "charge",
        "payment_intent": intent_id,
        "amount": 1500,
        "amount_refunded": 1500,
        "refunded": True,
        "refunds": {"data": [{"id": "re_dashboard", "amount": 1500, "status": "succeeded"}]},
    }
    assert deliver(api, settings, "charge.refunded", charge).status == 200

    run_job(api, admin)

    assert stripe_fake.refunds == {}
    assert [r.id for r in ctx.payments.refunds(intent_id)] == ["re_dashboard"]
    assert ctx.bookings.refunds_due() == []
    assert_money_accounted_for(ctx)


# -- closures ----------------------------------------------------------------------------


def test_closure_refunds_card_booking_inside_the_cancellation_deadline(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = paid_booking(api, member, settings, stripe_fake, network["pool"], date=TODAY)
    intent_id = held["payment"]["payment_intent_id"]

    closed = api.post(
        f"/v1/relays/{network['relay']}/closures",
        {"date": TODAY, "reason": "Grève SNCF"},
        token=admin,
    )

    assert closed.status == 201, closed.json
    assert closed.json["cancelled_bookings"] == 1
    assert status_of(ctx, held["booking"]["id"]) == "cancelled"
    assert [(r.payment_intent, r.amount) for r in stripe_fake.refunds.values()] == [
        (intent_id, 1500)
    ]
    assert sum(r.amount for r in ctx.payments.refunds(intent_id)) == 1500
    assert_money_accounted_for(ctx)


def test_closing_today_sends_the_member_checked_in_home_with_everything_back(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    """ "Existing bookings that day are cancelled with a full refund or credit restored":
    the member who came (checked in) is sent home by a closure as one not come yet."""
    came = paid_booking(api, member, settings, stripe_fake, network["pool"], date=TODAY)
    buy_pack(api, member, settings, stripe_fake, make_pack(api, admin, network["operator"]))
    by_credits = book(api, member, network["pool"], payment="credits", date=TODAY)
    clock.moment = datetime(2026, 12, 1, 8, 5, tzinfo=PARIS)
    for booking in (came, by_credits):
        answer = api.post(f"/v1/bookings/{booking['booking']['id']}/check-in", token=member)
        assert answer.json["status"] == "checked_in", answer.json
    clock.moment = datetime(2026, 12, 1, 8, 30, tzinfo=PARIS)

    closed = api.post(
        f"/v1/relays/{network['relay']}/closures",
        {"date": TODAY, "reason": "Fuite d'eau"},
        token=admin,
    )

    assert closed.status == 201, closed.json
    assert closed.json["cancelled_bookings"] == 2
    assert {status_of(ctx, b["booking"]["id"]) for b in (came, by_credits)} == {"cancelled"}
    intent_id = came["payment"]["payment_intent_id"]
    assert [(r.payment_intent, r.amount) for r in stripe_fake.refunds.values()] == [
        (intent_id, 1500)
    ]
    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 10
    _, taken = ctx.bookings.occupancy(network["relay"], TODAY)  # every seat given back
    assert all(count == 0 for slots in taken.values() for count in slots.values())
    assert_money_accounted_for(ctx)


def test_closure_restores_credits_inside_the_cancellation_deadline(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    buy_pack(api, member, settings, stripe_fake, make_pack(api, admin, network["operator"]))
    booked = book(api, member, network["pool"], payment="credits", date=TODAY)
    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 9

    closed = api.post(
        f"/v1/relays/{network['relay']}/closures",
        {"date": TODAY, "reason": "Travaux"},
        token=admin,
    )

    assert closed.status == 201, closed.json
    assert status_of(ctx, booked["booking"]["id"]) == "cancelled"
    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 10
    assert_money_accounted_for(ctx)


def test_closure_cancels_the_intent_of_a_held_booking(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    ctx: Context,
) -> None:
    held = book(api, member, network["pool"], date=TODAY)

    closed = api.post(
        f"/v1/relays/{network['relay']}/closures",
        {"date": TODAY, "reason": "Inondation"},
        token=admin,
    )

    assert closed.status == 201, closed.json
    assert status_of(ctx, held["booking"]["id"]) == "cancelled"
    assert stripe_fake.intents[held["payment"]["payment_intent_id"]].status == "canceled"
    assert_money_accounted_for(ctx)


# -- expire_holds ------------------------------------------------------------------------


def test_expire_holds_cancels_the_intent_of_an_expired_hold(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    ctx: Context,
    clock: FixedClock,
) -> None:
    held = book(api, member, network["pool"])
    clock.advance(minutes=16)

    result = run_job(api, admin)

    assert result["processed"] == 1
    assert status_of(ctx, held["booking"]["id"]) == "expired"
    assert stripe_fake.intents[held["payment"]["payment_intent_id"]].status == "canceled"
    assert min_free(api, network["relay"], network["pool"]) == 3


# -- replayed service calls (Lambda retries) ---------------------------------------------


def test_replayed_book_call_opens_no_second_intent(
    api: Api, network: dict[str, str], stripe_fake: FakeGateway, ctx: Context
) -> None:
    principal = Principal(sub=MEMBER)

    first = bookings.book(ctx, principal, card_request(network["pool"]), booking_id="bkg_retry")
    second = bookings.book(ctx, principal, card_request(network["pool"]), booking_id="bkg_retry")

    assert second["booking"]["id"] == first["booking"]["id"] == "bkg_retry"
    assert second["payment"]["payment_intent_id"] == first["payment"]["payment_intent_id"]
    assert stripe_fake.calls.count("create_payment_intent") == 1
    assert len(stripe_fake.intents) == 1
    assert min_free(api, network["relay"], network["pool"]) == 2


def test_booking_retried_after_stripe_outage_takes_one_seat_and_one_intent(
    api: Api, member: str, network: dict[str, str], stripe_fake: FakeGateway, ctx: Context
) -> None:
    body = {"resource_id": network["pool"], "date": DAY, "unit": "day", "payment": "card"}
    headers = {"Idempotency-Key": "book-outage-1"}
    stripe_fake.unavailable = True
    failed = api.post("/v1/bookings", body, token=member, headers=headers)
    stripe_fake.unavailable = False

    retried = api.post("/v1/bookings", body, token=member, headers=headers)

    assert_problem(failed, 503, "service_unavailable")
    assert failed.headers["Retry-After"] == "1"
    assert retried.status == 201, retried.json
    assert retried.json["booking"]["status"] == "held"
    assert retried.json["payment"]["payment_intent_id"] in stripe_fake.intents
    assert len(stripe_fake.intents) == 1
    assert min_free(api, network["relay"], network["pool"]) == 2
    assert_money_accounted_for(ctx)


def test_replayed_release_with_the_same_booking_makes_no_second_refund(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = paid_booking(api, member, settings, stripe_fake, network["pool"])
    booking = ctx.bookings.get(held["booking"]["id"])
    assert booking is not None

    first = bookings.release_with_policy(ctx, booking, force_refund=False)
    with contextlib.suppress(InvalidState):  # the retry may be refused: it changed nothing
        bookings.release_with_policy(ctx, booking, force_refund=False)

    assert first["refund"] == {"amount": 1500, "status": "succeeded"}
    assert stripe_fake.calls.count("create_refund") == 1
    assert len(stripe_fake.refunds) == 1
    assert min_free(api, network["relay"], network["pool"]) == 3
    assert_money_accounted_for(ctx)


def test_replayed_release_after_reading_the_booking_again_frees_nothing_twice(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    # The retry reads the booking afresh (now cancelled) before releasing it again.
    held = paid_booking(api, member, settings, stripe_fake, network["pool"])
    booking = ctx.bookings.get(held["booking"]["id"])
    assert booking is not None
    bookings.release_with_policy(ctx, booking, force_refund=False)
    clock.advance(seconds=5)
    again = ctx.bookings.get(held["booking"]["id"])
    assert again is not None

    with contextlib.suppress(InvalidState):
        bookings.release_with_policy(ctx, again, force_refund=False)

    assert stripe_fake.calls.count("create_refund") == 1
    assert min_free(api, network["relay"], network["pool"]) == 3
    assert_money_accounted_for(ctx)


def test_replayed_webhook_call_makes_no_second_refund(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    room = {"unit": "hour", "start": "10:00", "end": "11:00"}
    late = book(api, member, network["room"], **room)
    clock.advance(minutes=16)
    run_job(api, admin)
    book(api, api.token("member-2"), network["room"], **room)
    intent = stripe_fake.succeed(late["payment"]["payment_intent_id"])
    payload, header = signed_event(
        "payment_intent.succeeded", intent, settings.stripe_webhook_secret
    )

    first = handle_stripe_webhook(ctx, payload, header)
    second = handle_stripe_webhook(ctx, payload, header)

    assert first["outcome"] == "refunded"
    assert second.get("duplicate") is True
    assert stripe_fake.calls.count("create_refund") == 1
    assert len(stripe_fake.refunds) == 1
    assert_money_accounted_for(ctx)


def test_webhook_failing_on_stripe_outage_is_done_on_redelivery(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    # The late payment must be refunded but Stripe is down: the delivery must fail
    # (not 2xx) so that Stripe delivers the same event again later.
    room = {"unit": "hour", "start": "10:00", "end": "11:00"}
    late = book(api, member, network["room"], **room)
    clock.advance(minutes=16)
    run_job(api, admin)
    book(api, api.token("member-2"), network["room"], **room)
    intent = stripe_fake.succeed(late["payment"]["payment_intent_id"])
    payload, header = signed_event(
        "payment_intent.succeeded", intent, settings.stripe_webhook_secret
    )
    headers = {"Stripe-Signature": header}
    stripe_fake.unavailable = True
    failed = api.post("/v1/webhooks/stripe", raw=payload, headers=headers)
    stripe_fake.unavailable = False

    redelivered = api.post("/v1/webhooks/stripe", raw=payload, headers=headers)

    assert failed.status >= 500, failed.json
    assert redelivered.status == 200, redelivered.json
    assert [r.amount for r in stripe_fake.refunds.values()] == [2000]
    assert_money_accounted_for(ctx)


def test_replayed_release_after_reading_the_booking_again_restores_credits_once(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    buy_pack(api, member, settings, stripe_fake, make_pack(api, admin, network["operator"]))
    booked = book(api, member, network["pool"], payment="credits")
    booking = ctx.bookings.get(booked["booking"]["id"])
    assert booking is not None
    bookings.release_with_policy(ctx, booking, force_refund=False)
    clock.advance(seconds=5)
    again = ctx.bookings.get(booked["booking"]["id"])
    assert again is not None

    with contextlib.suppress(InvalidState):
        bookings.release_with_policy(ctx, again, force_refund=False)

    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 10


# -- credits and the wallet --------------------------------------------------------------


def test_booking_with_no_credits_answers_insufficient_credits(
    api: Api, member: str, network: dict[str, str]
) -> None:
    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": DAY, "unit": "day", "payment": "credits"},
        token=member,
    )

    assert_problem(answer, 409, "insufficient_credits")


def test_credits_on_a_meeting_room_answer_422(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    buy_pack(api, member, settings, stripe_fake, make_pack(api, admin, network["operator"]))

    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["room"], "date": DAY, "unit": "half_day_am", "payment": "credits"},
        token=member,
    )

    assert_problem(answer, 422, "validation_error")


def test_oldest_pack_is_used_first(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    product = make_pack(api, admin, network["operator"])
    older = buy_pack(api, member, settings, stripe_fake, product)
    clock.advance(hours=1)
    newer = buy_pack(api, member, settings, stripe_fake, product)

    book(api, member, network["pool"], payment="credits")

    packs = {p["purchase_id"]: p for p in api.get("/v1/wallet", token=member).json["packs"]}
    assert packs[older]["credits_remaining"] == 9
    assert packs[newer]["credits_remaining"] == 10
    assert_money_accounted_for(ctx)


def test_expired_pack_is_not_used(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    expired = buy_pack(
        api, member, settings, stripe_fake, make_pack(api, admin, network["operator"], days=1)
    )
    clock.advance(days=2)
    valid = buy_pack(api, member, settings, stripe_fake, make_pack(api, admin, network["operator"]))

    book(api, member, network["pool"], payment="credits", date="2026-12-04")

    stored = {p.purchase_id: p.credits_remaining for p in ctx.payments.packs_of(MEMBER)}
    assert stored == {expired: Decimal(10), valid: Decimal(9)}
    wallet = api.get("/v1/wallet", token=member).json
    assert wallet["credits_remaining"] == 9
    assert [p["purchase_id"] for p in wallet["packs"]] == [valid]
    assert_money_accounted_for(ctx)


def test_only_an_expired_pack_answers_insufficient_credits(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    clock: FixedClock,
) -> None:
    buy_pack(api, member, settings, stripe_fake, make_pack(api, admin, network["operator"], days=1))
    clock.advance(days=2)

    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": "2026-12-04", "unit": "day", "payment": "credits"},
        token=member,
    )

    assert_problem(answer, 409, "insufficient_credits")


def test_wallet_lists_packs_as_the_contract_says(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    product = make_pack(api, admin, network["operator"])
    purchase = buy_pack(api, member, settings, stripe_fake, product)

    answer = api.get("/v1/wallet", token=member)

    assert answer.status == 200, answer.json
    assert answer.json == {
        "credits_remaining": 10,
        "packs": [
            {
                "purchase_id": purchase,
                "product_id": product,
                "credits_total": 10,
                "credits_remaining": 10,
                "expires_at": answer.json["packs"][0]["expires_at"],
            }
        ],
    }
    expires = datetime.fromisoformat(answer.json["packs"][0]["expires_at"])
    assert expires.utcoffset() is not None
    assert (expires - datetime(2026, 12, 1, 7, 0, tzinfo=PARIS)).days == 180
    assert_money_accounted_for(ctx)


# -- the invariant checker itself --------------------------------------------------------


def test_invariant_checker_flags_a_late_payment_left_unrefunded(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    ctx: Context,
    clock: FixedClock,
) -> None:
    held = book(api, member, network["pool"])
    clock.advance(minutes=16)
    run_job(api, admin)
    intent_id = held["payment"]["payment_intent_id"]
    ctx.payments.mark_succeeded(intent_id, None, clock.now())  # paid, yet neither seat nor refund

    violations = money_violations(ctx)

    assert len(violations) == 1
    assert intent_id in violations[0] and "accounted for by nothing" in violations[0]
    with pytest.raises(AssertionError, match=intent_id):
        assert_money_accounted_for(ctx)


def test_invariant_checker_flags_a_card_booking_confirmed_without_payment(
    api: Api, member: str, network: dict[str, str], ctx: Context
) -> None:
    held = book(api, member, network["pool"])
    booking = ctx.bookings.get(held["booking"]["id"])
    assert booking is not None
    confirmed = booking.model_copy(update={"status": BookingStatus.confirmed})
    ctx.bookings.transition(booking, confirmed)

    violations = money_violations(ctx)

    assert violations == [
        f"booking {booking.id} is confirmed by card (intent {booking.payment_intent_id}) "
        "with payment pending"
    ]
