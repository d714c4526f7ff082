"""GET /v1/stats/occupancy over HTTP: figures, periods, closures, CSV, who may read."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api, assert_problem, booked

WEDNESDAY = "2026-12-02"


def figures(api: Api, token: str, query: str) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/stats/occupancy?{query}", token=token)
    assert answer.status == 200, answer.json
    return list(answer.json["items"])


def one(rows: list[dict[str, Any]], kind: str, start: str) -> dict[str, Any]:
    (row,) = [r for r in rows if r["resource_kind"] == kind and r["period_start"] == start]
    return row


def test_open_seat_hours_are_opening_hours_times_seats(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    rows = figures(api, admin, f"from={WEDNESDAY}&to={WEDNESDAY}")
    hot_desks, room = one(rows, "hot_desk", WEDNESDAY), one(rows, "meeting_room", WEDNESDAY)
    assert (hot_desks["seat_hours_open"], room["seat_hours_open"]) == (33, 11)


def test_bookings_and_booked_seat_hours_are_counted(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    booked(api, admin, network["pool"], payment="none")
    booked(api, admin, network["pool"], payment="none", unit="hour", start="10:00", end="12:00")
    row = one(figures(api, admin, f"from={WEDNESDAY}&to={WEDNESDAY}"), "hot_desk", WEDNESDAY)
    assert (row["bookings"], row["seat_hours_booked"], row["unique_members"]) == (2, 13, 1)


def test_a_cancelled_booking_counts_as_a_cancellation_only(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    booking = booked(api, admin, network["pool"], payment="none")
    api.post(f"/v1/bookings/{booking['id']}/cancel", token=admin)
    row = one(figures(api, admin, f"from={WEDNESDAY}&to={WEDNESDAY}"), "hot_desk", WEDNESDAY)
    assert (row["bookings"], row["cancellations"], row["seat_hours_booked"]) == (0, 1, 0)


def test_a_closed_day_has_no_open_seat_hours(api: Api, admin: str, network: dict[str, str]) -> None:
    closure = {"date": WEDNESDAY, "reason": "Travaux"}
    api.post(f"/v1/relays/{network['relay']}/closures", closure, token=admin)
    row = one(figures(api, admin, f"from={WEDNESDAY}&to={WEDNESDAY}"), "hot_desk", WEDNESDAY)
    assert row["seat_hours_open"] == 0


# -- a resource or relay no longer bookable (its bookings taken on 2026-12-01) -------------


def deactivate(api: Api, admin: str, path: str) -> None:
    answer = api.request("PATCH", path, {"active": False}, token=admin, headers={"If-Match": '"1"'})
    assert answer.status == 200, answer.json


def test_a_retired_resource_keeps_open_seat_hours_on_the_days_of_its_kept_bookings(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    """API.md: an inactive resource's existing bookings stay: they are used, so its
    seats are open on their days and booked hours never exceed open ones."""
    booked(api, admin, network["pool"], payment="none")
    deactivate(api, admin, f"/v1/relays/{network['relay']}/resources/{network['pool']}")
    row = one(figures(api, admin, f"from={WEDNESDAY}&to={WEDNESDAY}"), "hot_desk", WEDNESDAY)
    assert (row["seat_hours_booked"], row["seat_hours_open"]) == (11, 33)


def test_a_retired_resource_keeps_its_open_seat_hours_of_the_days_it_was_bookable(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    """No history of `active` is kept: up to the day a booking of the period was last
    taken on it, it was bookable, and its open seat-hours of those days stay."""
    booked(api, admin, network["pool"], payment="none")
    deactivate(api, admin, f"/v1/relays/{network['relay']}/resources/{network['pool']}")
    rows = figures(api, admin, f"from=2026-11-30&to={WEDNESDAY}")
    assert one(rows, "hot_desk", "2026-11-30")["seat_hours_open"] == 33


def test_a_withdrawn_relay_counts_no_open_seat_hours_on_a_day_it_offered_nothing(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    booked(api, admin, network["pool"], payment="none")
    deactivate(api, admin, f"/v1/relays/{network['relay']}")
    assert figures(api, admin, f"from=2026-12-03&to=2026-12-03&relay_id={network['relay']}") == []


def test_weeks_start_on_monday_and_sum_their_days(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    rows = figures(api, admin, "from=2026-11-30&to=2026-12-06&granularity=week")
    assert one(rows, "hot_desk", "2026-11-30")["seat_hours_open"] == 5 * 33


def test_one_item_per_relay_kind_and_period(api: Api, admin: str, network: dict[str, str]) -> None:
    rows = figures(api, admin, "from=2026-12-01&to=2026-12-31&granularity=month")
    assert [(r["resource_kind"], r["period_start"]) for r in rows] == [
        ("hot_desk", "2026-12-01"),
        ("meeting_room", "2026-12-01"),
    ]


def test_the_figures_carry_no_personal_data(api: Api, admin: str, network: dict[str, str]) -> None:
    booked(api, admin, network["pool"], payment="none")
    answer = api.get(f"/v1/stats/occupancy?from={WEDNESDAY}&to={WEDNESDAY}", token=admin)
    assert "admin-1" not in answer.body.decode()


def test_csv_has_the_same_columns(api: Api, admin: str, network: dict[str, str]) -> None:
    answer = api.get(
        f"/v1/stats/occupancy?from={WEDNESDAY}&to={WEDNESDAY}",
        token=admin,
        headers={"Accept": "text/csv"},
    )
    header = answer.body.decode().splitlines()[0]
    assert header == (
        "relay_id,resource_kind,period_start,seat_hours_open,seat_hours_booked,"
        "seat_hours_checked_in,bookings,cancellations,no_shows,unique_members,revenue_excl_vat"
    )


def test_a_manager_sees_only_their_relays(api: Api, network: dict[str, str]) -> None:
    manager = api.token("mgr-1", f"manager:{network['relay']}")
    rows = figures(api, manager, f"from={WEDNESDAY}&to={WEDNESDAY}")
    assert {r["relay_id"] for r in rows} == {network["relay"]}


def test_a_manager_cannot_read_another_relay(api: Api, network: dict[str, str]) -> None:
    manager = api.token("mgr-2", "manager:rly_other")
    query = f"from={WEDNESDAY}&to={WEDNESDAY}&relay_id={network['relay']}"
    assert_problem(api.get(f"/v1/stats/occupancy?{query}", token=manager), 403, "forbidden")


def test_a_member_cannot_read_statistics(api: Api, member: str, network: dict[str, str]) -> None:
    query = f"from={WEDNESDAY}&to={WEDNESDAY}"
    assert_problem(api.get(f"/v1/stats/occupancy?{query}", token=member), 403, "forbidden")


def test_a_period_over_366_days_is_refused(api: Api, admin: str, network: dict[str, str]) -> None:
    answer = api.get("/v1/stats/occupancy?from=2026-01-01&to=2027-01-02", token=admin)
    assert_problem(answer, 422, "validation_error")
