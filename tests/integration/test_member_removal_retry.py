"""DELETE /v1/companies/{id}/members/{member_id} retried after a crash between unlinking
the employee and cancelling their future company bookings: the retry finishes the sweep
and answers what the contract says of someone who is no employee (404 `not_found`)."""

from __future__ import annotations

from typing import Any

from chalicelib.auth import Principal
from chalicelib.services import company_admin
from chalicelib.services.context import Context
from tests.integration.test_company_admin_api import alice, company  # noqa: F401 - fixtures
from tests.support.api import Api, assert_problem, booked

ADMIN = Principal(sub="admin-1", groups=frozenset({"admin"}))


def crashed_removal(ctx: Context, company_id: str, member_id: str) -> None:
    """What a removal did before its Lambda died: the link and its audit entry, no sweep."""
    company_admin.unlink_employee(ctx, ADMIN, company_admin.get_company(ctx, company_id), member_id)


def test_a_removal_retried_after_a_crash_still_cancels_the_company_bookings(
    api: Api,
    admin: str,
    alice: str,  # noqa: F811 - fixture
    company: dict[str, Any],  # noqa: F811 - fixture
    network: dict[str, str],
    ctx: Context,
) -> None:
    booking = booked(api, alice, network["pool"], date="2026-12-04", payment="company")
    # GIVEN a removal that died right after unlinking the employee
    crashed_removal(ctx, company["id"], "emp-alice")
    # WHEN the administrator retries it
    path = f"/v1/companies/{company['id']}/members/emp-alice"
    answer = api.request("DELETE", path, token=admin)
    # THEN the member is no employee (404) but the future company booking is cancelled
    # and not billed to the company
    assert_problem(answer, 404, "not_found")
    assert api.get(f"/v1/bookings/{booking['id']}", token=alice).json["status"] == "cancelled"
    statement = api.get(f"/v1/companies/{company['id']}/statement?month=2026-12", token=admin).json
    assert statement["bookings"] == []


def test_a_retried_removal_writes_no_second_audit_entry(
    api: Api,
    admin: str,
    alice: str,  # noqa: F811 - fixture
    company: dict[str, Any],  # noqa: F811 - fixture
    network: dict[str, str],
    ctx: Context,
) -> None:
    booked(api, alice, network["pool"], date="2026-12-04", payment="company")
    crashed_removal(ctx, company["id"], "emp-alice")
    api.request("DELETE", f"/v1/companies/{company['id']}/members/emp-alice", token=admin)
    entries = api.get("/v1/audit?entity=company_member", token=admin).json["items"]
    assert sorted((e["entity_id"], e["action"]) for e in entries) == [
        ("emp-alice", "create"),
        ("emp-alice", "delete"),
    ]


def test_a_retried_removal_leaves_the_personal_bookings(
    api: Api,
    admin: str,
    alice: str,  # noqa: F811 - fixture
    company: dict[str, Any],  # noqa: F811 - fixture
    network: dict[str, str],
    ctx: Context,
) -> None:
    # GIVEN a crashed removal, after which the former employee books for herself
    crashed_removal(ctx, company["id"], "emp-alice")
    personal = booked(api, alice, network["pool"], date="2026-12-04", payment="card")
    # WHEN the removal is retried, THEN her personal booking is left as it was
    api.request("DELETE", f"/v1/companies/{company['id']}/members/emp-alice", token=admin)
    answer = api.get(f"/v1/bookings/{personal['id']}", token=alice).json
    assert answer["status"] == personal["status"]
