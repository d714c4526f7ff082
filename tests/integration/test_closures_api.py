"""Closures over HTTP: ranges, public holidays, listing, lifting with If-Match."""

from __future__ import annotations

from typing import Any

from tests.support.api import Answer, Api, assert_problem, booked, error_fields

WEDNESDAY = "2026-12-02"


def close(api: Api, token: str, relay: str, body: dict[str, Any]) -> Answer:
    return api.post(f"/v1/relays/{relay}/closures", body, token=token)


def lift(api: Api, token: str, relay: str, closure_id: str, version: int | None) -> Answer:
    headers = {} if version is None else {"If-Match": f'"{version}"'}
    path = f"/v1/relays/{relay}/closures/{closure_id}"
    return api.request("DELETE", path, token=token, headers=headers)


def test_a_single_day_closure_has_an_id_and_version(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    answer = close(api, admin, network["relay"], {"date": WEDNESDAY, "reason": "Travaux"})
    assert (answer.json["id"], answer.json["version"]) == ("clo_20261202", 1)


def test_a_range_closes_one_day_each(api: Api, admin: str, network: dict[str, str]) -> None:
    body = {"from": "2026-12-24", "to": "2026-12-27", "reason": "Fêtes"}
    answer = close(api, admin, network["relay"], body)
    assert [c["date"] for c in answer.json["closures"]] == [
        "2026-12-24",
        "2026-12-25",
        "2026-12-26",
        "2026-12-27",
    ]


def test_a_range_cancels_the_bookings_of_its_days(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    booked(api, member, network["pool"])
    body = {"from": WEDNESDAY, "to": "2026-12-03", "reason": "Grève"}
    assert close(api, admin, network["relay"], body).json["cancelled_bookings"] == 1


def test_a_range_over_366_days_is_refused(api: Api, admin: str, network: dict[str, str]) -> None:
    body = {"from": "2027-01-01", "to": "2028-01-02", "reason": "Travaux"}
    answer = close(api, admin, network["relay"], body)
    assert_problem(answer, 422, "validation_error")


def test_public_holidays_close_the_eleven_days_of_the_year(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    answer = close(api, admin, network["relay"], {"public_holidays": 2027})
    days = {c["date"]: c["reason"] for c in answer.json["closures"]}
    assert (len(days), days["2027-03-29"], days["2027-05-06"]) == (
        11,
        "Lundi de Pâques",
        "Ascension",
    )


def test_public_holidays_skip_days_already_closed(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    close(api, admin, network["relay"], {"date": "2027-12-25", "reason": "Noël"})
    answer = close(api, admin, network["relay"], {"public_holidays": 2027})
    assert "2027-12-25" not in [c["date"] for c in answer.json["closures"]]


def test_two_forms_at_once_are_refused(api: Api, admin: str, network: dict[str, str]) -> None:
    body = {"date": WEDNESDAY, "public_holidays": 2027, "reason": "x"}
    assert_problem(close(api, admin, network["relay"], body), 422, "validation_error")


def test_closures_are_listed_by_date_within_from_to(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    close(api, admin, network["relay"], {"public_holidays": 2027})
    answer = api.get(f"/v1/relays/{network['relay']}/closures?from=2027-05-01&to=2027-05-31")
    assert [c["date"] for c in answer.json["items"]] == [
        "2027-05-01",
        "2027-05-06",
        "2027-05-08",
        "2027-05-17",
    ]


def test_closures_are_paged(api: Api, admin: str, network: dict[str, str]) -> None:
    close(api, admin, network["relay"], {"public_holidays": 2027})
    path = f"/v1/relays/{network['relay']}/closures"
    first = api.get(f"{path}?limit=6").json
    rest = api.get(f"{path}?limit=6&cursor={first['next_cursor']}").json
    assert (len(first["items"]), len(rest["items"]), rest["next_cursor"]) == (6, 5, None)


def test_lifting_a_closure_reopens_the_day(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    close(api, admin, network["relay"], {"date": WEDNESDAY, "reason": "Travaux"})
    assert lift(api, admin, network["relay"], "clo_20261202", 1).status == 204
    assert booked(api, member, network["pool"])["status"] == "held"


def test_lifting_a_closure_leaves_its_cancelled_bookings_cancelled(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    booking = booked(api, member, network["pool"])
    close(api, admin, network["relay"], {"date": WEDNESDAY, "reason": "Travaux"})
    lift(api, admin, network["relay"], "clo_20261202", 1)
    answer = api.get(f"/v1/bookings/{booking['id']}", token=member)
    assert answer.json["status"] == "cancelled"


def test_lifting_without_if_match_is_refused(api: Api, admin: str, network: dict[str, str]) -> None:
    close(api, admin, network["relay"], {"date": WEDNESDAY, "reason": "Travaux"})
    answer = lift(api, admin, network["relay"], "clo_20261202", None)
    assert_problem(answer, 428, "precondition_required")


def test_lifting_with_a_stale_version_is_refused(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    close(api, admin, network["relay"], {"date": WEDNESDAY, "reason": "Travaux"})
    answer = lift(api, admin, network["relay"], "clo_20261202", 2)
    assert_problem(answer, 412, "precondition_failed")


def test_lifting_an_unknown_closure_is_not_found(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    assert_problem(lift(api, admin, network["relay"], "clo_20261203", 1), 404, "not_found")


def test_a_member_cannot_lift_a_closure(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    close(api, admin, network["relay"], {"date": WEDNESDAY, "reason": "Travaux"})
    assert_problem(lift(api, member, network["relay"], "clo_20261202", 1), 403, "forbidden")


def test_a_range_needs_a_reason(api: Api, admin: str, network: dict[str, str]) -> None:
    answer = close(api, admin, network["relay"], {"from": WEDNESDAY, "to": WEDNESDAY})
    assert error_fields(answer) == {"body"}
