"""Settlement between operators from real bookings (moto, fake Stripe)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.config import Settings
from tests.support.api import Api, another_operators_pool
from tests.support.fake_stripe import FakeGateway
from tests.support.webhooks import deliver


def a_pack_and_another_operators_relay(
    api: Api,
    admin: str,
    member: str,
    network: dict,
    settings: Settings,
    stripe_fake: FakeGateway,
    credits: int = 10,
    price: int = 12000,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A second operator with a relay and its pool (answered), and a pack of `credits`
    (10 for 120 € by default) sold by the first operator, bought and paid by `member`."""
    other, pool = another_operators_pool(api, admin)
    product = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": f"{credits} jours",
            "price": {"amount": price},
            "operator_id": network["operator"],
            "credits": credits,
            "validity_days": 180,
        },
        token=admin,
    ).json
    bought = api.post("/v1/purchases", {"product_id": product["id"]}, token=member).json
    intent = stripe_fake.succeed(bought["payment"]["payment_intent_id"])
    deliver(api, settings, "payment_intent.succeeded", intent)
    return other, pool


def test_credits_sold_by_one_operator_used_at_anothers_relay_are_owed_to_it(
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    network: dict,
    settings: Settings,
    stripe_fake: FakeGateway,
) -> None:
    # GIVEN a second operator with its own relay, and a pack sold by the first operator
    other, pool = a_pack_and_another_operators_relay(
        api, admin, member, network, settings, stripe_fake
    )
    # WHEN the member uses a day at the other operator's relay and a half day at home
    for resource, unit in ((pool["id"], "day"), (network["pool"], "half_day_am")):
        answer = api.post(
            "/v1/bookings",
            {"resource_id": resource, "date": "2026-12-03", "unit": unit, "payment": "credits"},
            token=member,
        )
        assert answer.status == 201, answer.json
    # THEN the seller owes the host one credit's worth, and nothing for the home use
    report = api.get("/v1/accounting/clearing?month=2026-12", token=accountant).json
    assert report["balances"] == [
        {
            "from_operator_id": network["operator"],
            "to_operator_id": other["id"],
            "amount": 1200,
            "currency": "EUR",
        }
    ]
    csv = api.get("/v1/accounting/clearing?month=2026-12&format=csv", token=accountant)
    assert csv.body.decode().splitlines()[1] == f"{network['operator']};{other['id']};12,00"
    assert api.get("/v1/accounting/clearing?month=2026-12", token=member).status == 403


def test_membership_days_used_at_another_operators_relay_are_owed_to_it(
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    network: dict,
    ctx: Any,
    monkeypatch: Any,
) -> None:
    # GIVEN a booking at another operator's relay covered by an 8-day membership of 120 €
    from types import SimpleNamespace

    other, pool = another_operators_pool(api, admin)
    booked = api.post(
        "/v1/bookings",
        {"resource_id": pool["id"], "date": "2026-12-03", "unit": "day", "payment": "none"},
        token=admin,
    ).json
    stored = ctx.bookings.get(booked["booking"]["id"])
    ctx.table.table.update_item(
        Key={"PK": f"BOOKING#{stored.id}", "SK": "BOOKING"},
        UpdateExpression="SET membership_id = :m",
        ExpressionAttributeValues={":m": "mbr_1"},
    )
    plan = SimpleNamespace(
        operator_id=network["operator"], amount=12000, days_per_period=Decimal(8)
    )
    monkeypatch.setattr(ctx, "memberships", SimpleNamespace(get=lambda member, mid: plan))
    # WHEN the month is settled
    report = api.get("/v1/accounting/clearing?month=2026-12", token=accountant).json
    # THEN the seller of the membership owes the host one day of it
    assert report["balances"] == [
        {
            "from_operator_id": network["operator"],
            "to_operator_id": other["id"],
            "amount": 1500,
            "currency": "EUR",
        }
    ]


@pytest.mark.parametrize(("day", "owed"), [("2026-12-01", 1200), ("2026-12-04", None)])
def test_credits_of_a_booking_cancelled_too_late_are_used_in_the_clearing(
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    network: dict,
    settings: Settings,
    stripe_fake: FakeGateway,
    day: str,
    owed: int | None,
) -> None:
    # GIVEN a pack sold by the first operator, and a relay of another operator
    other, pool = a_pack_and_another_operators_relay(
        api, admin, member, network, settings, stripe_fake
    )
    # WHEN a day there is booked with a credit and cancelled: today's too late (the credit
    # is spent), Friday's in time (the credit comes back)
    body = {"resource_id": pool["id"], "date": day, "unit": "day", "payment": "credits"}
    booking = api.post("/v1/bookings", body, token=member).json["booking"]
    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", {}, token=member).json
    assert cancelled["credits_restored"] == (0 if owed else 1)
    # THEN the seller owes the host the credit it kept, and nothing for one given back
    report = api.get("/v1/accounting/clearing?month=2026-12", token=accountant).json
    expected = [
        {
            "from_operator_id": network["operator"],
            "to_operator_id": other["id"],
            "amount": owed,
            "currency": "EUR",
        }
    ]
    assert report["balances"] == (expected if owed else [])


def test_a_pack_used_up_at_another_operators_relay_is_owed_exactly_its_price(
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    network: dict,
    settings: Settings,
    stripe_fake: FakeGateway,
) -> None:
    """3 credits for 100.00 € used as six half days: 10000 owed, not six shares rounded
    alone (10002)."""
    other, pool = a_pack_and_another_operators_relay(
        api, admin, member, network, settings, stripe_fake, credits=3, price=10000
    )
    for day in ("2026-12-02", "2026-12-03", "2026-12-04"):
        for unit in ("half_day_am", "half_day_pm"):
            body = {"resource_id": pool["id"], "date": day, "unit": unit, "payment": "credits"}
            assert api.post("/v1/bookings", body, token=member).status == 201
    report = api.get("/v1/accounting/clearing?month=2026-12", token=accountant).json
    (flow,) = report["flows"]
    assert (flow["host_operator_id"], flow["amount"], flow["bookings"]) == (other["id"], 10000, 6)
