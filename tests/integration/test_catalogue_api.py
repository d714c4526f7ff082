"""The network catalogue over HTTP: operators, relays, resources and products
(chalice test client, moto)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import (
    Api,
    add_relay,
    assert_problem,
    error_fields,
    operator_body,
    relay_body,
    resource_body,
)

# -- operators ---------------------------------------------------------------------------------


def test_admin_creates_an_operator(api: Api, admin: str) -> None:
    answer = api.post("/v1/operators", operator_body(), token=admin)
    assert answer.status == 201, answer.json
    operator = answer.json
    assert operator["id"]
    assert operator["siren"] == "732829320"
    assert operator["invoice_prefix"] == "RL"
    assert operator["address"]["postcode"] == "77000"


def test_siren_failing_the_luhn_check_is_refused(api: Api, admin: str) -> None:
    answer = api.post("/v1/operators", operator_body(siren="732829321"), token=admin)
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"siren"}


def test_siren_already_used_by_another_operator_is_a_conflict(api: Api, admin: str) -> None:
    assert api.post("/v1/operators", operator_body(), token=admin).status == 201
    again = api.post(
        "/v1/operators", operator_body(name="Autre SAS", invoice_prefix="AU"), token=admin
    )
    assert_problem(again, 409, "already_exists")
    assert len(api.get("/v1/operators", token=admin).json["items"]) == 1


@pytest.mark.parametrize("prefix", ["bn", "B", "ABCDEFGHIJK", "BN-1", "B N", "ÉT", ""])
def test_invoice_prefix_outside_2_to_10_of_a_z_0_9_is_refused(
    api: Api, admin: str, prefix: str
) -> None:
    answer = api.post("/v1/operators", operator_body(invoice_prefix=prefix), token=admin)
    assert_problem(answer, 422, "validation_error")
    assert "invoice_prefix" in error_fields(answer)


@pytest.mark.parametrize("prefix", ["BN", "A1B2C3D4E5", "42"])
def test_invoice_prefix_of_2_to_10_of_a_z_0_9_is_accepted(
    api: Api, admin: str, prefix: str
) -> None:
    answer = api.post("/v1/operators", operator_body(invoice_prefix=prefix), token=admin)
    assert answer.status == 201, answer.json
    assert answer.json["invoice_prefix"] == prefix


@pytest.mark.parametrize("sub,groups", [("admin-1", ("admin",)), ("acc-1", ("accountant",))])
def test_admin_and_accountant_list_and_read_operators(
    api: Api, network: dict[str, str], sub: str, groups: tuple[str, ...]
) -> None:
    token = api.token(sub, *groups)
    listed = api.get("/v1/operators", token=token)
    assert listed.status == 200, listed.json
    assert [o["id"] for o in listed.json["items"]] == [network["operator"]]
    one = api.get(f"/v1/operators/{network['operator']}", token=token)
    assert one.status == 200
    assert one.json["siren"] == "732829320"


def test_unknown_operator_is_not_found(api: Api, admin: str) -> None:
    assert_problem(api.get("/v1/operators/op_nope", token=admin), 404, "not_found")


# -- relays ------------------------------------------------------------------------------------


@pytest.fixture
def operator_id(api: Api, admin: str) -> str:
    return str(api.post("/v1/operators", operator_body(), token=admin).json["id"])


def test_admin_creates_a_relay(api: Api, admin: str, operator_id: str) -> None:
    answer = api.post("/v1/relays", relay_body(operator_id), token=admin)
    assert answer.status == 201, answer.json
    relay = answer.json
    assert relay["id"] and relay["operator_id"] == operator_id
    assert relay["timezone"] == "Europe/Paris"
    assert relay["opening_hours"]["mon"] == [["08:00", "19:00"]]
    assert relay["opening_hours"]["sat"] == []


def test_relay_of_an_unknown_operator_is_not_found(api: Api, admin: str) -> None:
    answer = api.post("/v1/relays", relay_body("op_nope"), token=admin)
    assert_problem(answer, 404, "not_found")


@pytest.mark.parametrize(
    "hours",
    [
        {"mon": [["19:00", "08:00"]]},
        {"mon": [["08:15", "19:00"]]},
        {"mon": [["08:00"]]},
        {"funday": [["08:00", "19:00"]]},
        {"mon": "08:00-19:00"},
        {"mon": [["8h", "19h"]]},
        {"mon": [["08:00", "13:00"], ["12:00", "19:00"]]},
        {"mon": [["25:00", "26:00"]]},
    ],
)
def test_relay_with_bad_opening_hours_is_refused(
    api: Api, admin: str, operator_id: str, hours: dict[str, Any]
) -> None:
    answer = api.post("/v1/relays", relay_body(operator_id, opening_hours=hours), token=admin)
    assert_problem(answer, 422, "validation_error")
    assert all(f.startswith("opening_hours") for f in error_fields(answer)), answer.json


def test_relay_with_an_unknown_time_zone_is_refused(api: Api, admin: str, operator_id: str) -> None:
    answer = api.post(
        "/v1/relays", relay_body(operator_id, timezone="Europe/Atlantis"), token=admin
    )
    assert_problem(answer, 422, "validation_error")
    assert "timezone" in error_fields(answer)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "Gare de Melun\nQuai 2"}, "name"),
        ({"name": "Gare de Melun\tQuai 2"}, "name"),
        (
            {"address": {"line1": "Place\r\nGallieni", "postcode": "77000", "city": "Melun"}},
            "address.line1",
        ),
        ({"amenities": ["wifi", "coffee\u2028tea"]}, "amenities.1"),
    ],
)
def test_a_relay_with_a_control_character_in_a_one_line_text_is_refused(
    api: Api, admin: str, operator_id: str, overrides: dict[str, Any], field: str
) -> None:
    # GIVEN a relay whose name (address line, amenity) holds a line break or a tab, which
    # would go into the subject and booking.ics of every mail about it
    body = relay_body(operator_id, **overrides)
    # WHEN an administrator creates it
    answer = api.post("/v1/relays", body, token=admin)
    # THEN it is refused, the field named, and nothing is created
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {field}
    assert api.get("/v1/relays").json["items"] == []


def test_a_resource_name_with_a_line_break_is_refused(
    api: Api, admin: str, operator_id: str
) -> None:
    relay = api.post("/v1/relays", relay_body(operator_id), token=admin).json
    path = f"/v1/relays/{relay['id']}/resources"
    answer = api.post(path, resource_body(name="Open\nspace"), token=admin)
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"name"}


PLACES = {  # name: (category, lat, lon)
    "Gare de Melun": ("station", 48.5275, 2.6553),
    "Gare de Fontainebleau": ("station", 48.4233, 2.7275),
    "Provins centre": ("town", 48.5597, 3.2992),
}


@pytest.fixture
def three_relays(api: Api, admin: str, operator_id: str) -> dict[str, str]:
    ids = {}
    for name, (category, lat, lon) in PLACES.items():
        ids[name] = add_relay(
            api, admin, operator_id, name=name, category=category, location={"lat": lat, "lon": lon}
        )["relay"]
    return ids


def test_relays_are_listed_publicly(api: Api, three_relays: dict[str, str]) -> None:
    answer = api.get("/v1/relays")
    assert answer.status == 200
    assert {r["id"] for r in answer.json["items"]} == set(three_relays.values())
    assert answer.json["next_cursor"] is None


def test_relays_filtered_by_category(api: Api, three_relays: dict[str, str]) -> None:
    towns = api.get("/v1/relays?category=town").json["items"]
    assert [r["name"] for r in towns] == ["Provins centre"]
    stations = api.get("/v1/relays?category=station").json["items"]
    assert {r["name"] for r in stations} == {"Gare de Melun", "Gare de Fontainebleau"}


def test_unknown_relay_category_is_refused(api: Api, three_relays: dict[str, str]) -> None:
    assert_problem(api.get("/v1/relays?category=airport"), 422, "validation_error")


def test_relays_near_a_point_come_nearest_first_with_distance(
    api: Api, three_relays: dict[str, str]
) -> None:
    # GIVEN a walker in Fontainebleau's forest, south of the station
    items = api.get("/v1/relays?near=48.40,2.70").json["items"]
    # THEN Fontainebleau, then Melun, then Provins, each with its distance
    assert [r["name"] for r in items] == [
        "Gare de Fontainebleau",
        "Gare de Melun",
        "Provins centre",
    ]
    distances = [r["distance_km"] for r in items]
    assert distances == sorted(distances)
    assert 2 < distances[0] < 5  # ~3.3 km as the crow flies
    assert 10 < distances[1] < 20  # ~14 km


@pytest.mark.parametrize("near", ["48.4", "north,east", "91,2", "48.4,181", "nan,nan"])
def test_bad_near_is_refused(api: Api, three_relays: dict[str, str], near: str) -> None:
    answer = api.get(f"/v1/relays?near={near}")
    assert_problem(answer, 422, "validation_error")
    assert "near" in error_fields(answer)


def test_relays_are_paginated(api: Api, three_relays: dict[str, str]) -> None:
    first = api.get("/v1/relays?limit=2").json
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.get(f"/v1/relays?limit=2&cursor={first['next_cursor']}").json
    seen = [r["id"] for r in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(three_relays.values())
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("path", ["/v1/relays", "/v1/operators", "/v1/products"])
def test_catalogue_list_refuses_a_limit_outside_1_to_100(api: Api, admin: str, path: str) -> None:
    assert_problem(api.get(f"{path}?limit=0", token=admin), 422, "validation_error")


def test_relay_is_read_with_its_resources(api: Api, network: dict[str, str]) -> None:
    answer = api.get(f"/v1/relays/{network['relay']}")
    assert answer.status == 200
    resources = {r["id"]: r for r in answer.json["resources"]}
    assert set(resources) == {network["pool"], network["room"]}
    assert resources[network["pool"]]["kind"] == "hot_desk"
    assert resources[network["pool"]]["capacity"] == 3
    assert resources[network["room"]]["kind"] == "meeting_room"


# -- resources ---------------------------------------------------------------------------------


def test_resource_vat_rate_defaults_to_20(api: Api, admin: str, network: dict[str, str]) -> None:
    answer = api.post(f"/v1/relays/{network['relay']}/resources", resource_body(), token=admin)
    assert answer.status == 201, answer.json
    assert answer.json["vat_rate"] == "20.00"
    assert answer.json["relay_id"] == network["relay"]
    assert answer.json["rates"] == {"day": 1500, "half_day": 900, "hour": 400}


def test_resource_of_zero_seats_is_refused(api: Api, admin: str, network: dict[str, str]) -> None:
    answer = api.post(
        f"/v1/relays/{network['relay']}/resources", resource_body(capacity=0), token=admin
    )
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"capacity"}


def test_resource_of_an_unknown_kind_is_refused(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    answer = api.post(
        f"/v1/relays/{network['relay']}/resources", resource_body(kind="sofa"), token=admin
    )
    assert_problem(answer, 422, "validation_error")
    assert "kind" in error_fields(answer)


# -- products ----------------------------------------------------------------------------------


def pack_body(operator_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "kind": "credit_pack",
        "name": "Carnet 10 jours",
        "operator_id": operator_id,
        "price": {"amount": 12000, "vat_rate": "20.00"},
        "credits": 10,
        "validity_days": 365,
        **overrides,
    }


def test_admin_creates_a_credit_pack_with_a_full_price(
    api: Api, admin: str, operator_id: str
) -> None:
    answer = api.post("/v1/products", pack_body(operator_id), token=admin)
    assert answer.status == 201, answer.json
    product = answer.json
    assert product["price"] == {
        "amount": 12000,
        "currency": "EUR",
        "amount_excl_vat": 10000,
        "vat_amount": 2000,
        "vat_rate": "20.00",
    }
    assert (product["kind"], product["credits"], product["validity_days"]) == (
        "credit_pack",
        10,
        365,
    )
    assert product["operator_id"] == operator_id


def test_products_are_listed_publicly(api: Api, admin: str, operator_id: str) -> None:
    pack = api.post("/v1/products", pack_body(operator_id), token=admin).json
    membership = api.post(
        "/v1/products",
        {
            "kind": "membership",
            "name": "Nomade illimité",
            "operator_id": operator_id,
            "price": {"amount": 9900},
            "period": "month",
            "days_per_period": None,
        },
        token=admin,
    ).json
    answer = api.get("/v1/products")
    assert answer.status == 200
    listed = {p["id"]: p for p in answer.json["items"]}
    assert set(listed) == {pack["id"], membership["id"]}
    unlimited = listed[membership["id"]]
    assert (unlimited["period"], unlimited["days_per_period"]) == ("month", None)
    assert set(unlimited["price"]) == {
        "amount",
        "currency",
        "amount_excl_vat",
        "vat_amount",
        "vat_rate",
    }


def test_listed_products_carry_integer_cents_and_numeric_credits(
    api: Api, admin: str, operator_id: str
) -> None:
    created = api.post("/v1/products", pack_body(operator_id), token=admin).json
    (listed,) = api.get("/v1/products").json["items"]
    assert (
        listed["price"]
        == created["price"]
        == {
            "amount": 12000,
            "currency": "EUR",
            "amount_excl_vat": 10000,
            "vat_amount": 2000,
            "vat_rate": "20.00",
        }
    )
    assert listed["credits"] == 10


def test_product_of_an_unknown_operator_is_not_found(api: Api, admin: str) -> None:
    assert_problem(api.post("/v1/products", pack_body("op_nope"), token=admin), 404, "not_found")


def test_credit_pack_without_credits_is_refused(api: Api, admin: str, operator_id: str) -> None:
    body = pack_body(operator_id)
    del body["credits"]
    assert_problem(api.post("/v1/products", body, token=admin), 422, "validation_error")


def test_a_relay_with_thousands_of_amenities_is_refused_not_a_500(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    """Each label is short, but the list is bounded too (50): 6,000 labels (~600 KB)
    would pass DynamoDB's 400 KB item limit."""
    body = relay_body(network["operator"], amenities=[f"{i:05d}" + "x" * 95 for i in range(6000)])
    problem = assert_problem(api.post("/v1/relays", body, token=admin), 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["amenities"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("credits", 1e300), ("credits", 10**30), ("credits", 1.25), ("days_per_period", 10**30)],
)
def test_a_product_with_an_absurd_number_is_refused_naming_it(
    api: Api, admin: str, operator_id: str, field: str, value: float
) -> None:
    """Not a 500: a decimal past ~10^28 failed `multiple_of`'s division."""
    body = {**pack_body(operator_id), field: value}
    if field == "days_per_period":
        body = {**body, "kind": "membership", "period": "month", "credits": None}
        body.pop("validity_days")
    answer = api.post("/v1/products", body, token=admin)
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {field}
