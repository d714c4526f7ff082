"""Strict parsing: a value of the wrong JSON type, or a query value not written as the
document says, is a 422 naming the field (never coerced, never a 500)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api, assert_problem, error_fields, relay_body, resource_body


def test_a_boolean_longitude_is_refused(api: Api, admin: str, network: dict[str, str]) -> None:
    body = relay_body(network["operator"], location={"lat": 48.5, "lon": False})
    answer = api.post("/v1/relays", body, token=admin)
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"location.lon"}


def test_an_integer_written_as_a_string_is_refused(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    body = resource_body(capacity="3")
    answer = api.post(f"/v1/relays/{network['relay']}/resources", body, token=admin)
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"capacity"}


def test_an_integral_float_is_an_integer(api: Api, admin: str, network: dict[str, str]) -> None:
    body = resource_body(capacity=3.0)
    answer = api.post(f"/v1/relays/{network['relay']}/resources", body, token=admin)
    assert (answer.status, answer.json["capacity"]) == (201, 3)


def test_a_tiny_coordinate_is_stored_rounded_not_a_server_error(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    body = relay_body(network["operator"], location={"lat": 5.7e-304, "lon": 2.5})
    answer = api.post("/v1/relays", body, token=admin)
    assert (answer.status, answer.json["location"]["lat"]) == (201, 0.0)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("to=0", "to"),
        ("from=20261201", "from"),
        ("from=2026-12-01T00:00:00", "from"),
        ("limit=1.5", "limit"),
        ("limit=true", "limit"),
        ("from=2026-12-02&to=2026-12-01", "from"),
    ],
)
def test_a_query_value_not_written_as_documented_is_refused(
    api: Api, member: str, query: str, field: str
) -> None:
    answer = api.get(f"/v1/bookings?{query}", token=member)
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {field}


def test_the_year_zero_month_is_a_422_not_a_500(
    api: Api, accountant: str, network: dict[str, str]
) -> None:
    answer = api.get(
        f"/v1/accounting/vat?month=0000-01&operator_id={network['operator']}", token=accountant
    )
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"month"}


@pytest.mark.parametrize("near", ["91,2", "48.5", "1e3,2", "nan,2"])
def test_a_near_outside_its_pattern_is_refused(api: Api, near: str) -> None:
    answer = api.get(f"/v1/relays?near={near}")
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"near"}


def test_a_credit_count_written_as_a_string_is_refused(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    body: dict[str, Any] = {
        "kind": "credit_pack",
        "name": "Carnet",
        "price": {"amount": 12000},
        "operator_id": network["operator"],
        "credits": "10",
        "validity_days": 180,
    }
    answer = api.post("/v1/products", body, token=admin)
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"credits"}
