"""`release_no_shows` on moto: a no-show frees the rest of its day (only the slots not
begun), a checked-in booking stays, bookings past their end complete, a second run does
nothing, and a no-show's seats are never freed twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from chalice.test import Client

from chalicelib.adapters.clock import FixedClock
from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.errors import InvalidState
from chalicelib.services.attendance import attendance_outcome, release_no_shows
from chalicelib.services.context import Context
from tests.integration.test_calendars import new_routes_mounted
from tests.support.api import Api, assert_problem, booked, free_seats

PARIS = ZoneInfo("Europe/Paris")
TODAY = "2026-12-01"  # the test clock's Tuesday, 07:00


@pytest.fixture
def api(ctx: Context, auth_keys: tuple[Path, Path]) -> Iterator[Api]:
    from app import app

    with new_routes_mounted(), Client(app) as client:
        yield Api(client, auth_keys[0])


def at(hhmm: str, day: str = TODAY) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=PARIS)


def free_booking(api: Api, admin: str, resource_id: str, **fields: Any) -> dict[str, Any]:
    """A confirmed booking (free, made by an administrator) today, by default for the day."""
    return booked(api, admin, resource_id, date=TODAY, payment="none", **fields)


def status_of(ctx: Context, booking_id: str) -> str:
    booking = ctx.bookings.get(booking_id)
    assert booking is not None
    return booking.status.value


def run(ctx: Context, clock: FixedClock, hhmm: str, day: str = TODAY) -> dict[str, Any]:
    clock.moment = at(hhmm, day)
    return release_no_shows(ctx)


def test_no_show_after_an_hour_frees_only_the_rest_of_the_day(
    api: Api, admin: str, ctx: Context, clock: FixedClock, network: dict[str, str]
) -> None:
    booking = free_booking(api, admin, network["pool"])
    assert run(ctx, clock, "08:59") == {
        "job": "release_no_shows",
        "processed": 0,
        "no_shows": 0,
        "completed": 0,
    }
    assert status_of(ctx, booking["id"]) == "confirmed"

    result = run(ctx, clock, "09:10")
    assert result == {"job": "release_no_shows", "processed": 1, "no_shows": 1, "completed": 0}
    assert status_of(ctx, booking["id"]) == "no_show"
    free = free_seats(api, network["relay"], network["pool"], TODAY)
    # 08:00-09:30 are past or under way at 09:10: still counted; the rest is free again.
    assert {k: v for k, v in free.items() if k < "09:30"} == {
        "08:00": 2,
        "08:30": 2,
        "09:00": 2,
    }
    assert {v for k, v in free.items() if k >= "09:30"} == {3}
    assert api.get(f"/v1/bookings/{booking['id']}", token=admin).json["status"] == "no_show"

    # Idempotent: nothing left to do, and the seats are not freed again.
    assert run(ctx, clock, "09:25")["processed"] == 0
    assert run(ctx, clock, "12:00")["processed"] == 0
    assert free_seats(api, network["relay"], network["pool"], TODAY) == free


def test_checked_in_booking_stays_then_completes_after_its_end(
    api: Api, admin: str, ctx: Context, clock: FixedClock, network: dict[str, str]
) -> None:
    booking = free_booking(api, admin, network["pool"])
    clock.moment = at("08:05")
    assert api.post(f"/v1/bookings/{booking['id']}/check-in", token=admin).status == 200
    assert run(ctx, clock, "09:10")["processed"] == 0
    assert status_of(ctx, booking["id"]) == "checked_in"
    assert set(free_seats(api, network["relay"], network["pool"], TODAY).values()) == {2}

    assert run(ctx, clock, "18:59")["processed"] == 0
    assert run(ctx, clock, "19:00") == {
        "job": "release_no_shows",
        "processed": 1,
        "no_shows": 0,
        "completed": 1,
    }
    assert status_of(ctx, booking["id"]) == "completed"
    assert run(ctx, clock, "19:15")["processed"] == 0


def test_bookings_of_yesterday_are_completed_after_midnight(
    api: Api, admin: str, ctx: Context, clock: FixedClock, network: dict[str, str]
) -> None:
    booking = free_booking(api, admin, network["pool"])
    clock.moment = at("08:00")
    assert api.post(f"/v1/bookings/{booking['id']}/check-in", token=admin).status == 200
    assert run(ctx, clock, "00:10", day="2026-12-02")["completed"] == 1
    assert status_of(ctx, booking["id"]) == "completed"


def test_short_booking_completes_at_its_end_and_a_missed_no_show_frees_nothing(
    api: Api, admin: str, ctx: Context, clock: FixedClock, network: dict[str, str]
) -> None:
    hour = free_booking(api, admin, network["room"], unit="hour", start="10:00", end="11:00")
    half_day = free_booking(api, admin, network["pool"], unit="half_day_am")
    before = free_seats(api, network["relay"], network["pool"], TODAY)
    # A catch-up run after both ended: the half day (08:00-13:00) was a no-show, with no
    # time left to free; the hour (too short for the 60-minute grace) simply completed.
    clock.moment = at("07:00")
    result = release_no_shows(ctx, as_of=at("14:00"))
    assert result == {"job": "release_no_shows", "processed": 2, "no_shows": 1, "completed": 1}
    assert status_of(ctx, half_day["id"]) == "no_show"
    assert status_of(ctx, hour["id"]) == "completed"
    assert free_seats(api, network["relay"], network["pool"], TODAY) == before


def test_a_no_show_is_never_released_twice(
    api: Api, admin: str, member: str, ctx: Context, clock: FixedClock, network: dict[str, str]
) -> None:
    booking = booked(api, member, network["pool"], date=TODAY, payment="card")
    stale = ctx.bookings.get(booking["id"])
    assert stale is not None and stale.status is BookingStatus.held
    confirmed = stale.model_copy(update={"status": BookingStatus.confirmed})
    ctx.bookings.transition(stale, confirmed)
    clock.moment = at("10:00")
    store = ctx.bookings
    slots = confirmed.slots[4:]
    store.mark_no_show(confirmed, slots, clock.now())
    # A concurrent run that read the booking as confirmed: its write is refused.
    with pytest.raises(InvalidState):
        store.mark_no_show(confirmed, slots, clock.now())
    with pytest.raises(InvalidState):
        store.complete(confirmed, clock.now())
    # Neither the owner nor a closure can release it again.
    assert_problem(
        api.post(f"/v1/bookings/{booking['id']}/cancel", token=member), 409, "invalid_state"
    )
    closure = api.post(
        f"/v1/relays/{network['relay']}/closures",
        {"date": TODAY, "reason": "Grève"},
        token=admin,
    )
    assert closure.status == 201, closure.json
    assert closure.json["cancelled_bookings"] == 0
    assert_problem(
        api.post(f"/v1/bookings/{booking['id']}/check-in", token=member), 409, "invalid_state"
    )
    # The occupancy (what availability reads; the closed day shows no slots): the first four
    # slots (08:00-10:00, past at 10:00) still counted, the others freed exactly once.
    assert ctx.bookings.occupancy(network["relay"], TODAY)[1][network["pool"]] == {
        i: (1 if i in confirmed.slots[:4] else 0) for i in confirmed.slots
    }


def test_a_check_in_racing_the_job_wins_or_loses_cleanly(
    api: Api, admin: str, ctx: Context, clock: FixedClock, network: dict[str, str]
) -> None:
    booking = free_booking(api, admin, network["pool"])
    stale = ctx.bookings.get(booking["id"])
    assert stale is not None
    clock.moment = at("09:05")
    assert api.post(f"/v1/bookings/{booking['id']}/check-in", token=admin).status == 200
    with pytest.raises(InvalidState):  # the job read it before the check-in
        ctx.bookings.mark_no_show(stale, stale.slots[3:], clock.now())
    assert status_of(ctx, booking["id"]) == "checked_in"
    assert set(free_seats(api, network["relay"], network["pool"], TODAY).values()) == {2}


def test_a_booking_made_once_its_day_began_has_its_hour_from_when_it_was_made(
    api: Api, admin: str, ctx: Context, clock: FixedClock, network: dict[str, str]
) -> None:
    clock.moment = at("10:30")  # today's day booked at 10:30: 08:00-19:00
    booking = free_booking(api, admin, network["pool"])
    assert run(ctx, clock, "10:35")["no_shows"] == 0  # the job's next run: not a no-show
    clock.moment = at("10:45")
    checked = api.post(f"/v1/bookings/{booking['id']}/check-in", token=admin)
    assert (checked.status, checked.json["status"]) == (200, "checked_in")


def test_a_booking_made_once_its_day_began_and_never_used_is_a_no_show_an_hour_later(
    api: Api, admin: str, ctx: Context, clock: FixedClock, network: dict[str, str]
) -> None:
    clock.moment = at("10:30")
    booking = free_booking(api, admin, network["pool"])
    assert run(ctx, clock, "11:29")["no_shows"] == 0
    assert run(ctx, clock, "11:30")["no_shows"] == 1
    assert status_of(ctx, booking["id"]) == "no_show"


def test_bookings_of_days_the_job_missed_are_settled_by_its_next_run(
    api: Api, admin: str, ctx: Context, clock: FixedClock, network: dict[str, str]
) -> None:
    # GIVEN a room booked Wednesday 10:00-11:00, and no run of the job until Friday noon
    wednesday = booked(
        api,
        admin,
        network["room"],
        date="2026-12-02",
        unit="hour",
        start="10:00",
        end="11:00",
        payment="none",
    )
    # WHEN the job runs again
    result = run(ctx, clock, "12:00", day="2026-12-04")
    # THEN Wednesday's booking is settled (too short for a no-show: completed)
    assert result["completed"] == 1
    assert status_of(ctx, wednesday["id"]) == "completed"


# -- the rule itself ---------------------------------------------------------------------------
def booking(status: BookingStatus, start: str, end: str) -> Booking:
    return Booking(
        id="bkg_1",
        member_id="m",
        relay_id="r",
        resource_id="res",
        operator_id="op",
        date=at(start).date(),
        unit="hour",
        start=at(start),
        end=at(end),
        slots=[],
        status=status,
        price={"amount": 0, "amount_excl_vat": 0, "vat_amount": 0, "vat_rate": "20.00"},
        payment_method="none",
        created_at=at("07:00"),
    )


@pytest.mark.parametrize(
    ("status", "start", "end", "now", "outcome"),
    [
        (BookingStatus.confirmed, "08:00", "19:00", "08:59", None),
        (BookingStatus.confirmed, "08:00", "19:00", "09:00", BookingStatus.no_show),
        (BookingStatus.confirmed, "08:00", "19:00", "20:00", BookingStatus.no_show),
        (BookingStatus.confirmed, "08:00", "09:30", "09:00", BookingStatus.no_show),
        (BookingStatus.confirmed, "08:00", "09:00", "08:59", None),
        (BookingStatus.confirmed, "08:00", "09:00", "09:00", BookingStatus.completed),
        (BookingStatus.confirmed, "08:00", "08:30", "08:30", BookingStatus.completed),
        (BookingStatus.confirmed, "08:00", "08:30", "10:00", BookingStatus.completed),
        (BookingStatus.checked_in, "08:00", "19:00", "18:59", None),
        (BookingStatus.checked_in, "08:00", "19:00", "19:00", BookingStatus.completed),
        (BookingStatus.held, "08:00", "19:00", "20:00", None),
        (BookingStatus.no_show, "08:00", "19:00", "20:00", None),
        (BookingStatus.completed, "08:00", "19:00", "20:00", None),
        (BookingStatus.cancelled, "08:00", "19:00", "20:00", None),
    ],
)
def test_attendance_outcome(
    status: BookingStatus, start: str, end: str, now: str, outcome: BookingStatus | None
) -> None:
    assert attendance_outcome(booking(status, start, end), at(now)) is outcome


def test_outcome_uses_real_elapsed_time_on_a_fall_back_day() -> None:
    # 2026-10-25 has 25 hours; bookings carry fixed offsets, as the schedule plans them.
    start = datetime(2026, 10, 25, 1, 30, tzinfo=timezone(timedelta(hours=2)))  # 23:30Z
    b = booking(BookingStatus.confirmed, "08:00", "19:00").model_copy(
        update={"start": start, "end": start + timedelta(hours=4), "created_at": start}
    )
    # 02:29 shows twice on the wall; only the second time is an hour after the start.
    assert attendance_outcome(b, datetime(2026, 10, 25, 2, 29, tzinfo=PARIS)) is None
    second_time = datetime(2026, 10, 25, 2, 29, fold=1, tzinfo=PARIS)
    assert attendance_outcome(b, second_time) is BookingStatus.no_show
    assert attendance_outcome(b, datetime(2026, 10, 25, 0, 29, tzinfo=UTC)) is None
    assert attendance_outcome(b, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) is BookingStatus.no_show


def test_the_hour_to_come_runs_from_when_a_booking_was_made_if_its_day_had_begun() -> None:
    made_late = booking(BookingStatus.confirmed, "08:00", "19:00").model_copy(
        update={"created_at": at("10:30")}
    )
    assert attendance_outcome(made_late, at("11:29")) is None
    assert attendance_outcome(made_late, at("11:30")) is BookingStatus.no_show
