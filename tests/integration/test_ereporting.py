"""B2C e-reporting files from real flows: valid flux 10.3 / 10.4, IN then RE, listed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.domain.ereporting import month_period
from chalicelib.domain.timezones import PARIS
from chalicelib.services.context import Context
from tests.integration.test_invoicing_flow import paid_booking
from tests.support.api import Api
from tests.support.einvoicing import flux10_failures
from tests.support.fake_stripe import FakeGateway


@pytest.fixture(autouse=True)
def platform(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx.settings, "ereporting_platform_id", "2728")
    monkeypatch.setattr(ctx.settings, "ereporting_platform_name", "PA de test")


def run_job(api: Api, admin: str, after: date) -> dict[str, Any]:
    as_of = datetime.combine(after + timedelta(days=1), time(4), PARIS).isoformat()
    answer = api.post("/v1/admin/jobs/produce_ereports", {"as_of": as_of}, token=admin)
    assert answer.status == 200, answer.json
    assert answer.json["job"] == "produce_ereports"
    assert answer.json["processed"] >= answer.json["produced"]
    return dict(answer.json)


def month_end(day: date) -> date:
    return month_period(day).end


def reports(ctx: Context, operator_id: str) -> list[dict[str, Any]]:
    return sorted(ctx.ereports.all(operator_id), key=lambda r: (r["kind"], r["sequence"]))


@pytest.fixture
def sold(
    api: Api, member: str, network: dict, stripe_fake: FakeGateway, settings: Settings
) -> dict[str, Any]:
    booking = paid_booking(api, member, network, stripe_fake, settings)
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=member).json
    return {"booking": booking, "day": date.fromisoformat(invoice["issued_at"][:10])}


def test_a_closed_period_gets_valid_transactions_and_payments_reports(
    api: Api, admin: str, ctx: Context, network: dict, sold: dict[str, Any]
) -> None:
    assert run_job(api, admin, month_end(sold["day"]))["produced"] == 2
    made = reports(ctx, network["operator"])
    assert [(r["kind"], r["type_code"]) for r in made] == [
        ("payments", "IN"),
        ("transactions", "IN"),
    ]
    for report in made:
        assert flux10_failures(report["xml"].encode()) == []


def test_the_transactions_report_sums_the_day_per_rate(
    api: Api, admin: str, ctx: Context, network: dict, sold: dict[str, Any]
) -> None:
    run_job(api, admin, month_end(sold["day"]))
    (transactions,) = [r for r in reports(ctx, network["operator"]) if r["kind"] == "transactions"]
    xml = transactions["xml"]
    assert "<TaxExclusiveAmount>12.50</TaxExclusiveAmount>" in xml
    assert "<TaxTotal>2.50</TaxTotal>" in xml
    assert "<CategoryCode>TPS1</CategoryCode>" in xml
    assert '<Id schemeId="0002">732829320</Id>' in xml


def test_a_refund_in_a_reported_period_makes_a_corrective_report_not_an_edit(
    api: Api,
    admin: str,
    member: str,
    ctx: Context,
    network: dict,
    sold: dict[str, Any],
) -> None:
    end = month_end(sold["day"])
    run_job(api, admin, end)
    api.post(f"/v1/bookings/{sold['booking']['id']}/cancel", token=member)
    assert run_job(api, admin, end)["produced"] == 2
    made = [r for r in reports(ctx, network["operator"]) if r["kind"] == "transactions"]
    assert [(r["sequence"], r["type_code"]) for r in made] == [(1, "IN"), (2, "RE")]
    assert "<TaxExclusiveAmount>12.50</TaxExclusiveAmount>" in made[0]["xml"]
    assert "<TaxExclusiveAmount>0.00</TaxExclusiveAmount>" in made[1]["xml"]
    assert flux10_failures(made[1]["xml"].encode()) == []


def test_running_the_job_again_reports_nothing_twice(
    api: Api, admin: str, ctx: Context, network: dict, sold: dict[str, Any]
) -> None:
    end = month_end(sold["day"])
    run_job(api, admin, end)
    assert run_job(api, admin, end)["produced"] == 0
    assert len(reports(ctx, network["operator"])) == 2


def test_accountants_list_the_reports_of_an_operator(
    api: Api, admin: str, accountant: str, network: dict, sold: dict[str, Any]
) -> None:
    run_job(api, admin, month_end(sold["day"]))
    answer = api.get(f"/v1/operators/{network['operator']}/ereports", token=accountant)
    assert answer.status == 200, answer.json
    assert [(r["flux"], r["type_code"], r["status"]) for r in answer.json["items"]] == [
        ("10.4", "IN", "produced"),
        ("10.3", "IN", "produced"),
    ]


def test_members_may_not_list_e_reports(api: Api, member: str, network: dict) -> None:
    answer = api.get(f"/v1/operators/{network['operator']}/ereports", token=member)
    assert answer.status == 403
