"""Settlement invoices between operators: the host invoices the seller once per month,
with the ledger entries on both sides, in both operators' FEC."""

from __future__ import annotations

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from chalicelib.services.context import Context
from chalicelib.services.settlement import settle_month, settle_operators
from tests.support.api import Api, operator_body, relay_body, resource_body
from tests.support.einvoicing import cii_failures
from tests.support.fake_stripe import FakeGateway
from tests.support.fec_checker import check_fec
from tests.support.webhooks import deliver


@pytest.fixture
def used_elsewhere(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: FakeGateway,
) -> dict[str, str]:
    """A pack of 10 credits for 120 € sold by the network's operator, one credit used at
    another operator's relay on 3 December 2026."""
    other = api.post(
        "/v1/operators",
        operator_body(name="Commune de Nangis", siren="552100554", invoice_prefix="NG"),
        token=admin,
    ).json
    relay = api.post("/v1/relays", relay_body(other["id"], name="Nangis"), token=admin).json
    pool = api.post(f"/v1/relays/{relay['id']}/resources", resource_body(), token=admin).json
    product = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000},
            "operator_id": network["operator"],
            "credits": 10,
            "validity_days": 180,
        },
        token=admin,
    ).json
    bought = api.post("/v1/purchases", {"product_id": product["id"]}, token=member).json
    deliver(
        api,
        settings,
        "payment_intent.succeeded",
        stripe_fake.succeed(bought["payment"]["payment_intent_id"]),
    )
    answer = api.post(
        "/v1/bookings",
        {"resource_id": pool["id"], "date": "2026-12-03", "unit": "day", "payment": "credits"},
        token=member,
    )
    assert answer.status == 201, answer.json
    return {"seller": network["operator"], "host": other["id"]}


def test_the_host_invoices_the_seller_once_with_entries_on_both_sides(
    ctx: Context,
    api: Api,
    admin: str,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],
) -> None:
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    first = settle_operators(ctx)
    assert (first["month"], first["processed"]) == ("2026-12", 1)
    assert settle_month(ctx, 2026, 12)["invoices"] == []  # idempotent: all settled
    (number,) = first["invoices"]
    host, seller = used_elsewhere["host"], used_elsewhere["seller"]

    items = api.get(f"/v1/invoices?operator_id={host}", token=accountant).json["items"]
    (invoice,) = [d for d in items if d["number"] == number]
    assert invoice["number"].startswith("NG-2027-")  # the host's own numbering
    assert (
        invoice["buyer"]["siren"] == api.get(f"/v1/operators/{seller}", token=admin).json["siren"]
    )
    assert invoice["totals"] == {"excl_vat": 1000, "vat": 200, "incl_vat": 1200}
    assert invoice["payment"]["method"] == "transfer"
    xml = api.get(f"/v1/invoices/{invoice['id']}/xml", token=accountant).body
    assert cii_failures(xml) == []

    host_lines = ctx.invoices.ledger(host, 2027)
    assert {(x.account, x.debit - x.credit) for x in host_lines} == {
        ("411000", 1200),
        ("706000", -1000),
        ("445710", -200),
    }
    seller_lines = ctx.invoices.ledger(seller, 2027)
    assert {(x.journal.value, x.account, x.debit - x.credit) for x in seller_lines} == {
        ("HA", "604000", 1000),
        ("HA", "445660", 200),
        ("HA", "401000", -1200),
    }
    for operator in (host, seller):
        fec = api.get(f"/v1/accounting/fec?operator_id={operator}&year=2027", token=accountant)
        assert number in fec.body.decode()
        name = fec.headers["Content-Disposition"].split('"')[1]
        assert check_fec(fec.body.decode(), name) == []


def test_a_month_without_usage_elsewhere_issues_nothing(ctx: Context, clock: FixedClock) -> None:
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    assert settle_operators(ctx) == {
        "job": "settle_operators",
        "processed": 0,
        "month": "2026-12",
        "invoices": [],
        "late_invoices": [],
    }


def test_the_job_is_scheduled_and_runs_by_hand(api: Api, admin: str) -> None:
    answer = api.post(
        "/v1/admin/jobs/settle_operators", {"as_of": "2027-01-01T03:00:00Z"}, token=admin
    )
    assert (answer.status, answer.json["month"]) == (200, "2026-12")
