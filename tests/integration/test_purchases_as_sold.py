"""What a purchase sold is what its invoice says, and only what is on sale is sold: a pack
keeps the VAT rate and name it was bought at whatever the product becomes before its
payment lands; a product deactivated a moment ago is not sold by a container whose
catalogue predates it (a purchase reads the stored product)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.services.context import Context
from tests.integration.test_memberships import membership_product
from tests.support.api import Answer, Api, assert_problem
from tests.support.fake_stripe import FakeGateway
from tests.support.webhooks import deliver


def make_pack(api: Api, admin: str, operator: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "credit_pack",
        "name": "10 jours",
        "price": {"amount": 12000, "vat_rate": "20.00"},
        "operator_id": operator,
        "credits": 10,
        "validity_days": 180,
        **overrides,
    }
    answer = api.post("/v1/products", body, token=admin)
    assert answer.status == 201, answer.json
    return dict(answer.json)


def patch_product(api: Api, admin: str, product: dict[str, Any], body: dict[str, Any]) -> Answer:
    answer = api.request(
        "PATCH",
        f"/v1/products/{product['id']}",
        body,
        token=admin,
        headers={"If-Match": f'"{product["version"]}"'},
    )
    assert answer.status == 200, answer.json
    return answer


def member_invoices(api: Api, member: str) -> list[dict[str, Any]]:
    answer = api.get("/v1/invoices", token=member)
    assert answer.status == 200, answer.json
    return list(answer.json["items"])


def test_a_pack_is_invoiced_at_the_vat_rate_it_was_bought_at(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    """API.md: PATCH /v1/products: "existing purchases and memberships keep what they
    bought"; DESIGN.md: "Invoices carry frozen copies of ... lines (VAT rate and amounts)".
    A pack bought at 20 % VAT, whose product is re-priced at 5.5 % before the payment's
    webhook lands, is invoiced at 5.5 % (the rate read from the live catalogue)."""
    pack = make_pack(api, admin, network["operator"])
    bought = api.post("/v1/purchases", {"product_id": pack["id"]}, token=member)
    assert bought.status == 201, bought.json
    assert bought.json["payment"]["amount"] == 12000
    # the admin re-prices the product while the member is paying
    patch_product(api, admin, pack, {"price": {"amount": 9000, "vat_rate": "5.50"}})
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200

    [invoice] = member_invoices(api, member)
    [line] = invoice["lines"]
    assert invoice["totals"]["incl_vat"] == 12000
    # 12000 VAT incl. at 20 % -> 10000 + 2000 (what was sold and paid for)
    assert (line["vat_rate"], invoice["totals"]["vat"]) == ("20.00", 2000)


@pytest.mark.parametrize("kind", ["credit_pack", "membership"])
def test_a_product_deactivated_a_moment_ago_is_not_sold_from_a_stale_catalogue(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    if kind == "credit_pack":
        product = make_pack(api, admin, network["operator"])
        path, body = "/v1/purchases", {"product_id": product["id"]}
    else:
        product_id = membership_product(api, admin, network["operator"])
        product = api.get(f"/v1/products/{product_id}", token=admin).json
        path = "/v1/memberships"
        body = {"product_id": product["id"], "payment_method_type": "card"}
    stale = ctx.catalogue.get()
    patch_product(api, admin, product, {"active": False})
    load = ctx.catalogue.get
    with monkeypatch.context() as cached:  # a container holding the catalogue from before
        cached.setattr(ctx.catalogue, "get", lambda fresh=False: load(True) if fresh else stale)
        answer = api.post(path, body, token=member)
    assert_problem(answer, 409, "invalid_state")
