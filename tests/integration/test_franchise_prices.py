"""A seller under the VAT franchise (art. 293 B du CGI) charges no VAT: every price object
it serves says so, as its invoices do (moto, fake Stripe)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.config import Settings
from tests.support.api import Api, book, operator_body, relay_body, resource_body
from tests.support.fake_stripe import FakeGateway
from tests.support.fake_stripe_memberships import MembershipFakeGateway
from tests.support.webhooks import deliver


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


NO_VAT = {"amount": 12000, "amount_excl_vat": 12000, "vat_amount": 0, "vat_rate": "0.00"}


def a_franchise_network(api: Api, admin: str) -> dict[str, Any]:
    """An association under the franchise, its relay, a hot-desk pool and a pack of 10 days
    whose price was entered with the usual 20 %."""
    body = operator_body(
        name="Association La Gare", siren="552100554", invoice_prefix="AG", vat_regime="franchise"
    )
    del body["vat_number"]
    operator = api.post("/v1/operators", body, token=admin).json
    relay = api.post("/v1/relays", relay_body(operator["id"], name="Nangis"), token=admin).json
    pool = api.post(f"/v1/relays/{relay['id']}/resources", resource_body(), token=admin).json
    pack = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000, "vat_rate": "20.00"},
            "operator_id": operator["id"],
            "credits": 10,
            "validity_days": 365,
        },
        token=admin,
    )
    assert pack.status == 201, pack.json
    return {"operator": operator, "pool": pool, "pack": pack.json}


def price_of(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: answer["price"][k] for k in NO_VAT}


def test_a_franchise_sellers_products_are_served_without_vat(api: Api, admin: str) -> None:
    made = a_franchise_network(api, admin)
    pack = made["pack"]
    assert price_of(pack) == NO_VAT  # the creation answer
    assert price_of(api.get(f"/v1/products/{pack['id']}").json) == NO_VAT
    listed = [p for p in api.get("/v1/products").json["items"] if p["id"] == pack["id"]]
    assert price_of(listed[0]) == NO_VAT
    edited = api.request(
        "PATCH",
        f"/v1/products/{pack['id']}",
        {"price": {"amount": 13000, "vat_rate": "20.00"}},
        token=admin,
        headers={"If-Match": f'"{pack["version"]}"'},
    ).json
    assert price_of(edited) == {**NO_VAT, "amount": 13000, "amount_excl_vat": 13000}


def test_the_price_follows_the_sellers_regime_when_it_leaves_the_franchise(
    api: Api, admin: str
) -> None:
    made = a_franchise_network(api, admin)
    operator = made["operator"]
    left = api.request(
        "PATCH",
        f"/v1/operators/{operator['id']}",
        {"vat_regime": "normal", "vat_number": "FR96552100554"},
        token=admin,
        headers={"If-Match": f'"{operator["version"]}"'},
    )
    assert left.status == 200, left.json
    served = api.get(f"/v1/products/{made['pack']['id']}").json["price"]
    assert (served["amount_excl_vat"], served["vat_amount"], served["vat_rate"]) == (
        10000,
        2000,
        "20.00",
    )


def test_a_franchise_booking_and_its_invoice_carry_no_vat(
    api: Api, admin: str, member: str, settings: Settings, stripe_fake: FakeGateway
) -> None:
    made = a_franchise_network(api, admin)
    answer = book(api, member, made["pool"]["id"], date="2026-12-02", payment="card").json
    assert answer["booking"]["price"] == {
        "amount": 1500,
        "currency": "EUR",
        "amount_excl_vat": 1500,
        "vat_amount": 0,
        "vat_rate": "0.00",
    }
    intent = stripe_fake.succeed(answer["payment"]["payment_intent_id"])
    deliver(api, settings, "payment_intent.succeeded", intent)
    paid = api.get(f"/v1/bookings/{answer['booking']['id']}", token=member).json
    invoice = api.get(f"/v1/invoices/{paid['invoice_id']}", token=member).json
    assert invoice["totals"] == {"excl_vat": 1500, "vat": 0, "incl_vat": 1500}


def test_a_franchise_pack_and_membership_are_sold_without_vat(
    api: Api, admin: str, member: str
) -> None:
    made = a_franchise_network(api, admin)
    monthly = api.post(
        "/v1/products",
        {
            "kind": "membership",
            "name": "Nomade",
            "price": {"amount": 12000},
            "operator_id": made["operator"]["id"],
            "period": "month",
            "days_per_period": None,
        },
        token=admin,
    ).json
    taken = api.post(
        "/v1/memberships",
        {"product_id": monthly["id"], "payment_method_type": "card"},
        token=member,
    )
    assert taken.status == 201, taken.json
    mine = api.get("/v1/memberships", token=member).json["items"]
    assert price_of(mine[0]) == NO_VAT
