"""Stripe webhooks through the HTTP API and the service (moto, fake Stripe gateway).

"Each event takes effect exactly once, whatever the order and the number of deliveries"
(API.md, Stripe webhooks): repeated and reordered deliveries, signature checks, and what
each handled event type does to bookings and payment records. Concurrent deliveries are
raced on DynamoDB Local (ddblocal/test_webhook_races.py): moto is not thread-safe.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.services.context import Context
from tests.support.api import Api, assert_problem, free_seats
from tests.support.fake_stripe import FakeGateway, signed_event
from tests.support.invariants import assert_money_accounted_for
from tests.support.webhooks import deliver

DAY = "2026-12-03"  # Thursday; the test clock is Tuesday 2026-12-01 07:00 Paris
WEBHOOK = "/v1/webhooks/stripe"


# -- helpers -----------------------------------------------------------------------------


def book_by_card(api: Api, token: str, resource: str, **fields: Any) -> dict[str, Any]:
    body = {"resource_id": resource, "date": DAY, "unit": "day", "payment": "card", **fields}
    answer = api.post("/v1/bookings", body, token=token)
    assert answer.status == 201, answer.json
    assert answer.json["booking"]["status"] == "held"
    return dict(answer.json)


def seats_left(api: Api, network: dict[str, str]) -> int:
    return min(free_seats(api, network["relay"], network["pool"], DAY).values())


def refunded_charge(
    intent: dict[str, Any], refund_id: str, *, with_refund_list: bool = True
) -> dict[str, Any]:
    """The `charge.refunded` object Stripe sends after a full refund (dashboard or API).

    Since API version 2022-11-15 a charge no longer embeds its `refunds` list unless
    expanded: `with_refund_list=False` sends what current API versions send.
    """
    charge = {
        "id": intent["latest_charge"],
        "object": "charge",
        "payment_intent": intent["id"],
        "amount": intent["amount"],
        "amount_refunded": intent["amount"],
        "currency": "eur",
        "refunded": True,
        "status": "succeeded",
        "refunds": {
            "object": "list",
            "data": [
                {
                    "id": refund_id,
                    "object": "refund",
                    "amount": intent["amount"],
                    "charge": intent["latest_charge"],
                    "payment_intent": intent["id"],
                    "status": "succeeded",
                }
            ],
        },
    }
    if not with_refund_list:
        del charge["refunds"]
    return charge


def failed_intent(intent_id: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "status": "requires_payment_method",
        "amount": 1500,
        "currency": "eur",
        "metadata": metadata,
        "last_payment_error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
        },
    }


@pytest.fixture
def pack(api: Api, admin: str, network: dict[str, str]) -> dict[str, Any]:
    answer = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000, "vat_rate": "20.00"},
            "operator_id": network["operator"],
            "credits": 10,
            "validity_days": 180,
        },
        token=admin,
    )
    assert answer.status == 201, answer.json
    return dict(answer.json)


# -- repeated and concurrent deliveries --------------------------------------------------


def test_same_event_delivered_three_times_confirms_the_booking_once(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])

    answers = [
        deliver(api, settings, "payment_intent.succeeded", intent, event_id="evt_thrice")
        for _ in range(3)
    ]

    assert [a.status for a in answers] == [200, 200, 200]
    booking = ctx.bookings.get(held["booking"]["id"])
    assert booking is not None and booking.status == "confirmed"
    assert seats_left(api, network) == 2
    assert stripe_fake.refunds == {}
    assert_money_accounted_for(ctx)


def test_same_pack_payment_event_delivered_three_times_grants_credits_once(
    api: Api,
    member: str,
    pack: dict[str, Any],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    bought = api.post("/v1/purchases", {"product_id": pack["id"]}, token=member)
    assert bought.status == 201, bought.json
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])

    for _ in range(3):
        answer = deliver(api, settings, "payment_intent.succeeded", intent, event_id="evt_pack3")
        assert answer.status == 200, answer.json

    wallet = api.get("/v1/wallet", token=member).json
    assert wallet["credits_remaining"] == 10
    assert len(wallet["packs"]) == 1
    assert_money_accounted_for(ctx)


def test_a_delivery_waiting_on_a_concurrent_one_that_fails_processes_the_event(
    api: Api,
    member: str,
    pack: dict[str, Any],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stripe retries a slow first attempt while it still runs; that attempt then fails.
    Answering the retry as a duplicate (200) would tell Stripe the event was delivered,
    and nothing would ever deliver it again: the retry waits, then processes it."""
    bought = api.post("/v1/purchases", {"product_id": pack["id"]}, token=member)
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    # GIVEN a first attempt in flight (its claim taken), which fails while the retry waits
    assert ctx.payments.claim_event("evt_slow", ctx.clock.now().timestamp()) == "claimed"
    waits: list[float] = []

    def first_attempt_fails(seconds: float) -> None:
        waits.append(seconds)
        ctx.payments.release_event("evt_slow")

    monkeypatch.setattr("chalicelib.services.webhooks.time.sleep", first_attempt_fails)
    # WHEN the retry arrives
    answer = deliver(api, settings, "payment_intent.succeeded", intent, event_id="evt_slow")
    # THEN it processes the event: the credits are granted once
    assert (answer.status, answer.json.get("outcome"), len(waits)) == (200, "granted", 1)
    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 10


def test_a_delivery_still_in_flight_elsewhere_after_the_wait_is_asked_again_later(
    api: Api,
    member: str,
    pack: dict[str, Any],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bought = api.post("/v1/purchases", {"product_id": pack["id"]}, token=member)
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    assert ctx.payments.claim_event("evt_stuck", ctx.clock.now().timestamp()) == "claimed"
    monkeypatch.setattr("chalicelib.services.webhooks.BUSY_WAIT_SECONDS", 0.0)

    answer = deliver(api, settings, "payment_intent.succeeded", intent, event_id="evt_stuck")

    assert_problem(answer, 503, "service_unavailable")
    assert answer.headers["Retry-After"] == "60"
    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 0


def test_an_event_whose_done_mark_failed_is_given_back_and_redelivered_to_effect_once(
    api: Api,
    member: str,
    pack: dict[str, Any],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bought = api.post("/v1/purchases", {"product_id": pack["id"]}, token=member)
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    # GIVEN the event handled, but its "done" mark throttled
    with monkeypatch.context() as throttled:

        def finish_fails(event_id: str, outcome: str) -> None:
            raise ctx.table.exceptions.ProvisionedThroughputExceededException(
                {"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem"
            )

        throttled.setattr(ctx.payments, "finish_event", finish_fails)
        first = deliver(api, settings, "payment_intent.succeeded", intent, event_id="evt_mark")
    assert_problem(first, 503, "service_unavailable")
    # WHEN Stripe delivers it again, THEN it is answered at once, and took effect once
    again = deliver(api, settings, "payment_intent.succeeded", intent, event_id="evt_mark")
    assert again.status == 200, again.json
    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 10
    assert len(api.get("/v1/wallet", token=member).json["packs"]) == 1


def test_success_delivered_twice_under_different_event_ids_confirms_once(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])

    first = deliver(api, settings, "payment_intent.succeeded", intent, event_id="evt_a")
    second = deliver(api, settings, "payment_intent.succeeded", intent, event_id="evt_b")

    assert (first.status, second.status) == (200, 200)
    booking = ctx.bookings.get(held["booking"]["id"])
    assert booking is not None and booking.status == "confirmed"
    assert seats_left(api, network) == 2
    assert stripe_fake.refunds == {}
    assert "create_refund" not in stripe_fake.calls
    assert_money_accounted_for(ctx)


# -- order -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order",
    [
        ("payment_intent.succeeded", "charge.refunded"),
        ("charge.refunded", "payment_intent.succeeded"),
    ],
    ids=["succeeded_then_refunded", "refunded_then_succeeded"],
)
@pytest.mark.parametrize("with_refund_list", [True, False], ids=["refund_list", "amount_only"])
def test_full_refund_in_either_order_cancels_booking_and_frees_seat(
    order: tuple[str, str],
    with_refund_list: bool,
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    objects = {
        "payment_intent.succeeded": intent,
        "charge.refunded": refunded_charge(
            intent, "re_dashboard_1", with_refund_list=with_refund_list
        ),
    }

    for event_type in order:
        answer = deliver(api, settings, event_type, objects[event_type])
        assert answer.status == 200, answer.json

    booking = ctx.bookings.get(held["booking"]["id"])
    assert booking is not None and booking.status == "cancelled"
    assert seats_left(api, network) == 3
    assert [r.amount for r in ctx.payments.refunds(intent["id"])] == [1500]
    assert_money_accounted_for(ctx)


@pytest.mark.parametrize("with_refund_list", [True, False], ids=["refund_list", "amount_only"])
def test_charge_refunded_echoing_our_own_refund_records_nothing_more(
    with_refund_list: bool,
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    deliver(api, settings, "payment_intent.succeeded", intent)
    cancelled = api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)
    assert cancelled.json["refund"] == {"amount": 1500, "status": "succeeded"}, cancelled.json
    (refund_id,) = stripe_fake.refunds

    answer = deliver(
        api,
        settings,
        "charge.refunded",
        refunded_charge(intent, refund_id, with_refund_list=with_refund_list),
    )

    assert answer.status == 200, answer.json
    assert [r.amount for r in ctx.payments.refunds(intent["id"])] == [1500]
    payment = ctx.payments.payment(intent["id"])
    assert payment is not None and payment.refunded_amount == 1500
    assert_money_accounted_for(ctx)


def test_charge_refunded_handled_while_our_refund_is_recorded_gives_one_refund_one_note(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`charge.refunded` as current API versions send it (`amount_refunded`, no refunds)
    handled by another Lambda between Stripe creating our refund and the cancellation
    recording it (or before a retry after a crash records it): the refund is recorded
    once, under its own id, with one credit note."""
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    create_refund = stripe_fake.create_refund

    def refund_then_webhook(**kwargs: Any) -> Any:
        refund = create_refund(**kwargs)
        charge = refunded_charge(intent, refund.id, with_refund_list=False)
        assert deliver(api, settings, "charge.refunded", charge).status == 200
        return refund

    with monkeypatch.context() as racing:
        racing.setattr(stripe_fake, "create_refund", refund_then_webhook)
        cancelled = api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)
    assert cancelled.status == 200, cancelled.json

    (refund_id,) = stripe_fake.refunds
    recorded = [(r.id, r.amount, r.reason) for r in ctx.payments.refunds(intent["id"])]
    assert recorded == [(refund_id, 1500, "requested_by_customer")]
    payment = ctx.payments.payment(intent["id"])
    assert payment is not None and payment.refunded_amount == 1500
    notes = api.get("/v1/invoices?type=credit_note", token=member).json["items"]
    assert len(notes) == 1
    assert_money_accounted_for(ctx)


def test_success_arriving_after_held_booking_was_cancelled_is_refunded(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # The customer paid while cancelling: the intent could no longer be cancelled.
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)

    answer = deliver(api, settings, "payment_intent.succeeded", intent)

    assert answer.status == 200, answer.json
    booking = ctx.bookings.get(held["booking"]["id"])
    assert booking is not None and booking.status == "cancelled"
    assert [(r.payment_intent, r.amount) for r in stripe_fake.refunds.values()] == [
        (intent["id"], 1500)
    ]
    assert seats_left(api, network) == 3
    assert_money_accounted_for(ctx)


def test_full_refund_of_a_pack_purchase_leaves_the_money_accounted_for(
    api: Api,
    member: str,
    pack: dict[str, Any],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # Refunded from the dashboard after the credits were granted: the member must not
    # keep both the money and the credits.
    bought = api.post("/v1/purchases", {"product_id": pack["id"]}, token=member)
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    deliver(api, settings, "payment_intent.succeeded", intent)

    answer = deliver(api, settings, "charge.refunded", refunded_charge(intent, "re_pack_1"))

    assert answer.status == 200, answer.json
    assert [r.amount for r in ctx.payments.refunds(intent["id"])] == [12000]
    assert_money_accounted_for(ctx)
    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 0


def test_failure_delivered_after_success_leaves_payment_succeeded(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # A first attempt declined, a second one paid; Stripe delivers them out of order.
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    deliver(api, settings, "payment_intent.succeeded", intent)

    answer = deliver(
        api,
        settings,
        "payment_intent.payment_failed",
        failed_intent(intent["id"], intent["metadata"]),
    )

    assert answer.status == 200, answer.json
    payment = ctx.payments.payment(intent["id"])
    assert payment is not None and payment.status == "succeeded"
    booking = ctx.bookings.get(held["booking"]["id"])
    assert booking is not None and booking.status == "confirmed"
    assert_money_accounted_for(ctx)


# -- signatures --------------------------------------------------------------------------


def test_forged_signature_is_refused_and_changes_nothing(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    ctx: Context,
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    payload, header = signed_event("payment_intent.succeeded", intent, "whsec_forged")

    answer = api.post(WEBHOOK, raw=payload, headers={"Stripe-Signature": header})

    assert_problem(answer, 400, "invalid_signature")
    booking = ctx.bookings.get(held["booking"]["id"])
    assert booking is not None and booking.status == "held"


@pytest.mark.parametrize("offset", [-600, 600], ids=["ten-minutes-old", "ten-minutes-ahead"])
def test_signature_outside_the_300_seconds_tolerance_is_refused(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    offset: int,
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    payload, header = signed_event(
        "payment_intent.succeeded",
        intent,
        settings.stripe_webhook_secret,
        timestamp=int(time.time()) + offset,
    )

    answer = api.post(WEBHOOK, raw=payload, headers={"Stripe-Signature": header})

    assert_problem(answer, 400, "invalid_signature")


def test_a_signature_header_that_is_not_ascii_is_refused(api: Api, settings: Settings) -> None:
    """The SDK's compare_digest raises TypeError on such a str: a 400, never a 500."""
    payload, header = signed_event("ping.test", {"id": "x"}, settings.stripe_webhook_secret)
    odd = header.replace("v1=", "v1=\u00e9", 1)

    answer = api.post(WEBHOOK, raw=payload, headers={"Stripe-Signature": odd})

    assert_problem(answer, 400, "invalid_signature")


def test_missing_signature_header_is_refused(
    api: Api, member: str, network: dict[str, str], stripe_fake: FakeGateway, settings: Settings
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    payload, _header = signed_event(
        "payment_intent.succeeded", intent, settings.stripe_webhook_secret
    )

    answer = api.post(WEBHOOK, raw=payload)

    assert_problem(answer, 400, "invalid_signature")


@pytest.mark.parametrize(
    "obj", ["x", [], {"id": "pi_1", "metadata": "nope"}, {"id": "dp_1", "evidence_details": 1}]
)
def test_a_signed_event_whose_object_is_not_stripes_is_a_400_not_a_500(
    api: Api, settings: Settings, obj: Any
) -> None:
    payload, header = signed_event("payment_intent.succeeded", obj, settings.stripe_webhook_secret)

    answer = api.post(WEBHOOK, raw=payload, headers={"Stripe-Signature": header})

    assert_problem(answer, 400, "invalid_signature")


def test_unknown_event_type_is_acknowledged(api: Api, settings: Settings) -> None:
    answer = deliver(api, settings, "customer.created", {"id": "cus_1", "object": "customer"})

    assert answer.status == 200, answer.json


# -- what each event does ----------------------------------------------------------------


def test_payment_failed_keeps_booking_held_and_records_failure(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent_id = held["payment"]["payment_intent_id"]

    answer = deliver(
        api,
        settings,
        "payment_intent.payment_failed",
        failed_intent(intent_id, stripe_fake.intents[intent_id].metadata),
    )

    assert answer.status == 200, answer.json
    booking = ctx.bookings.get(held["booking"]["id"])
    assert booking is not None and booking.status == "held"
    assert seats_left(api, network) == 2
    payment = ctx.payments.payment(intent_id)
    assert payment is not None and payment.status == "failed"
    assert payment.failure_message == "Your card was declined."
    assert_money_accounted_for(ctx)


def test_dispute_flags_booking_which_admin_still_reads(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    deliver(api, settings, "payment_intent.succeeded", intent)
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "amount": 1500,
        "currency": "eur",
        "charge": intent["latest_charge"],
        "payment_intent": intent["id"],
        "reason": "fraudulent",
        "status": "needs_response",
    }

    answer = deliver(api, settings, "charge.dispute.created", dispute)

    assert answer.status == 200, answer.json
    stored = ctx.bookings.get(held["booking"]["id"])
    assert stored is not None and stored.disputed is True
    assert stored.status == "confirmed"
    payment = ctx.payments.payment(intent["id"])
    assert payment is not None and payment.disputed is True
    seen = api.get(f"/v1/bookings/{held['booking']['id']}", token=admin)
    assert seen.status == 200, seen.json
    assert seen.json["disputed"] is True
    assert_money_accounted_for(ctx)
