"""Bookings end to end over HTTP: units, capacity, dates, listing, cancel, check-in and
expiring holds (chalice test client, moto). Payment rights are in test_auth_api, closures
in test_availability_api.

The clock stands at Tuesday 2026-12-01 07:00 Paris; the network relay opens 08:00-19:00
on weekdays, with a 3-seat hot-desk pool and a 1-seat meeting room (no day rate)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.clock import FixedClock
from tests.support.api import (
    Api,
    add_relay,
    assert_problem,
    book,
    booked,
    error_fields,
    free_seats,
)

PARIS = ZoneInfo("Europe/Paris")
WED, THU, SAT = "2026-12-02", "2026-12-03", "2026-12-05"


@pytest.fixture
def manager(api: Api, network: dict[str, str]) -> str:
    return api.token("manager-1", f"manager:{network['relay']}")


# -- units -------------------------------------------------------------------------------------


UNITS = {  # fields -> (start, end, price)
    "day": ({"unit": "day"}, "08:00", "19:00", 1500),
    "half_day_am": ({"unit": "half_day_am"}, "08:00", "13:00", 900),
    "half_day_pm": ({"unit": "half_day_pm"}, "13:00", "19:00", 900),
    "hour": ({"unit": "hour", "start": "09:00", "end": "10:30"}, "09:00", "10:30", 600),
}


@pytest.mark.parametrize("unit", UNITS)
def test_unit_covers_its_part_of_the_day_at_its_price(
    api: Api, member: str, network: dict[str, str], unit: str
) -> None:
    fields, start, end, amount = UNITS[unit]
    answer = book(api, member, network["pool"], **fields)
    assert answer.status == 201, answer.json
    booking = answer.json["booking"]
    assert booking["start"] == f"{WED}T{start}:00+01:00"
    assert booking["end"] == f"{WED}T{end}:00+01:00"
    assert booking["unit"] == unit
    assert booking["price"] == {
        "amount": amount,
        "currency": "EUR",
        "vat_rate": "20.00",
        "amount_excl_vat": amount * 5 // 6,
        "vat_amount": amount // 6,
    }
    assert booking["member_id"] == "member-1" and booking["relay_id"] == network["relay"]


def test_hour_off_the_half_hour_grid_is_refused(
    api: Api, member: str, network: dict[str, str]
) -> None:
    answer = book(api, member, network["pool"], unit="hour", start="09:15", end="10:00")
    assert_problem(answer, 422, "validation_error")
    assert "start" in error_fields(answer)


@pytest.mark.parametrize(("start", "end"), [("07:00", "08:30"), ("18:30", "19:30")])
def test_hours_outside_opening_hours_are_refused(
    api: Api, member: str, network: dict[str, str], start: str, end: str
) -> None:
    answer = book(api, member, network["pool"], unit="hour", start=start, end=end)
    assert_problem(answer, 422, "outside_opening_hours")


@pytest.mark.parametrize("times", [{}, {"start": "10:00"}, {"start": "11:00", "end": "10:00"}])
def test_hour_without_a_proper_start_and_end_is_refused(
    api: Api, member: str, network: dict[str, str], times: dict[str, str]
) -> None:
    assert_problem(
        book(api, member, network["pool"], unit="hour", **times), 422, "validation_error"
    )


# -- capacity ----------------------------------------------------------------------------------


def test_fourth_booking_of_a_three_seat_pool_is_refused(api: Api, network: dict[str, str]) -> None:
    for n in range(3):
        booked(api, api.token(f"member-{n}"), network["pool"])
    answer = book(api, api.token("member-9"), network["pool"])
    assert_problem(answer, 409, "slot_unavailable")


def test_overlapping_meeting_room_booking_is_refused(
    api: Api, member: str, network: dict[str, str]
) -> None:
    booked(api, member, network["room"], unit="hour", start="10:00", end="12:00")
    overlap = book(
        api, api.token("member-2"), network["room"], unit="hour", start="11:00", end="13:00"
    )
    assert_problem(overlap, 409, "slot_unavailable")


def test_meeting_room_booking_right_after_another_is_accepted(
    api: Api, member: str, network: dict[str, str]
) -> None:
    booked(api, member, network["room"], unit="hour", start="10:00", end="12:00")
    booked(api, api.token("member-2"), network["room"], unit="hour", start="12:00", end="13:00")


# -- dates and units offered -------------------------------------------------------------------


@pytest.mark.parametrize("day", ["2026-11-30", "2027-03-02"])
def test_past_dates_and_dates_beyond_90_days_are_refused(
    api: Api, member: str, network: dict[str, str], day: str
) -> None:
    answer = book(api, member, network["pool"], date=day)
    assert_problem(answer, 422, "validation_error")
    assert "date" in error_fields(answer)


def test_date_90_days_ahead_is_accepted(api: Api, member: str, network: dict[str, str]) -> None:
    assert booked(api, member, network["pool"], date="2027-03-01")["date"] == "2027-03-01"


def test_unit_the_resource_does_not_offer_is_refused(
    api: Api, member: str, network: dict[str, str]
) -> None:
    answer = book(api, member, network["room"], unit="day")
    assert_problem(answer, 422, "validation_error")
    assert "unit" in error_fields(answer)


def test_booking_on_a_closed_weekday_is_refused(
    api: Api, member: str, network: dict[str, str]
) -> None:
    assert_problem(book(api, member, network["pool"], date=SAT), 409, "relay_closed")


# -- listing and reading -----------------------------------------------------------------------

FIVE_DAYS = ["2026-12-02", "2026-12-03", "2026-12-04", "2026-12-07", "2026-12-08"]


def test_member_lists_own_bookings_between_two_dates(
    api: Api, member: str, network: dict[str, str]
) -> None:
    for day in FIVE_DAYS:
        booked(api, member, network["pool"], date=day)
    booked(api, api.token("member-2"), network["pool"], date=THU)
    items = api.get("/v1/bookings?from=2026-12-03&to=2026-12-07", token=member).json["items"]
    assert sorted(b["date"] for b in items) == ["2026-12-03", "2026-12-04", "2026-12-07"]
    assert {b["member_id"] for b in items} == {"member-1"}


def test_member_lists_own_bookings_by_status(
    api: Api, member: str, network: dict[str, str]
) -> None:
    first, _ = (booked(api, member, network["pool"], date=d) for d in (WED, THU))
    api.post(f"/v1/bookings/{first['id']}/cancel", token=member)
    items = api.get("/v1/bookings?status=cancelled", token=member).json["items"]
    assert [b["id"] for b in items] == [first["id"]]


def test_member_pages_through_bookings_without_duplicates(
    api: Api, member: str, network: dict[str, str]
) -> None:
    made = {booked(api, member, network["pool"], date=d)["id"] for d in FIVE_DAYS}
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page = api.get(
            "/v1/bookings?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=member
        ).json
        assert len(page["items"]) <= 2
        seen += [b["id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert sorted(seen) == sorted(made)


def test_manager_lists_the_bookings_of_their_relay(
    api: Api, admin: str, manager: str, network: dict[str, str]
) -> None:
    other = add_relay(api, admin, network["operator"], name="Gare de Fontainebleau")
    here = booked(api, api.token("member-2"), network["pool"])
    booked(api, api.token("member-3"), other["pool"])
    items = api.get(f"/v1/bookings?relay_id={network['relay']}", token=manager).json["items"]
    assert [b["id"] for b in items] == [here["id"]]


def test_admin_lists_bookings_of_every_relay(api: Api, admin: str, network: dict[str, str]) -> None:
    other = add_relay(api, admin, network["operator"], name="Gare de Fontainebleau")
    ids = {
        booked(api, api.token("member-2"), network["pool"])["id"],
        booked(api, api.token("member-3"), other["pool"])["id"],
    }
    assert {b["id"] for b in api.get("/v1/bookings", token=admin).json["items"]} == ids


def test_admin_pages_through_every_relay_without_duplicates(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    other = add_relay(api, admin, network["operator"], name="Gare de Fontainebleau")
    made = {
        booked(api, api.token(f"m-{n}"), pool, date=day)["id"]
        for n, (pool, day) in enumerate(
            [
                (network["pool"], WED),
                (other["pool"], WED),
                (network["pool"], THU),
                (other["pool"], THU),
            ]
        )
    }
    seen, cursor = [], ""
    for _ in range(10):
        page = api.get(
            f"/v1/bookings?limit=1&cursor={cursor}" if cursor else "/v1/bookings?limit=1",
            token=admin,
        ).json
        seen += [b["id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made)


def test_owner_reads_their_booking(api: Api, member: str, network: dict[str, str]) -> None:
    made = booked(api, member, network["pool"])
    answer = api.get(f"/v1/bookings/{made['id']}", token=member)
    assert answer.status == 200
    assert (answer.json["id"], answer.json["status"], answer.json["date"]) == (
        made["id"],
        "held",
        WED,
    )


def test_booking_read_back_has_the_same_price_object(
    api: Api, member: str, network: dict[str, str]
) -> None:
    made = booked(api, member, network["pool"])
    assert api.get(f"/v1/bookings/{made['id']}", token=member).json["price"] == made["price"]


# -- cancel ------------------------------------------------------------------------------------


def test_cancelling_a_held_booking_frees_its_seat(
    api: Api, member: str, network: dict[str, str]
) -> None:
    made = booked(api, member, network["room"], unit="hour", start="09:00", end="10:00")
    answer = api.post(f"/v1/bookings/{made['id']}/cancel", token=member)
    assert answer.status == 200, answer.json
    assert answer.json["booking"]["status"] == "cancelled"
    assert "cancelled_at" in answer.json["booking"]
    assert {"refund", "credits_restored", "credit_note_id"} <= set(answer.json)
    assert free_seats(api, network["relay"], network["room"], WED)["09:00"] == 1


def test_cancelling_twice_is_an_invalid_state(
    api: Api, member: str, network: dict[str, str]
) -> None:
    made = booked(api, member, network["pool"])
    api.post(f"/v1/bookings/{made['id']}/cancel", token=member)
    again = api.post(f"/v1/bookings/{made['id']}/cancel", token=member)
    assert_problem(again, 409, "invalid_state")
    assert set(free_seats(api, network["relay"], network["pool"], WED).values()) == {3}


# -- check-in ----------------------------------------------------------------------------------


@pytest.fixture
def confirmed(api: Api, manager: str, network: dict[str, str]) -> str:
    """A confirmed 10:00-11:00 room booking on Wednesday, the manager's own (free)."""
    return booked(
        api, manager, network["room"], unit="hour", start="10:00", end="11:00", payment="none"
    )["id"]


@pytest.mark.parametrize(
    "moment",
    [datetime(2026, 12, 1, 7, 0), datetime(2026, 12, 2, 9, 29), datetime(2026, 12, 2, 11, 30)],
)
def test_check_in_outside_its_window_is_refused(
    api: Api, manager: str, confirmed: str, clock: FixedClock, moment: datetime
) -> None:
    clock.moment = moment.replace(tzinfo=PARIS)
    answer = api.post(f"/v1/bookings/{confirmed}/check-in", token=manager)
    assert_problem(answer, 409, "invalid_state")


def test_check_in_from_30_minutes_before_the_start(
    api: Api, manager: str, confirmed: str, clock: FixedClock
) -> None:
    clock.moment = datetime(2026, 12, 2, 9, 30, tzinfo=PARIS)
    assert api.post(f"/v1/bookings/{confirmed}/check-in", token=manager).status == 200
    assert api.get(f"/v1/bookings/{confirmed}", token=manager).json["status"] == "checked_in"


def test_held_booking_cannot_check_in(
    api: Api, member: str, network: dict[str, str], clock: FixedClock
) -> None:
    made = booked(api, member, network["pool"])
    clock.moment = datetime(2026, 12, 2, 8, 0, tzinfo=PARIS)
    assert_problem(
        api.post(f"/v1/bookings/{made['id']}/check-in", token=member), 409, "invalid_state"
    )


# -- expire_holds ------------------------------------------------------------------------------

JOB = "/v1/admin/jobs/expire_holds"
AFTER_HOLD = {"as_of": "2026-12-01T07:16:00+01:00"}  # holds last 900 s from 07:00


def test_expire_holds_releases_a_lapsed_hold(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    made = booked(api, member, network["room"], unit="hour", start="09:00", end="10:00")
    assert made["hold_expires_at"] == "2026-12-01T07:15:00+01:00"
    answer = api.post(JOB, AFTER_HOLD, token=admin)
    assert answer.status == 200, answer.json
    assert (answer.json["job"], answer.json["processed"]) == ("expire_holds", 1)
    assert api.get(f"/v1/bookings/{made['id']}", token=member).json["status"] == "expired"
    assert free_seats(api, network["relay"], network["room"], WED)["09:00"] == 1


def test_expire_holds_run_twice_processes_nothing_the_second_time(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    booked(api, member, network["pool"])
    assert api.post(JOB, AFTER_HOLD, token=admin).json["processed"] == 1
    assert api.post(JOB, AFTER_HOLD, token=admin).json["processed"] == 0
    assert set(free_seats(api, network["relay"], network["pool"], WED).values()) == {3}


def test_expire_holds_leaves_a_running_hold(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    made = booked(api, member, network["pool"])
    early = {"as_of": "2026-12-01T07:10:00+01:00"}
    assert api.post(JOB, early, token=admin).json["processed"] == 0
    assert api.get(f"/v1/bookings/{made['id']}", token=member).json["status"] == "held"


def test_member_cannot_run_a_job(api: Api, member: str) -> None:
    assert_problem(api.post(JOB, AFTER_HOLD, token=member), 403, "forbidden")


def test_unknown_job_is_not_found(api: Api, admin: str) -> None:
    assert_problem(api.post("/v1/admin/jobs/make_coffee", {}, token=admin), 404, "not_found")
