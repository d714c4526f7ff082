"""Invoices to a public body (a commune) go to Chorus Pro, by the buyer's SIRET, with its
service code (BT-10) and commitment number (BT-13), through the same flow port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.invoice_cii import cii_xml
from chalicelib.services.context import Context
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company_body,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_einvoice_routing import lifecycle, route
from tests.integration.test_ereport_transmission import fake_pa  # noqa: F401
from tests.support.api import Api
from tests.support.fake_pa import CLIENT_ID, CLIENT_SECRET, FakePlatform

COMMUNE_SIREN, COMMUNE_SIRET = "217700004", "21770000410004"
PUBLIC = {
    "name": "Commune de Brie",
    "siren": COMMUNE_SIREN,
    "vat_number": None,
    "public_body": True,
    "siret": COMMUNE_SIRET,
    "service_code": "SERVICE-TIERS-LIEU",
    "engagement_number": "EJ-2026-0042",
}


@pytest.fixture
def company(api: Api, admin: str, network: dict[str, str]) -> dict[str, Any]:
    answer = api.post("/v1/companies", company_body(network["operator"], **PUBLIC), token=admin)
    assert answer.status == 201, answer.json
    return dict(answer.json)


def deployment_chorus(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, secret: dict[str, str]
) -> Iterator[FakePlatform]:
    """The deployment's Chorus Pro account on a fake platform, its secret as `secret` sets."""
    fake = FakePlatform()
    for name, value in {
        "chorus_pro_url": fake.url,
        "chorus_pro_token_url": f"{fake.url}/token",
        "chorus_pro_client_id": CLIENT_ID,
        **secret,
    }.items():
        monkeypatch.setattr(ctx.settings, name, value)
    yield fake
    fake.close()


@pytest.fixture
def chorus(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatform]:
    yield from deployment_chorus(ctx, monkeypatch, {"chorus_pro_client_secret": CLIENT_SECRET})


def test_a_commune_invoice_goes_to_chorus_pro_with_its_service_and_commitment(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
    chorus: FakePlatform,
) -> None:
    assert invoiced["buyer"]["siret"] == COMMUNE_SIRET
    assert route(api, admin)["deposited"] == 1

    assert fake_pa.flows == {}  # not the operator's platform
    (flow,) = chorus.flows.values()  # validated there: EN 16931 + BR-FR, zero failure
    assert (flow["trackingId"], flow["processingRule"]) == (invoiced["id"], "B2G")
    xml = cii_xml(invoiced).decode()
    assert "<ram:BuyerReference>SERVICE-TIERS-LIEU</ram:BuyerReference>" in xml
    assert "<ram:IssuerAssignedID>EJ-2026-0042</ram:IssuerAssignedID>" in xml
    assert f'<ram:GlobalID schemeID="0009">{COMMUNE_SIRET}</ram:GlobalID>' in xml
    chorus.report(invoiced["id"], "205")
    route(api, admin)
    assert [h["code"] for h in lifecycle(api, admin, invoiced["id"])["history"]] == ["200", "205"]


def test_without_chorus_pro_a_commune_invoice_waits_with_its_reason(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    assert route(api, admin)["not_configured"] == 1
    assert fake_pa.flows == {}
    assert lifecycle(api, admin, invoiced["id"])["error"] == {"code": "chorus_not_configured"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"public_body": True, "siret": None}, "siret"),
        ({"siret": "55210055400013"}, "siret"),  # another SIREN's establishment
        ({"siret": "21770000410005"}, "siret"),  # bad check digit
        ({"service_code": ""}, "service_code"),
    ],
)
def test_public_buyer_fields_are_checked(
    api: Api, admin: str, network: dict[str, str], fields: dict[str, Any], field: str
) -> None:
    body = company_body(network["operator"], **{**PUBLIC, **fields})
    answer = api.post("/v1/companies", body, token=admin)
    assert answer.status == 422, answer.json
    assert field in [e["field"] for e in answer.json["errors"]]


def test_a_company_becomes_a_public_buyer_by_patch_and_needs_its_siret(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    created = api.post("/v1/companies", company_body(network["operator"]), token=admin).json
    path, match = f"/v1/companies/{created['id']}", {"If-Match": f'"{created["version"]}"'}

    refused = api.request("PATCH", path, {"public_body": True}, token=admin, headers=match)
    assert refused.status == 422 and refused.json["errors"][0]["field"] == "siret"

    fields = {"public_body": True, "siret": "55210055400013", "service_code": "DSI"}
    answer = api.request("PATCH", path, fields, token=admin, headers=match)
    assert answer.status == 200, answer.json
    assert (answer.json["public_body"], answer.json["siret"]) == (True, "55210055400013")


@pytest.fixture
def chorus_without_secret(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatform]:
    """As on AWS: the secret's SSM parameter named by the template, never created."""
    parameter = {"chorus_pro_client_secret_parameter": "/relais-test/einvoicing/chorus"}
    yield from deployment_chorus(ctx, monkeypatch, parameter)


def test_a_chorus_account_without_its_secret_keeps_the_invoice_waiting_and_says_why(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
    chorus_without_secret: FakePlatform,
) -> None:
    assert route(api, admin)["not_configured"] == 1
    assert chorus_without_secret.flows == {}

    state = lifecycle(api, admin, invoiced["id"])

    assert state["error"] == {"code": "chorus_not_configured"}, state
