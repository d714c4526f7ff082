"""`DELETE /v1/me` and what else ties the member (moto, fake Stripe): memberships stop
renewing (a paid period runs out, unpaid ones end now, nothing charged again), the
company link goes exactly as an administrator's removal takes it, but the future company
bookings are cancelled per policy, not as a removal forces it (in time: dropped from the
company's month; later: billed, as a day used), and a retry after a crash between the
steps ends the same, without a second effect."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.services import company_admin
from chalicelib.services.context import Context
from tests.integration.test_companies import company_body, run_job, statement
from tests.integration.test_memberships import (
    membership_product,
    mine,
    paris,
    run_renewals,
    start_membership,
)
from tests.support.api import Api, booked
from tests.support.fake_stripe_memberships import MembershipFakeGateway

PARIS = ZoneInfo("Europe/Paris")
LATE_HOURS = {"date": "2026-12-01", "unit": "hour", "start": "14:00", "end": "16:00"}


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


@pytest.fixture
def company(api: Api, admin: str, network: dict[str, str]) -> dict[str, Any]:
    answer = api.post("/v1/companies", company_body(network["operator"]), token=admin)
    assert answer.status == 201, answer.json
    return dict(answer.json)


@pytest.fixture
def alice(api: Api, admin: str, company: dict[str, Any]) -> str:
    path = f"/v1/companies/{company['id']}/members"
    assert api.post(path, {"member_id": "emp-alice"}, token=admin).status == 201
    return api.token("emp-alice", name="Alice Martin")


def erase(api: Api, token: str) -> None:
    assert api.request("DELETE", "/v1/me", token=token).status == 204


def december_statement(api: Api, admin: str, company_id: str) -> list[str]:
    path = f"/v1/companies/{company_id}/statement?month=2026-12"
    answer = api.get(path, token=admin)
    assert answer.status == 200, answer.json
    return [b["id"] for b in answer.json["bookings"]]


def test_an_erased_members_paid_period_runs_out_and_is_never_renewed(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    product = membership_product(api, admin, network["operator"])
    start_membership(api, settings, stripe_fake, member, product)
    assert len(stripe_fake.customers) == 1
    erase(api, member)
    erase(api, member)  # a retry changes nothing more
    # the Stripe customer (name, email, saved card) is gone
    assert (stripe_fake.customers, len(stripe_fake.deleted_customers)) == ({}, 1)
    membership = mine(api, member)
    assert (membership["status"], membership["cancel_at_period_end"]) == ("active", True)
    # at period end: cancelled, nothing charged, nothing refunded
    run_renewals(api, admin, paris(2027, 1, 1, 0, 5))
    assert mine(api, member)["status"] == "cancelled"
    assert len(stripe_fake.charges) == 1
    assert stripe_fake.refunds == {}


def test_an_erased_members_unpaid_membership_ends_at_once(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    product = membership_product(api, admin, network["operator"])
    start_membership(api, settings, stripe_fake, member, product, behaviour="declined")
    assert mine(api, member)["status"] == "incomplete"  # the first charge was declined
    erase(api, member)
    assert mine(api, member)["status"] == "cancelled"
    assert stripe_fake.customers == {}
    assert run_renewals(api, admin, paris(2026, 12, 5, 0, 5))["processed"] == 0
    assert len(stripe_fake.charges) == 1


def test_erasure_removes_the_company_link_as_an_administrator_would(
    api: Api, admin: str, alice: str, company: dict[str, Any]
) -> None:
    erase(api, alice)
    gone = f"/v1/companies/{company['id']}/members/emp-alice"
    assert api.request("DELETE", gone, token=admin).status == 404
    entries = api.get("/v1/audit?entity=company_member", token=admin).json["items"]
    assert sorted((e["action"], e["actor"]) for e in entries) == [
        ("create", "admin-1"),
        ("delete", "emp-alice"),
    ]


def test_erasure_in_time_drops_a_company_booking_from_the_companys_month(
    api: Api, admin: str, alice: str, company: dict[str, Any], network: dict[str, str]
) -> None:
    early = booked(api, alice, network["pool"], date="2026-12-04", payment="company")
    erase(api, alice)
    assert api.get(f"/v1/bookings/{early['id']}", token=alice).json["status"] == "cancelled"
    assert december_statement(api, admin, company["id"]) == []


def test_erasure_within_24h_keeps_a_company_booking_billed(
    api: Api,
    admin: str,
    accountant: str,
    alice: str,
    company: dict[str, Any],
    network: dict[str, str],
    clock: FixedClock,
) -> None:
    """As any late cancellation (README, cancellation table): the member ends the
    company's promise, not an administrator, so nothing forces the cancel."""
    late = booked(api, alice, network["pool"], date="2026-12-02", payment="company")
    clock.moment = datetime(2026, 12, 1, 12, 0, tzinfo=PARIS)  # 20 h before 08:00

    erase(api, alice)

    assert api.get(f"/v1/bookings/{late['id']}", token=alice).json["status"] == "cancelled"
    clock.moment = datetime(2027, 1, 1, 3, 0, tzinfo=PARIS)
    run_job(api, admin)
    month = statement(api, accountant, company["id"], "2026-12").json
    assert [b["id"] for b in month["bookings"]] == [late["id"]]
    assert month["invoice"]["totals"]["incl_vat"] == 1500


def test_an_erasure_retried_after_a_crash_cancels_company_bookings_once_per_policy(
    api: Api,
    admin: str,
    alice: str,
    company: dict[str, Any],
    network: dict[str, str],
    ctx: Context,
) -> None:
    early = booked(api, alice, network["pool"], date="2026-12-04", payment="company")
    late = booked(api, alice, network["room"], payment="company", **LATE_HOURS)
    # GIVEN a first erasure that died right after removing the link
    found = company_admin.get_company(ctx, company["id"])
    company_admin.unlink_employee(ctx, Principal(sub="emp-alice"), found, "emp-alice")
    # WHEN it is retried, twice
    erase(api, alice)
    erase(api, alice)
    # THEN both are cancelled; the late one alone stays billed
    for booking in (early, late):
        path = f"/v1/bookings/{booking['id']}"
        assert api.get(path, token=alice).json["status"] == "cancelled"
    assert december_statement(api, admin, company["id"]) == [late["id"]]
    entries = api.get("/v1/audit?entity=company_member", token=admin).json["items"]
    assert [e["action"] for e in entries].count("delete") == 1
