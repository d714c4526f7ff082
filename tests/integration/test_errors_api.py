"""Every error is an RFC 9457 problem with a stable code, and bad input never gets a 5xx
(HTTP, chalice test client, moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.api import (
    PROBLEM_KEYS,
    Api,
    assert_problem,
    booked,
    booking_body,
    error_fields,
    operator_body,
    resource_body,
)

# -- 400 malformed JSON ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        '{"resource_id": ',
        "not json",
        "{'single': 'quotes'}",
        "{,}",
        '{"resource_id": "\\ud800"}',  # half a surrogate pair: no Unicode character
    ],
)
def test_malformed_json_booking_body_is_a_400(api: Api, member: str, raw: str) -> None:
    answer = api.request("POST", "/v1/bookings", raw=raw, token=member)
    assert_problem(answer, 400, "malformed_json")


def test_malformed_json_operator_body_is_a_400(api: Api, admin: str) -> None:
    answer = api.request("POST", "/v1/operators", raw='{"name": "x",}', token=admin)
    assert_problem(answer, 400, "malformed_json")


@pytest.mark.parametrize(
    "raw",
    ['{"name": ', "not json", b"\xff", '{"reason": "\\ud800"}'],  # half a character
)
def test_a_write_without_a_body_refuses_one_that_is_not_json_and_does_nothing(
    api: Api, member: str, network: dict[str, str], raw: str | bytes
) -> None:
    """The README: "a body that is not JSON gets 400 `malformed_json`" — on a cancel too,
    which takes none (found by review R6: it cancelled and refunded)."""
    booking = booked(api, member, network["pool"], date="2026-12-10")
    path = f"/v1/bookings/{booking['id']}/cancel"
    assert_problem(api.request("POST", path, raw=raw, token=member), 400, "malformed_json")
    assert api.get(f"/v1/bookings/{booking['id']}", token=member).json["status"] != "cancelled"
    assert api.request("POST", path, raw="", token=member).status == 200  # none: fine


def test_body_that_is_not_utf8_is_a_400(api: Api, member: str) -> None:
    answer = api.request("POST", "/v1/bookings", raw=b'{"resource_id": "\xff\xfe"}', token=member)
    assert_problem(answer, 400, "malformed_json")


def test_json_with_a_charset_parameter_is_accepted(
    api: Api, member: str, network: dict[str, str]
) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    answer = api.post("/v1/bookings", booking_body(network["pool"]), token=member, headers=headers)
    assert answer.status == 201, answer.body[:300]


@pytest.mark.parametrize("media_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_is_read_as_json_whatever_its_declared_type(
    api: Api, member: str, network: dict[str, str], media_type: str
) -> None:
    # `curl -d '{...}'` declares a form: the body is JSON all the same.
    raw = json.dumps(booking_body(network["pool"]))
    answer = api.request(
        "POST", "/v1/bookings", raw=raw, token=member, headers={"Content-Type": media_type}
    )
    assert answer.status == 201, answer.body[:300]


@pytest.mark.parametrize(
    "media_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", "x/y"]
)
def test_a_body_that_is_not_json_gets_a_problem_whatever_its_type(
    api: Api, member: str, network: dict[str, str], media_type: str
) -> None:
    answer = api.request(
        "POST",
        "/v1/bookings",
        raw="resource_id=x&date=2026-12-02",
        token=member,
        headers={"Content-Type": media_type},
    )
    assert answer.status == 400
    assert answer.headers.get("Content-Type", "").startswith("application/problem+json")
    assert set(answer.json) >= PROBLEM_KEYS
    assert answer.json["code"] == "malformed_json"


# -- 422 validation ----------------------------------------------------------------------------


def test_invalid_siren_names_the_siren_field(api: Api, admin: str) -> None:
    answer = api.post("/v1/operators", operator_body(siren="12345"), token=admin)
    assert_problem(answer, 422, "validation_error")
    assert "siren" in error_fields(answer)


def test_missing_nested_field_is_named_with_a_dotted_path(api: Api, admin: str) -> None:
    body = operator_body(address={"line1": "2 place Praslin", "city": "Melun", "country": "FR"})
    answer = api.post("/v1/operators", body, token=admin)
    assert_problem(answer, 422, "validation_error")
    assert "address.postcode" in error_fields(answer)


def test_every_missing_field_is_reported_at_once(api: Api, admin: str) -> None:
    answer = api.post("/v1/operators", {"name": "SCIC"}, token=admin)
    assert_problem(answer, 422, "validation_error")
    assert {
        "legal_form",
        "siren",
        "vat_regime",
        "address",
        "invoice_prefix",
        "email",
    } <= error_fields(answer)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"date": "tomorrow"}, "date"),
        ({"date": "2026-13-45"}, "date"),
        ({"unit": "week"}, "unit"),
        ({"payment": "cash"}, "payment"),
        ({"resource_id": 42}, "resource_id"),
        ({"start": 9}, "start"),
    ],
)
def test_booking_with_a_wrong_type_names_the_field(
    api: Api, member: str, network: dict[str, str], override: dict[str, Any], field: str
) -> None:
    answer = api.post("/v1/bookings", {**booking_body(network["pool"]), **override}, token=member)
    assert_problem(answer, 422, "validation_error")
    assert field in error_fields(answer)


def test_booking_without_a_resource_id_names_it(api: Api, member: str) -> None:
    body = {"date": "2026-12-02", "unit": "day", "payment": "card"}
    answer = api.post("/v1/bookings", body, token=member)
    assert_problem(answer, 422, "validation_error")
    assert "resource_id" in error_fields(answer)


def test_resource_with_a_string_capacity_names_the_field(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    answer = api.post(
        f"/v1/relays/{network['relay']}/resources", resource_body(capacity="three"), token=admin
    )
    assert_problem(answer, 422, "validation_error")
    assert "capacity" in error_fields(answer)


@pytest.mark.parametrize("path", ["/v1/bookings", "/v1/operators"])
def test_json_array_body_is_a_422(api: Api, admin: str, path: str) -> None:
    answer = api.post(path, [operator_body()], token=admin)
    assert_problem(answer, 422, "validation_error")


@pytest.mark.parametrize("limit", [0, 101, "many"])
def test_limit_outside_1_to_100_is_refused(api: Api, member: str, limit: object) -> None:
    assert_problem(api.get(f"/v1/bookings?limit={limit}", token=member), 422, "validation_error")


# -- 404 unknown ids ---------------------------------------------------------------------------


def test_unknown_resource_in_a_booking_body_is_a_404(
    api: Api, member: str, network: dict[str, str]
) -> None:
    answer = api.post("/v1/bookings", booking_body("res_does_not_exist"), token=member)
    assert_problem(answer, 404, "not_found")


def test_unknown_relay_in_the_path_is_a_404(api: Api, ctx: object) -> None:
    assert_problem(api.get("/v1/relays/rly_does_not_exist"), 404, "not_found")


def test_adding_a_resource_to_an_unknown_relay_is_a_404(api: Api, admin: str) -> None:
    answer = api.post("/v1/relays/rly_does_not_exist/resources", resource_body(), token=admin)
    assert_problem(answer, 404, "not_found")


def test_unknown_booking_is_a_404(api: Api, member: str) -> None:
    assert_problem(api.get("/v1/bookings/bkg_does_not_exist", token=member), 404, "not_found")


# -- the problem shape -------------------------------------------------------------------------


def _sample_errors(api: Api, member: str, admin: str, pool: str) -> list[Any]:
    return [
        api.get("/v1/bookings"),  # 401
        api.post("/v1/operators", operator_body(), token=member),  # 403
        api.get("/v1/relays/rly_nope"),  # 404
        api.request("POST", "/v1/bookings", raw="{", token=member),  # 400
        api.post("/v1/bookings", {}, token=member),  # 422
        api.post("/v1/operators", operator_body(), token=admin),  # 409 (network made one)
        api.post("/v1/bookings", booking_body(pool, date="2026-12-05"), token=member),  # 409
        api.get("/v1/availability?date=someday"),  # 422 on a query
    ]


def test_every_problem_has_the_rfc9457_shape(
    api: Api, member: str, admin: str, network: dict[str, str]
) -> None:
    answers = _sample_errors(api, member, admin, network["pool"])
    assert sorted({a.status for a in answers}) == [400, 401, 403, 404, 409, 422]
    for answer in answers:
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        problem = answer.json
        assert set(problem) >= PROBLEM_KEYS, problem
        assert problem["status"] == answer.status
        assert isinstance(problem["type"], str) and problem["type"]
        assert isinstance(problem["title"], str) and problem["title"]
        assert isinstance(problem["detail"], str) and problem["detail"]
        assert isinstance(problem["code"], str) and problem["code"]
        assert isinstance(problem["errors"], list)


def test_validation_problem_lists_field_and_message_pairs(api: Api, member: str) -> None:
    answer = api.post("/v1/bookings", {}, token=member)
    errors = assert_problem(answer, 422, "validation_error")["errors"]
    assert errors
    for error in errors:
        assert set(error) >= {"field", "message"}
        assert isinstance(error["field"], str) and isinstance(error["message"], str)


# -- odd bodies never give a 5xx ---------------------------------------------------------------

ODD_BODIES: list[Any] = [
    "null",
    "true",
    "12345",
    '"a string"',
    "[]",
    "{}",
    '{"": ""}',
    json.dumps({"resource_id": None, "date": None, "unit": None, "payment": None}),
    json.dumps(
        {"resource_id": "x" * 1_000_000, "date": "2026-12-02", "unit": "day", "payment": "card"}
    ),
    json.dumps({"name": "x" * 100_000, "siren": "9" * 10_000}),
    json.dumps({"resource_id": {"$ne": None}, "date": ["2026-12-02"], "unit": {"a": [1, {}]}}),
    json.dumps({"address": {"postcode": {"nested": {"deeper": [[[]]]}}}, "location": []}),
    json.dumps(
        {
            "resource_id": "ümlaut-日本語-🚀",
            "date": "２０２６-１２-０２",
            "unit": "dáy",
            "payment": "cärd",
            "name": "Relais ☕ Ñ",
        }
    ),
    json.dumps({"resource_id": "\u0000\u202e", "siren": "７３２８２９３２０"}),
    '{"resource_id": "\\ud800", "name": "\\udfff", "date": "2026-12-02"}',
    '{"date": NaN, "capacity": Infinity, "siren": -Infinity}',
    '{"unit": 1e999999, "date": 123456789012345678901234567890}',
    '{"a": 1, "a": 2, "resource_id": "x", "resource_id": "y"}',
    "[" * 50 + "]" * 50,
    json.dumps({"address": {"line1": "\n\t\r", "postcode": " ", "city": "\x7f"}}),
]


@pytest.mark.parametrize("raw", ODD_BODIES, ids=range(len(ODD_BODIES)))
@pytest.mark.parametrize("path", ["/v1/bookings", "/v1/operators"])
def test_odd_body_never_gets_a_server_error(api: Api, admin: str, path: str, raw: str) -> None:
    answer = api.request("POST", path, raw=raw, token=admin)
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    assert answer.headers["Content-Type"].startswith("application/problem+json")


ODD_TIMES: list[dict[str, Any]] = [
    {"start": "24:00", "end": "24:00"},
    {"start": "23:30", "end": "24:00"},
    {"start": "00:00", "end": "24:00"},
    {"start": "99:99", "end": "10:00"},
    {"start": "١٠:٠٠", "end": "١١:٠٠"},
    {"start": "10:00", "end": "10:00"},
    {"start": "-1:00", "end": "10:00"},
    {"start": None, "end": None},
]


@pytest.mark.parametrize("times", ODD_TIMES, ids=range(len(ODD_TIMES)))
def test_odd_hours_on_a_real_resource_never_get_a_server_error(
    api: Api, member: str, network: dict[str, str], times: dict[str, Any]
) -> None:
    body = booking_body(network["pool"], unit="hour", **times)
    answer = api.post("/v1/bookings", body, token=member)
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    assert answer.headers["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ["/v1/bookings", "/v1/operators"])
def test_deeply_nested_body_is_rejected_as_a_client_error(api: Api, admin: str, path: str) -> None:
    answer = api.request("POST", path, raw="[" * 100_000 + "]" * 100_000, token=admin)
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])


# -- out-of-range input must not reach the database or the calendar as is --------------------


@pytest.mark.parametrize("cursor", ["not-a-cursor", "e30", "W10", "eyJQSyI6IDF9"])
def test_garbage_cursor_is_a_validation_error(api: Api, member: str, cursor: str) -> None:
    answer = api.get(f"/v1/bookings?cursor={cursor}", token=member)
    assert_problem(answer, 422, "validation_error")
    assert "cursor" in error_fields(answer)


@pytest.fixture
def member_cursor(api: Api, member: str, network: dict[str, str]) -> str:
    """A genuine cursor of member-1's own booking list (page 1 of 2)."""
    for day in ("2026-12-02", "2026-12-03"):
        booked(api, member, network["pool"], date=day)
    cursor = api.get("/v1/bookings?limit=1", token=member).json["next_cursor"]
    assert cursor
    return str(cursor)


def test_cursor_of_another_listing_is_refused_by_the_network_listing(
    api: Api, admin: str, member_cursor: str
) -> None:
    answer = api.get(f"/v1/bookings?cursor={member_cursor}", token=admin)
    assert_problem(answer, 422, "validation_error")


def test_cursor_of_another_listing_is_refused_by_the_relay_listing(
    api: Api, admin: str, network: dict[str, str], member_cursor: str
) -> None:
    answer = api.get(
        f"/v1/bookings?relay_id={network['relay']}&cursor={member_cursor}", token=admin
    )
    assert_problem(answer, 422, "validation_error")


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_availability_at_the_ends_of_the_calendar_is_not_a_server_error(
    api: Api, network: dict[str, str], day: str
) -> None:
    answer = api.get(f"/v1/availability?date={day}&relay_id={network['relay']}")
    assert answer.status < 500, answer.body[:300]


def test_job_as_of_at_the_start_of_the_calendar_is_not_a_server_error(api: Api, admin: str) -> None:
    answer = api.post(
        "/v1/admin/jobs/expire_holds", {"as_of": "0001-01-01T00:00:00+01:00"}, token=admin
    )
    assert answer.status < 500, answer.body[:300]
