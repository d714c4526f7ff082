"""An operator deactivated (`PATCH /v1/operators/{id}` with `active: false`) withdraws its
network: its relays are not listed and show no availability, they take no new booking
(404, as an inactive relay), its products are neither listed nor sold (409, as an
inactive product); existing bookings stay. Re-activating it brings everything back."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Answer, Api, assert_problem, book, booked

DAY = "2026-12-03"


def patch_operator(api: Api, admin: str, operator_id: str, active: bool) -> Answer:
    path = f"/v1/operators/{operator_id}"
    version = api.get(path, token=admin).json["version"]
    answer = api.request(
        "PATCH", path, {"active": active}, token=admin, headers={"If-Match": f'"{version}"'}
    )
    assert answer.status == 200, answer.json
    return answer


@pytest.fixture
def pack(api: Api, admin: str, network: dict[str, str]) -> str:
    body = {
        "kind": "credit_pack",
        "name": "10 jours",
        "price": {"amount": 12000},
        "operator_id": network["operator"],
        "credits": 10,
        "validity_days": 365,
    }
    answer = api.post("/v1/products", body, token=admin)
    assert answer.status == 201, answer.json
    return str(answer.json["id"])


@pytest.fixture
def withdrawn(api: Api, admin: str, network: dict[str, str], pack: str) -> dict[str, Any]:
    """A confirmed booking made before the operator was deactivated."""
    confirmed = booked(api, admin, network["pool"], payment="none", date=DAY)
    patch_operator(api, admin, network["operator"], False)
    return confirmed


def test_its_relays_are_not_listed_and_show_no_availability(
    api: Api, network: dict[str, str], withdrawn: dict[str, Any]
) -> None:
    assert network["relay"] not in [r["id"] for r in api.get("/v1/relays").json["items"]]
    everywhere = api.get(f"/v1/availability?date={DAY}").json["relays"]
    assert network["relay"] not in [r["relay_id"] for r in everywhere]
    one = api.get(f"/v1/availability?date={DAY}&relay_id={network['relay']}")
    assert one.status == 200 and one.json["relays"] == []


def test_its_relays_take_no_new_booking(
    api: Api, admin: str, member: str, network: dict[str, str], withdrawn: dict[str, Any]
) -> None:
    assert_problem(book(api, member, network["pool"], date=DAY), 404, "not_found")
    free = book(api, admin, network["room"], date=DAY, payment="none")
    assert_problem(free, 404, "not_found")


def test_its_products_are_neither_listed_nor_sold(
    api: Api, member: str, pack: str, withdrawn: dict[str, Any]
) -> None:
    assert pack not in [p["id"] for p in api.get("/v1/products").json["items"]]
    answer = api.post("/v1/purchases", {"product_id": pack}, token=member)
    assert_problem(answer, 409, "invalid_state")


def test_existing_bookings_stay(api: Api, admin: str, withdrawn: dict[str, Any]) -> None:
    answer = api.get(f"/v1/bookings/{withdrawn['id']}", token=admin)
    assert answer.json["status"] == "confirmed"


def test_reactivating_the_operator_brings_its_network_back(
    api: Api, admin: str, member: str, network: dict[str, str], pack: str, withdrawn: dict[str, Any]
) -> None:
    patch_operator(api, admin, network["operator"], True)
    assert network["relay"] in [r["id"] for r in api.get("/v1/relays").json["items"]]
    assert pack in [p["id"] for p in api.get("/v1/products").json["items"]]
    assert book(api, member, network["pool"], date=DAY).status == 201
