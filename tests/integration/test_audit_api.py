"""The audit trail over HTTP: what writes leave, who reads it, filters, order, secrets."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.clock import FixedClock
from tests.integration.test_companies import company_body
from tests.support.api import Answer, Api, assert_problem, booked

IBAN = "FR7630006000011234567890189"


def patch(api: Api, path: str, body: Any, token: str, version: int) -> Answer:
    return api.request("PATCH", path, body, token=token, headers={"If-Match": f'"{version}"'})


def trail(api: Api, token: str, query: str = "") -> list[dict[str, Any]]:
    answer = api.get(f"/v1/audit?{query}", token=token)
    assert answer.status == 200, answer.json
    return list(answer.json["items"])


def test_a_patch_leaves_who_when_and_the_changed_fields(
    api: Api, admin: str, accountant: str, network: dict[str, str], clock: FixedClock
) -> None:
    clock.advance(seconds=1)  # after the creations
    patch(api, f"/v1/operators/{network['operator']}", {"name": "Relais Sud"}, admin, 1)
    (entry,) = trail(api, accountant, "entity=operator")[:1]
    assert (entry["actor"], entry["roles"], entry["action"], entry["changes"]) == (
        "admin-1",
        ["admin"],
        "update",
        {"name": ["SCIC Relais 77", "Relais Sud"]},
    )


def test_the_trail_keeps_numbers_as_numbers(
    api: Api, admin: str, accountant: str, network: dict[str, str], clock: FixedClock
) -> None:
    """A pack's credits and a price read back from the table (DynamoDB's Decimals) are
    JSON numbers in the trail, as the API serves them, never strings."""
    pack = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000},
            "operator_id": network["operator"],
            "credits": 10,
            "validity_days": 365,
        },
        token=admin,
    ).json
    clock.advance(seconds=1)
    patch(api, f"/v1/products/{pack['id']}", {"price": {"amount": 13000}}, admin, 1)
    repriced, made = trail(api, accountant, "entity=product")[:2]
    assert made["changes"]["credits"] == [None, 10]
    before, after = repriced["changes"]["price"]
    assert (before["amount"], before["vat_amount"]) == (12000, 2000)
    assert (after["amount"], after["vat_amount"]) == (13000, 2167)


def test_an_iban_is_masked_in_the_trail(
    api: Api, admin: str, network: dict[str, str], clock: FixedClock
) -> None:
    clock.advance(seconds=1)  # after the creations
    patch(api, f"/v1/operators/{network['operator']}", {"iban": IBAN}, admin, 1)
    answer = api.get("/v1/audit?entity=operator", token=admin)
    assert IBAN not in answer.body.decode()
    assert answer.json["items"][0]["changes"]["iban"] == [None, "FR76*******************0189"]


def test_a_refused_patch_leaves_no_entry(api: Api, admin: str, network: dict[str, str]) -> None:
    patch(api, f"/v1/operators/{network['operator']}", {"name": "A"}, admin, 7)
    updates = [e for e in trail(api, admin, "entity=operator") if e["action"] == "update"]
    assert updates == []


def test_creations_are_in_the_trail(api: Api, admin: str, network: dict[str, str]) -> None:
    entities = {(e["entity"], e["action"]) for e in trail(api, admin)}
    assert entities == {
        ("operator", "create"),
        ("relay", "create"),
        ("resource", "create"),
    }


def test_a_company_creation_lists_its_fields_in_the_trail(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    created = api.post("/v1/companies", company_body(network["operator"]), token=admin)
    assert created.status == 201, created.json
    (entry,) = trail(api, admin, "entity=company")
    assert (entry["entity_id"], entry["action"]) == (created.json["id"], "create")
    assert entry["operator_id"] == network["operator"]
    changes = entry["changes"]
    assert changes["name"] == [None, "Atelier Brie SAS"]
    assert changes["siren"] == [None, created.json["siren"]]
    assert changes["billing_address"][1]["city"] == "Fontainebleau"
    assert "id" not in changes and "created_at" not in changes


def test_entries_come_newest_first(
    api: Api, admin: str, network: dict[str, str], clock: FixedClock
) -> None:
    path = f"/v1/relays/{network['relay']}"
    for version, name in enumerate(("B", "C"), start=1):
        clock.advance(seconds=60)
        patch(api, path, {"name": name}, admin, version)
    updates = [e for e in trail(api, admin, "entity=relay") if e["action"] == "update"]
    names = [e["changes"]["name"][1] for e in updates]
    assert names[:2] == ["C", "B"]


def test_the_trail_is_filtered_by_relay(api: Api, admin: str, network: dict[str, str]) -> None:
    api.post(
        f"/v1/relays/{network['relay']}/closures",
        {"date": "2026-12-02", "reason": "x"},
        token=admin,
    )
    relay_ids = {e["relay_id"] for e in trail(api, admin, f"relay_id={network['relay']}")}
    assert relay_ids == {network["relay"]}


def test_the_trail_is_filtered_by_actor(api: Api, admin: str, network: dict[str, str]) -> None:
    manager = api.token("mgr-1", f"manager:{network['relay']}")
    patch(api, f"/v1/relays/{network['relay']}", {"name": "Gare"}, manager, 1)
    assert [e["entity"] for e in trail(api, admin, "actor=mgr-1")] == ["relay"]


def test_the_trail_is_filtered_by_operator(api: Api, admin: str, network: dict[str, str]) -> None:
    found = trail(api, admin, f"operator_id={network['operator']}")
    assert {e["operator_id"] for e in found} == {network["operator"]} and len(found) == 4


def test_the_trail_is_paged(api: Api, admin: str, network: dict[str, str]) -> None:
    first = api.get("/v1/audit?limit=2", token=admin).json
    rest = api.get(f"/v1/audit?limit=2&cursor={first['next_cursor']}", token=admin).json
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert len(set(ids)) == 4


def test_the_trail_outside_the_period_is_empty(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    assert trail(api, admin, "from=2026-01-01&to=2026-11-30") == []


def test_managers_and_members_cannot_read_the_trail(
    api: Api, member: str, network: dict[str, str]
) -> None:
    manager = api.token("mgr-1", f"manager:{network['relay']}")
    for token in (member, manager):
        assert_problem(api.get("/v1/audit", token=token), 403, "forbidden")


def test_a_free_booking_and_a_cancellation_on_behalf_are_in_the_trail(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    free = booked(api, admin, network["pool"], payment="none")
    held = booked(api, member, network["pool"])
    api.post(f"/v1/bookings/{held['id']}/cancel", token=admin)
    entries = trail(api, admin, "entity=booking")
    assert sorted((e["entity_id"], e["action"]) for e in entries) == sorted(
        [(free["id"], "create"), (held["id"], "cancel")]
    )


def test_staff_cancelling_the_free_booking_they_made_is_in_the_trail(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    manager = api.token("mgr-1", f"manager:{network['relay']}")
    free = booked(api, manager, network["pool"], payment="none")
    assert api.post(f"/v1/bookings/{free['id']}/cancel", token=manager).status == 200
    entries = trail(api, admin, "entity=booking")
    assert sorted((e["action"], e["actor"]) for e in entries) == [
        ("cancel", "mgr-1"),
        ("create", "mgr-1"),
    ]


def test_a_member_cancelling_their_own_booking_leaves_no_entry(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    held = booked(api, member, network["pool"])
    api.post(f"/v1/bookings/{held['id']}/cancel", token=member)
    assert trail(api, admin, "entity=booking") == []
