"""A membership taken under `make run`, paid through the real Stripe SDK against the
stack's local Stripe: confirming its SetupIntent sends `setup_intent.succeeded` (which
localstripe itself does not: tools/localstripe_server.py), the first period is charged,
the membership is active and books a day."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import stripe

from tests.e2e.conftest import Stack
from tools.localstripe_server import CARD_SUCCEEDS

pytestmark = pytest.mark.e2e
PARIS = ZoneInfo("Europe/Paris")
WAIT = 45.0


def stripe_client(stack: Stack) -> stripe.StripeClient:
    base = f"http://127.0.0.1:{stack.ports['STRIPE_PORT']}"
    return stripe.StripeClient("sk_test_acceptance", base_addresses={"api": base})


def weekday(days_ahead: int) -> str:
    day = dt.datetime.now(PARIS).date() + dt.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day.isoformat()


def wait_for(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = fetch()
    return value


def relay_named(stack: Stack, name: str) -> dict[str, Any]:
    relays = stack.get("/v1/relays", params={"limit": 100}).json()["items"]
    relay = next(r for r in relays if r["name"] == name)
    detail = stack.get(f"/v1/relays/{relay['id']}").json()
    return detail


def pool_of(relay: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in relay["resources"] if r["kind"] == "hot_desk")


def product_named(stack: Stack, name: str) -> dict[str, Any]:
    products = stack.get("/v1/products").json()["items"]
    return next(p for p in products if p["name"] == name)


def book(stack: Stack, token: str, resource_id: str, date: str, payment: str) -> Any:
    body = {"resource_id": resource_id, "date": date, "unit": "day", "payment": payment}
    return stack.post("/v1/bookings", token=token, json=body)


def test_membership_saved_card_at_the_local_stripe_activates_it_and_books_a_day(
    e2e_stack: Stack,
) -> None:
    """API.md (POST /v1/memberships): "When the payment method is saved
    (`setup_intent.succeeded` webhook), the first period is charged off-session; when that
    payment succeeds the status becomes `active`"."""
    stack, client = e2e_stack, stripe_client(e2e_stack)
    member = stack.token(f"acc-mbr-{uuid.uuid4().hex[:8]}")
    product = product_named(stack, "Abonnement illimité")
    created = stack.post(
        "/v1/memberships",
        token=member,
        json={"product_id": product["id"], "payment_method_type": "card"},
    )
    assert created.status_code == 201, created.text
    setup_id = created.json()["setup"]["setup_intent_id"]
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": CARD_SUCCEEDS, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    saved = client.v1.setup_intents.confirm(setup_id, params={"payment_method": method.id})
    assert saved.status == "succeeded"

    memberships = wait_for(
        lambda: stack.get("/v1/memberships", token=member).json()["items"],
        lambda items: any(m["status"] == "active" for m in items),
    )
    assert [m["status"] for m in memberships] == ["active"], memberships
    relay = relay_named(stack, "Gare de Meaux")
    booked = book(stack, member, pool_of(relay)["id"], weekday(9), "membership")
    assert booked.status_code == 201, booked.text
    assert booked.json()["booking"]["status"] == "confirmed"
