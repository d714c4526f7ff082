"""B2C e-reporting files from real flows: valid flux 10.3 / 10.4, IN then RE, listed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from chalicelib.domain import ereporting as ereporting_rules
from chalicelib.domain.ereporting import month_period
from chalicelib.domain.timezones import PARIS
from chalicelib.errors import ConcurrentUpdate
from chalicelib.services import ereporting, invoicing
from chalicelib.services.context import Context
from tests.integration.test_einvoicing_cii import FOREIGN_BUSINESS
from tests.integration.test_invoicing_flow import paid_booking
from tests.support.api import Api
from tests.support.einvoicing import cii_failures, flux10_failures
from tests.support.fake_pa import CLIENT_ID, CLIENT_SECRET, FakePlatform
from tests.support.fake_stripe import FakeGateway
from tests.support.webhooks import deliver


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


def sender(report: dict[str, Any]) -> tuple[str, str]:
    """(registration number, name) of the platform a report names as its sender."""
    document = ElementTree.fromstring(report["xml"]).find("ReportDocument/Sender")
    assert document is not None
    return document.findtext("Id", ""), document.findtext("Name", "")


@pytest.mark.parametrize(
    ("named", "expected"),
    [
        ({}, ("2728", "PA de test")),  # its own account at the deployment's platform
        ({"registration_number": "9ZZ9", "name": "Autre PA"}, ("9ZZ9", "Autre PA")),
        ({"registration_number": "0042"}, ("0042", "Plateforme agréée")),
    ],
)
def test_an_operator_on_its_own_platform_reports_with_that_platforms_number(
    api: Api,
    admin: str,
    ctx: Context,
    network: dict,
    sold: dict[str, Any],
    named: dict[str, str],
    expected: tuple[str, str],
) -> None:
    operator_id = network["operator"]
    path = f"/v1/operators/{operator_id}/einvoicing-platform"
    own = {
        "base_url": "https://pa.example.org/api",
        "token_url": "https://pa.example.org/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **named,
    }
    answer = api.request("PUT", path, own, token=admin)
    assert answer.status == 200, answer.json
    assert answer.json.get("registration_number") == named.get("registration_number")
    assert api.get(path, token=admin).json == answer.json

    assert run_job(api, admin, month_end(sold["day"]))["produced"] == 2

    for report in reports(ctx, operator_id):
        assert sender(report) == expected
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


def test_a_refund_on_a_later_day_is_not_a_negative_payment_but_a_negative_transaction(
    api: Api,
    admin: str,
    member: str,
    ctx: Context,
    clock: FixedClock,
    network: dict,
    sold: dict[str, Any],
) -> None:
    """A day pass paid on one day, refunded in full the next: flux 10.4 carries the
    payments received (G1.16: no negative amount), flux 10.3 the refund's credit note."""
    clock.advance(days=1)
    cancelled = api.post(f"/v1/bookings/{sold['booking']['id']}/cancel", token=member)
    assert cancelled.status == 200 and cancelled.json["credit_note_id"], cancelled.json

    run_job(api, admin, month_end(sold["day"]))

    made = {r["kind"]: r for r in reports(ctx, network["operator"])}
    assert [flux10_failures(r["xml"].encode()) for r in made.values()] == [[], []]
    assert made["payments"]["xml"].count("<Payment>") == 1
    assert "<Amount>15.00</Amount>" in made["payments"]["xml"]
    assert "<TaxExclusiveAmount>-12.50</TaxExclusiveAmount>" in made["transactions"]["xml"]


def test_money_received_on_the_last_day_is_reported_though_invoiced_after_midnight(
    api: Api,
    admin: str,
    member: str,
    ctx: Context,
    clock: FixedClock,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A payment of 31 December 23:58 whose invoice could not be issued then (a throttled
    table: 503, Stripe delivers again) is invoiced at 00:05 on 1 January, paid_at 31
    December: December's payments file carries it (read by the day it was paid, not by
    the day its invoice was issued), as December's VAT does."""
    clock.moment = datetime(2026, 12, 31, 23, 55, tzinfo=PARIS)
    held = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": "2027-01-04", "unit": "day", "payment": "card"},
        token=member,
    ).json
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    real_issue, failed = invoicing.issue, []

    def throttled_once(*args: Any, **kwargs: Any) -> Any:
        if not failed:
            failed.append(True)
            raise ConcurrentUpdate("throttled")
        return real_issue(*args, **kwargs)

    monkeypatch.setattr(invoicing, "issue", throttled_once)
    clock.moment = datetime(2026, 12, 31, 23, 58, tzinfo=PARIS)
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 503
    clock.moment = datetime(2027, 1, 1, 0, 5, tzinfo=PARIS)
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200

    run_job(api, admin, date(2026, 12, 31))

    made = {r["kind"]: r for r in reports(ctx, network["operator"])}
    payments = made["payments"]["xml"]
    assert flux10_failures(payments.encode()) == []
    assert "<Date>20261231</Date>" in payments and "<Amount>15.00</Amount>" in payments


def test_a_file_the_platform_would_refuse_is_replaced_by_a_valid_one_on_the_next_run(
    api: Api,
    admin: str,
    member: str,
    ctx: Context,
    clock: FixedClock,
    network: dict,
    sold: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A payments file stored by a release without the check (a refund written as a
    negative payment) is not sent but marked rejected, and the next run reports the period
    again, `IN`, under a new id: nothing of the period was taken."""
    clock.advance(days=1)
    api.post(f"/v1/bookings/{sold['booking']['id']}/cancel", token=member)
    with monkeypatch.context() as old_release:
        old_release.setattr(ereporting, "payment_days", ereporting_rules._net_payment_days)
        old_release.setattr(ereporting, "refusals", lambda xml: [])
        end = month_end(sold["day"])
        ereporting.produce_report(ctx, network["operator"], "payments", month_period(end))
    fake = FakePlatform()
    for name, value in {
        "ereporting_platform_url": fake.url,
        "ereporting_platform_token_url": f"{fake.url}/token",
        "ereporting_platform_client_id": CLIENT_ID,
        "ereporting_platform_client_secret": CLIENT_SECRET,
    }.items():
        monkeypatch.setattr(ctx.settings, name, value)
    try:
        run_job(api, admin, end)
        run_job(api, admin, end)  # nothing more: the period is reported
    finally:
        fake.close()

    payments = [r for r in reports(ctx, network["operator"]) if r["kind"] == "payments"]
    assert [(r["sequence"], r["type_code"], r["status"]) for r in payments] == [
        (1, "IN", "rejected"),
        (2, "IN", "submitted"),
    ]
    assert payments[0]["transmission"]["status"] == "not_sent"
    assert "[G1.16]" in payments[0]["transmission"]["detail"]
    assert payments[0]["id"] not in fake.flows
    assert flux10_failures(payments[1]["xml"].encode()) == []


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
    assert answer.json["next_cursor"] is None
    path = f"/v1/operators/{network['operator']}/ereports"
    first = api.get(f"{path}?limit=1", token=accountant).json
    second = api.get(f"{path}?limit=1&cursor={first['next_cursor']}", token=accountant).json
    assert [r["id"] for r in first["items"] + second["items"]] == [
        r["id"] for r in answer.json["items"]
    ]
    assert second["next_cursor"] is None
    assert api.get(f"{path}?limit=0", token=accountant).status == 422


def test_members_may_not_list_e_reports(api: Api, member: str, network: dict) -> None:
    answer = api.get(f"/v1/operators/{network['operator']}/ereports", token=member)
    assert answer.status == 403


def set_operator(api: Api, admin: str, operator_id: str, **fields: str) -> None:
    version = api.get(f"/v1/operators/{operator_id}", token=admin).headers["ETag"]
    answer = api.request(
        "PATCH", f"/v1/operators/{operator_id}", fields, token=admin, headers={"If-Match": version}
    )
    assert answer.status == 200, answer.json


def periods(ctx: Context, operator_id: str) -> list[tuple[str, str, str, str]]:
    return sorted(
        (r["kind"], r["period_start"], r["period_end"], r["due_by"])
        for r in ctx.ereports.all(operator_id)
    )


def test_a_monthly_normal_filer_reports_each_ten_days_and_payments_monthly(
    api: Api, admin: str, ctx: Context, network: dict, sold: dict[str, Any]
) -> None:
    assert sold["day"] == date(2026, 12, 1)
    assert run_job(api, admin, date(2026, 12, 9))["produced"] == 0  # nothing has ended
    assert run_job(api, admin, date(2026, 12, 10))["produced"] == 1  # the first décade
    assert run_job(api, admin, date(2026, 12, 20))["produced"] == 0  # an empty décade
    assert run_job(api, admin, date(2026, 12, 31))["produced"] == 1  # the month's payments
    assert periods(ctx, network["operator"]) == [
        ("payments", "2026-12-01", "2026-12-31", "2027-01-10"),
        ("transactions", "2026-12-01", "2026-12-10", "2026-12-20"),
    ]


def test_a_simplified_filer_reports_transactions_by_month(
    api: Api, admin: str, ctx: Context, network: dict, sold: dict[str, Any]
) -> None:
    set_operator(api, admin, network["operator"], vat_filing="simplified")
    assert run_job(api, admin, date(2026, 12, 10))["produced"] == 0  # the month runs on
    assert run_job(api, admin, date(2026, 12, 31))["produced"] == 2
    assert periods(ctx, network["operator"]) == [
        ("payments", "2026-12-01", "2026-12-31", "2027-01-25"),
        ("transactions", "2026-12-01", "2026-12-31", "2027-01-25"),
    ]
    assert {r["regime"] for r in ctx.ereports.all(network["operator"])} == {"simplified"}


def test_a_franchise_operator_reports_every_two_months(
    api: Api, admin: str, ctx: Context, network: dict, sold: dict[str, Any]
) -> None:
    set_operator(api, admin, network["operator"], vat_regime="franchise")
    assert run_job(api, admin, date(2026, 12, 30))["produced"] == 0
    assert run_job(api, admin, date(2026, 12, 31))["produced"] == 2  # November-December
    assert periods(ctx, network["operator"]) == [
        ("payments", "2026-11-01", "2026-12-31", "2027-01-25"),
        ("transactions", "2026-11-01", "2026-12-31", "2027-01-25"),
    ]
    for report in ctx.ereports.all(network["operator"]):
        assert flux10_failures(report["xml"].encode()) == []


def test_a_change_of_filing_reports_the_rest_of_a_period_never_a_day_twice(
    api: Api,
    admin: str,
    member: str,
    ctx: Context,
    clock: FixedClock,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
    sold: dict[str, Any],
) -> None:
    run_job(api, admin, date(2026, 12, 10))  # décade 1-10 reported as a monthly filer
    set_operator(api, admin, network["operator"], vat_filing="normal_quarterly")
    clock.moment = datetime(2026, 12, 15, 10, 0, tzinfo=PARIS)
    paid_booking(api, member, network, stripe_fake, settings, day="2026-12-21")

    run_job(api, admin, date(2026, 12, 31))

    assert periods(ctx, network["operator"]) == [
        ("payments", "2026-12-01", "2026-12-31", "2027-01-10"),
        ("transactions", "2026-12-01", "2026-12-10", "2026-12-20"),
        ("transactions", "2026-12-11", "2026-12-31", "2027-01-10"),  # the rest of the month
    ]
    assert run_job(api, admin, date(2027, 1, 1))["produced"] == 0
    for report in ctx.ereports.all(network["operator"]):
        assert flux10_failures(report["xml"].encode()) == []


def test_a_sale_to_a_business_of_another_eu_state_and_its_payment_are_reported_one_by_one(
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    ctx: Context,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    # GIVEN a member buying a day pass for a German company (no SIREN, a DE VAT number)
    assert api.request("PUT", "/v1/me", FOREIGN_BUSINESS, token=member).status == 200
    booking = paid_booking(api, member, network, stripe_fake, settings)
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=member).json
    day = date.fromisoformat(invoice["issued_at"][:10])

    # WHEN its period is reported
    run_job(api, admin, month_end(day))

    # THEN the transactions file reports that invoice by itself (10.1), valid; no B2C day
    (transactions,) = [r for r in reports(ctx, network["operator"]) if r["kind"] == "transactions"]
    xml = transactions["xml"]
    assert (transactions["flux"], transactions["invoices"], transactions["days"]) == ("10.1", 1, 0)
    assert f"<ID>{invoice['number']}</ID>" in xml
    assert '<CompanyId schemeId="0223">DE136695976</CompanyId>' in xml
    assert "<Transactions>" not in xml
    assert flux10_failures(xml.encode()) == []
    listed = api.get(f"/v1/operators/{network['operator']}/ereports", token=accountant).json
    assert {(r["kind"], r["flux"], r["invoices"]) for r in listed["items"]} >= {
        ("transactions", "10.1", 1)
    }
    # AND the payments file reports the money received for it (10.2), valid
    (payments,) = [r for r in reports(ctx, network["operator"]) if r["kind"] == "payments"]
    assert (payments["flux"], payments["invoices"], payments["days"]) == ("10.2", 1, 0)
    assert f"<InvoiceID>{invoice['number']}</InvoiceID>" in payments["xml"]
    assert flux10_failures(payments["xml"].encode()) == []
    # AND running again reports nothing twice
    assert run_job(api, admin, month_end(day))["produced"] == 0


def test_a_foreign_buyer_without_an_address_does_not_hold_back_the_period(
    api: Api,
    admin: str,
    member: str,
    ctx: Context,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    # GIVEN a consumer's day, then a sale to a business known by its VAT number only
    paid_booking(api, member, network, stripe_fake, settings, day="2026-12-04")
    foreign = {k: v for k, v in FOREIGN_BUSINESS.items() if k != "billing_address"}
    assert api.request("PUT", "/v1/me", foreign, token=member).status == 200
    booking = paid_booking(api, member, network, stripe_fake, settings, day="2026-12-07")
    sold = api.get(f"/v1/invoices/{booking['invoice_id']}", token=member).json

    run_job(api, admin, month_end(date.fromisoformat(sold["issued_at"][:10])))

    # THEN the period's transactions are reported, the sale placed by its VAT number
    (transactions,) = [r for r in reports(ctx, network["operator"]) if r["kind"] == "transactions"]
    assert transactions["flux"] == "10.1+10.3"
    assert "<CountryId>DE</CountryId>" in transactions["xml"]
    assert flux10_failures(transactions["xml"].encode()) == []
    # AND its invoice places the buyer there too, not in the seller's country
    xml = api.get(f"/v1/invoices/{booking['invoice_id']}/xml", token=member).body
    buyer = xml.split(b"<ram:BuyerTradeParty>")[1].split(b"</ram:BuyerTradeParty>")[0]
    assert b"<ram:CountryID>DE</ram:CountryID>" in buyer
    assert cii_failures(xml) == []
