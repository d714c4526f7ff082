"""Card bookings, webhooks, packs and refunds through the HTTP API (moto, fake Stripe)."""

from __future__ import annotations

from chalicelib.config import Settings
from tests.support.api import Api
from tests.support.fake_stripe import FakeGateway
from tests.support.webhooks import deliver


def free_seats(api: Api, relay: str, resource: str) -> int:
    day = api.get(f"/v1/availability?date=2026-12-03&relay_id={relay}").json
    slots = next(r for r in day["relays"][0]["resources"] if r["resource_id"] == resource)
    return min(s["free"] for s in slots["slots"])


def test_paid_card_booking_is_confirmed_once_whatever_the_deliveries(
    api: Api, member: str, network: dict, stripe_fake: FakeGateway, settings: Settings
) -> None:
    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": "2026-12-03", "unit": "day", "payment": "card"},
        token=member,
    )
    assert answer.status == 201, answer.json
    payment = answer.json["payment"]
    assert payment["amount"] == 1500 and payment["client_secret"]
    intent = stripe_fake.succeed(payment["payment_intent_id"])
    for _ in range(3):
        assert deliver(api, settings, "payment_intent.succeeded", intent, "evt_same").status == 200
    booking = api.get(f"/v1/bookings/{answer.json['booking']['id']}", token=member).json
    assert booking["status"] == "confirmed"
    assert free_seats(api, network["relay"], network["pool"]) == 2


def test_credit_pack_paid_then_used_then_restored_on_cancel(
    api: Api,
    admin: str,
    member: str,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    product = api.post(
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
    ).json
    bought = api.post("/v1/purchases", {"product_id": product["id"]}, token=member)
    assert bought.status == 201, bought.json
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 10
    booked = api.post(
        "/v1/bookings",
        {
            "resource_id": network["pool"],
            "date": "2026-12-03",
            "unit": "half_day_am",
            "payment": "credits",
        },
        token=member,
    )
    assert booked.status == 201, booked.json
    assert booked.json["booking"]["status"] == "confirmed"
    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 9.5
    cancelled = api.post(f"/v1/bookings/{booked.json['booking']['id']}/cancel", token=member)
    assert cancelled.json["credits_restored"] == 0.5
    assert api.get("/v1/wallet", token=member).json["credits_remaining"] == 10


def test_products_answer_numbers_not_strings(api: Api, admin: str, network: dict) -> None:
    api.post(
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
    product = api.get("/v1/products").json["items"][0]
    assert product["credits"] == 10
    assert product["price"] == {
        "amount": 12000,
        "currency": "EUR",
        "amount_excl_vat": 10000,
        "vat_amount": 2000,
        "vat_rate": "20.00",
    }
