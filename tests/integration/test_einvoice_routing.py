"""B2B invoices deposited on the accredited platform (a fake one on loopback that
validates them with the EN 16931 and BR-FR rules) and their lifecycle statuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.services.context import Context
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_ereport_transmission import fake_pa  # noqa: F401
from tests.integration.test_invoicing_flow import paid_booking
from tests.support.api import Api
from tests.support.fake_pa import FakePlatform


def route(api: Api, admin: str) -> dict[str, Any]:
    answer = api.post("/v1/admin/jobs/route_einvoices", {}, token=admin)
    assert answer.status == 200, answer.json
    return dict(answer.json)


def lifecycle(api: Api, token: str, invoice_id: str) -> dict[str, Any]:
    answer = api.get(f"/v1/invoices/{invoice_id}/lifecycle", token=token)
    assert answer.status == 200, answer.json
    return dict(answer.json)


@pytest.fixture
def deposited(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> Iterator[dict[str, Any]]:
    assert route(api, admin)["deposited"] == 1
    yield invoiced


def test_a_company_invoice_is_deposited_once_as_a_valid_cii_flow(
    api: Api,
    admin: str,
    deposited: dict[str, Any],
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    assert route(api, admin)["deposited"] == 0
    (flow,) = fake_pa.flows.values()
    assert (flow["trackingId"], flow["flowSyntax"], flow["processingRule"]) == (
        deposited["id"],
        "CII",
        "B2B",
    )
    state = lifecycle(api, admin, deposited["id"])
    assert (state["status"], state["flow_id"]) == ("200", flow["flowId"])


def test_statuses_reported_by_the_platform_are_added_once_each(
    api: Api,
    admin: str,
    deposited: dict[str, Any],
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    fake_pa.report(deposited["id"], "202")
    fake_pa.report(deposited["id"], "205")
    route(api, admin)
    route(api, admin)
    history = lifecycle(api, admin, deposited["id"])["history"]
    assert [(h["code"], h["label"]) for h in history] == [
        ("200", "Déposée"),
        ("202", "Reçue"),
        ("205", "Approuvée"),
    ]


def test_a_consumer_invoice_is_not_routed(
    api: Api,
    admin: str,
    member: str,
    network: dict,
    stripe_fake: Any,
    settings: Any,
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    booking = paid_booking(api, member, network, stripe_fake, settings)
    route(api, admin)
    assert fake_pa.flows == {}
    assert lifecycle(api, admin, booking["invoice_id"])["routed"] is False


def test_a_platform_refusal_is_recorded_as_rejected(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    fake_pa.failures = [400]
    assert route(api, admin)["rejected"] == 1
    assert lifecycle(api, admin, invoiced["id"])["status"] == "213"


def test_unknown_invoices_have_no_lifecycle(api: Api, admin: str, ctx: Context) -> None:
    assert api.get("/v1/invoices/inv-nope-2026-000001/lifecycle", token=admin).status == 404
