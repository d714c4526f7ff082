"""Company accounts administered over HTTP: list, PATCH with If-Match, remove an employee."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_companies import company_body
from tests.support.api import Answer, Api, assert_problem, booked, error_fields


def patch(api: Api, path: str, body: Any, token: str, version: int | None) -> Answer:
    headers = {} if version is None else {"If-Match": f'"{version}"'}
    return api.request("PATCH", path, body, token=token, headers=headers)


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


def test_admin_lists_companies_page_by_page(api: Api, admin: str, network: dict[str, str]) -> None:
    for siren in ("552100554", "732829320"):
        api.post("/v1/companies", company_body(network["operator"], siren=siren), token=admin)
    first = api.get("/v1/companies?limit=1", token=admin).json
    rest = api.get(f"/v1/companies?limit=1&cursor={first['next_cursor']}", token=admin).json
    assert len({c["id"] for c in first["items"] + rest["items"]}) == 2


def test_listing_companies_is_for_administrators(api: Api, accountant: str) -> None:
    assert_problem(api.get("/v1/companies", token=accountant), 403, "forbidden")


def test_a_company_is_read_with_its_version_and_etag(
    api: Api, admin: str, company: dict[str, Any]
) -> None:
    answer = api.get(f"/v1/companies/{company['id']}", token=admin)
    assert (answer.json["version"], answer.headers["ETag"]) == (1, '"1"')


def test_billing_fields_are_edited_with_if_match(
    api: Api, admin: str, company: dict[str, Any]
) -> None:
    body = {"billing_email": "factures@atelier-brie.fr"}
    answer = patch(api, f"/v1/companies/{company['id']}", body, admin, 1)
    assert (answer.json["billing_email"], answer.json["version"]) == (
        "factures@atelier-brie.fr",
        2,
    )


def test_a_company_edit_answers_the_whole_company_as_its_get(
    api: Api, admin: str, company: dict[str, Any], alice: str
) -> None:
    """API.md: a successful PATCH answers the whole updated object: its members too, as
    `GET /v1/companies/{id}` serves them (found by review R6)."""
    body = {"billing_email": "factures@atelier-brie.fr"}
    answer = patch(api, f"/v1/companies/{company['id']}", body, admin, 1)
    assert answer.status == 200, answer.json
    assert answer.json == api.get(f"/v1/companies/{company['id']}", token=admin).json
    assert [m["member_id"] for m in answer.json["members"]] == ["emp-alice"]


def test_a_stale_company_edit_is_refused(api: Api, admin: str, company: dict[str, Any]) -> None:
    patch(api, f"/v1/companies/{company['id']}", {"name": "A"}, admin, 1)
    answer = patch(api, f"/v1/companies/{company['id']}", {"name": "B"}, admin, 1)
    assert_problem(answer, 412, "precondition_failed")


def test_siren_and_operator_of_a_company_are_read_only(
    api: Api, admin: str, company: dict[str, Any]
) -> None:
    body = {"siren": "552100554", "operator_id": "op_x"}
    answer = patch(api, f"/v1/companies/{company['id']}", body, admin, 1)
    assert error_fields(answer) == {"siren", "operator_id"}


def test_an_inactive_company_pays_for_no_new_booking(
    api: Api, admin: str, alice: str, company: dict[str, Any], network: dict[str, str]
) -> None:
    patch(api, f"/v1/companies/{company['id']}", {"active": False}, admin, 1)
    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": "2026-12-02", "unit": "day", "payment": "company"},
        token=alice,
    )
    assert_problem(answer, 403, "forbidden")


def test_removing_an_employee_cancels_their_future_company_bookings(
    api: Api, admin: str, alice: str, company: dict[str, Any], network: dict[str, str]
) -> None:
    booking = booked(api, alice, network["pool"], payment="company")
    path = f"/v1/companies/{company['id']}/members/emp-alice"
    assert api.request("DELETE", path, token=admin).status == 204
    assert api.get(f"/v1/bookings/{booking['id']}", token=alice).json["status"] == "cancelled"


def test_a_removed_employee_cannot_book_for_the_company(
    api: Api, admin: str, alice: str, company: dict[str, Any], network: dict[str, str]
) -> None:
    api.request("DELETE", f"/v1/companies/{company['id']}/members/emp-alice", token=admin)
    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": "2026-12-02", "unit": "day", "payment": "company"},
        token=alice,
    )
    assert_problem(answer, 403, "forbidden")


def test_removing_someone_who_is_no_employee_is_not_found(
    api: Api, admin: str, company: dict[str, Any]
) -> None:
    path = f"/v1/companies/{company['id']}/members/emp-nobody"
    assert_problem(api.request("DELETE", path, token=admin), 404, "not_found")


def test_removing_an_employee_is_in_the_audit_trail(
    api: Api, admin: str, alice: str, company: dict[str, Any]
) -> None:
    api.request("DELETE", f"/v1/companies/{company['id']}/members/emp-alice", token=admin)
    entries = api.get("/v1/audit?entity=company_member", token=admin).json["items"]
    assert sorted((e["entity_id"], e["action"]) for e in entries) == [
        ("emp-alice", "create"),
        ("emp-alice", "delete"),
    ]
