"""Availability: free seats per 30-minute slot, closed days and closures, network search,
DST days (HTTP, chalice test client, moto)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.clock import FixedClock
from tests.support.api import (
    Api,
    add_relay,
    assert_problem,
    book,
    booked,
    booking_body,
    free_seats,
    slots_of,
)

WEDNESDAY, THURSDAY, SATURDAY = "2026-12-02", "2026-12-03", "2026-12-05"


def relay_on(api: Api, day: str, relay_id: str, **query: str) -> dict[str, Any]:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    answer = api.get(f"/v1/availability?date={day}&relay_id={relay_id}{extra}")
    assert answer.status == 200, answer.json
    assert answer.json["date"] == day
    (relay,) = answer.json["relays"]
    return dict(relay)


def test_open_day_has_22_half_hour_slots_from_8_to_19(api: Api, network: dict[str, str]) -> None:
    slots = slots_of(api, network["relay"], network["pool"], WEDNESDAY)
    assert len(slots) == 22
    assert slots[0] == {"start": "08:00", "end": "08:30", "free": 3}  # as the contract writes it
    assert slots[-1] == {"start": "18:30", "end": "19:00", "free": 3}
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(slots))


def test_open_day_reports_the_relay_and_its_hours(api: Api, network: dict[str, str]) -> None:
    relay = relay_on(api, WEDNESDAY, network["relay"])
    assert relay["relay_id"] == network["relay"]
    assert relay["name"] == "Gare de Melun"
    assert relay["open"] is True
    assert relay["opening_hours"] == [["08:00", "19:00"]]
    room = next(r for r in relay["resources"] if r["resource_id"] == network["room"])
    assert (room["kind"], room["capacity"]) == ("meeting_room", 1)


def test_free_seats_drop_for_the_booked_slots_only(
    api: Api, member: str, network: dict[str, str]
) -> None:
    # WHEN a member books 10:00-11:00 on the 3-seat pool
    body = booking_body(network["pool"], unit="hour", start="10:00", end="11:00")
    assert api.post("/v1/bookings", body, token=member).status == 201
    # THEN those two slots have 2 seats left, and the others still 3
    free = free_seats(api, network["relay"], network["pool"], WEDNESDAY)
    assert (free["10:00"], free["10:30"]) == (2, 2)
    assert {v for k, v in free.items() if k not in ("10:00", "10:30")} == {3}


def test_free_seats_come_back_after_a_cancellation(
    api: Api, member: str, network: dict[str, str]
) -> None:
    booking = api.post("/v1/bookings", booking_body(network["pool"]), token=member).json
    assert set(free_seats(api, network["relay"], network["pool"], WEDNESDAY).values()) == {2}
    cancelled = api.post(f"/v1/bookings/{booking['booking']['id']}/cancel", token=member)
    assert cancelled.status == 200, cancelled.json
    assert set(free_seats(api, network["relay"], network["pool"], WEDNESDAY).values()) == {3}


def test_slots_already_over_are_past_and_no_booking_starts_in_them(
    api: Api, member: str, network: dict[str, str], clock: FixedClock
) -> None:
    # GIVEN 08:00-09:00 booked on Wednesday's pool
    assert book(api, member, network["pool"], unit="hour", start="08:00", end="09:00").status == 201
    assert not any("past" in s for s in slots_of(api, network["relay"], network["pool"], WEDNESDAY))
    # WHEN it is Wednesday 10:15 in Melun
    clock.moment = datetime(2026, 12, 2, 10, 15, tzinfo=ZoneInfo("Europe/Paris"))
    slots = {s["start"]: s for s in slots_of(api, network["relay"], network["pool"], WEDNESDAY)}
    # THEN the four slots ended by then are past, the one under way is not
    assert [k for k, s in slots.items() if s.get("past")] == ["08:00", "08:30", "09:00", "09:30"]
    assert "past" not in slots["10:00"]  # written only on a slot already over
    # and a past slot still counts its seats (a day booked now covers it)
    assert (slots["08:00"]["free"], slots["09:00"]["free"]) == (2, 3)
    # an hour cannot start in a past slot, even one ending later; it can in the one under
    # way; a day still can
    for start, end in (("09:00", "10:00"), ("09:30", "10:30")):
        late = book(api, member, network["pool"], unit="hour", start=start, end=end)
        assert_problem(late, 422, "validation_error")
    assert book(api, member, network["pool"], unit="hour", start="10:00", end="11:00").status == 201
    assert book(api, member, network["pool"]).status == 201
    # and every slot of an earlier day is past
    assert all(
        s["past"] is True for s in slots_of(api, network["relay"], network["pool"], "2026-12-01")
    )


def test_a_day_beyond_the_booking_horizon_has_no_seat_free_yet(
    api: Api, member: str, network: dict[str, str], clock: FixedClock
) -> None:
    # GIVEN the clock on Tuesday 2026-12-01: the horizon (90 days) ends on 2027-03-01
    last, beyond = "2027-03-01", "2027-03-02"
    # THEN its last day has seats a booking can get, the next none, open all the same
    assert set(free_seats(api, network["relay"], network["pool"], last).values()) == {3}
    assert book(api, member, network["pool"], date=last).status == 201
    assert set(free_seats(api, network["relay"], network["pool"], beyond).values()) == {0}
    relay = relay_on(api, beyond, network["relay"])
    assert relay["open"] is True
    assert {r["resource_id"]: r["capacity"] for r in relay["resources"]} == {
        network["pool"]: 3,  # the resources' seats, as on any day
        network["room"]: 1,
    }
    assert_problem(book(api, member, network["pool"], date=beyond), 422, "validation_error")
    # AND a day later the day comes within it
    clock.advance(days=1)
    assert set(free_seats(api, network["relay"], network["pool"], beyond).values()) == {3}


def test_closed_weekday_is_not_open_and_has_no_slots(api: Api, network: dict[str, str]) -> None:
    relay = relay_on(api, SATURDAY, network["relay"])
    assert relay["open"] is False
    assert all(not r.get("slots") for r in relay["resources"])


def test_closure_day_is_not_open_and_has_no_slots(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    closure = {"date": WEDNESDAY, "reason": "Travaux"}
    answer = api.post(f"/v1/relays/{network['relay']}/closures", closure, token=admin)
    assert answer.status == 201, answer.json
    relay = relay_on(api, WEDNESDAY, network["relay"])
    assert relay["open"] is False
    assert all(not r.get("slots") for r in relay["resources"])
    assert relay_on(api, "2026-12-03", network["relay"])["open"] is True


def test_network_search_lists_every_relay(api: Api, admin: str, network: dict[str, str]) -> None:
    other = add_relay(api, admin, network["operator"], name="Gare de Fontainebleau")
    answer = api.get(f"/v1/availability?date={WEDNESDAY}")
    assert answer.status == 200
    assert {r["relay_id"] for r in answer.json["relays"]} == {network["relay"], other["relay"]}


def test_network_search_near_a_point_comes_nearest_first(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    far = add_relay(
        api, admin, network["operator"], name="Provins", location={"lat": 48.5597, "lon": 3.2992}
    )
    relays = api.get(f"/v1/availability?date={WEDNESDAY}&near=48.56,3.30").json["relays"]
    assert [r["relay_id"] for r in relays] == [far["relay"], network["relay"]]
    assert relays[0]["distance_km"] < relays[1]["distance_km"]


def test_kind_filter_keeps_only_that_kind(api: Api, network: dict[str, str]) -> None:
    relay = relay_on(api, WEDNESDAY, network["relay"], kind="meeting_room")
    assert [r["resource_id"] for r in relay["resources"]] == [network["room"]]


@pytest.mark.parametrize(
    "query",
    [
        "date=2026-12-32",
        "date=tomorrow",
        "",
        "date=2026-12-02&kind=sofa",
        "date=2026-12-02&near=north",
    ],
)
def test_bad_availability_query_is_a_validation_error(
    api: Api, network: dict[str, str], query: str
) -> None:
    assert_problem(api.get(f"/v1/availability?{query}"), 422, "validation_error")


def test_availability_of_an_unknown_relay_is_not_found(api: Api, network: dict[str, str]) -> None:
    answer = api.get(f"/v1/availability?date={WEDNESDAY}&relay_id=rly_nope")
    assert_problem(answer, 404, "not_found")


def test_a_held_card_booking_keeps_its_seat(api: Api, member: str, network: dict[str, str]) -> None:
    # The room has one seat: while the hold lasts, availability must not offer it.
    body = booking_body(network["room"], unit="hour", start="09:00", end="10:00")
    assert api.post("/v1/bookings", body, token=member).json["booking"]["status"] == "held"
    free = free_seats(api, network["relay"], network["room"], WEDNESDAY)
    assert (free["09:00"], free["09:30"], free["10:00"]) == (0, 0, 1)


# -- closures ----------------------------------------------------------------------------------


@pytest.fixture
def manager(api: Api, network: dict[str, str]) -> str:
    return api.token("manager-1", f"manager:{network['relay']}")


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_closure_cancels_that_days_bookings(
    api: Api, member: str, network: dict[str, str], who: str, request: pytest.FixtureRequest
) -> None:
    made = [
        booked(api, member, network["pool"]),
        booked(api, member, network["room"], unit="hour", start="09:00", end="10:00"),
    ]
    kept = booked(api, member, network["pool"], date=THURSDAY)
    answer = api.post(
        f"/v1/relays/{network['relay']}/closures",
        {"date": WEDNESDAY, "reason": "Grève SNCF"},
        token=request.getfixturevalue(who),
    )
    assert answer.status == 201, answer.json
    assert (answer.json["date"], answer.json["cancelled_bookings"]) == (WEDNESDAY, 2)
    for b in made:
        assert api.get(f"/v1/bookings/{b['id']}", token=member).json["status"] == "cancelled"
    assert api.get(f"/v1/bookings/{kept['id']}", token=member).json["status"] == "held"


def test_booking_a_closed_day_is_refused(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    api.post(
        f"/v1/relays/{network['relay']}/closures", {"date": WEDNESDAY, "reason": "x"}, token=admin
    )
    assert_problem(book(api, member, network["pool"]), 409, "relay_closed")


def test_closing_the_same_day_twice_is_a_conflict(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    path, body = f"/v1/relays/{network['relay']}/closures", {"date": WEDNESDAY, "reason": "x"}
    assert api.post(path, body, token=admin).status == 201
    assert_problem(api.post(path, body, token=admin), 409, "already_exists")


def test_member_cannot_close_a_relay(api: Api, member: str, network: dict[str, str]) -> None:
    answer = api.post(
        f"/v1/relays/{network['relay']}/closures", {"date": WEDNESDAY, "reason": "x"}, token=member
    )
    assert_problem(answer, 403, "forbidden")


# -- DST days ----------------------------------------------------------------------------------

ALL_DAY = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def round_the_clock(api: Api, admin: str, network: dict[str, str], clock: FixedClock) -> dict:
    clock.moment = datetime(2026, 1, 15, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    return add_relay(api, admin, network["operator"], name="Gare 24/7", opening_hours=ALL_DAY)


def test_ordinary_day_has_48_slots(api: Api, round_the_clock: dict) -> None:
    slots = slots_of(api, round_the_clock["relay"], round_the_clock["pool"], "2026-03-28")
    assert len(slots) == 48


def test_spring_forward_day_has_46_slots_and_skips_2_to_3(api: Api, round_the_clock: dict) -> None:
    slots = slots_of(api, round_the_clock["relay"], round_the_clock["pool"], "2026-03-29")
    starts = [s["start"] for s in slots]
    assert len(slots) == 46
    assert "02:00" not in starts and "02:30" not in starts
    assert starts[:5] == ["00:00", "00:30", "01:00", "01:30", "03:00"]
    assert slots[3]["end"] == "03:00"  # 01:30 + 30 min of real time
    assert slots[0]["start"] == "00:00"


def test_fall_back_day_has_50_slots_with_the_repeated_hour_twice(
    api: Api, round_the_clock: dict, clock: FixedClock
) -> None:
    clock.moment = datetime(2026, 10, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))  # in horizon
    slots = slots_of(api, round_the_clock["relay"], round_the_clock["pool"], "2026-10-25")
    starts = [s["start"] for s in slots]
    assert len(slots) == 50
    assert starts[:9] == [
        "00:00",
        "00:30",
        "01:00",
        "01:30",
        "02:00",
        "02:30",
        "02:00",
        "02:30",
        "03:00",
    ]
    assert starts.count("02:00") == 2 and starts.count("02:30") == 2
    assert all(s["free"] == 3 for s in slots)


def test_at_the_second_0210_of_the_fall_back_night_the_repeated_slot_under_way_is_bookable(
    api: Api, member: str, round_the_clock: dict, clock: FixedClock
) -> None:
    day = "2026-10-25"
    clock.moment = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 02:10 CET, the second pass
    slots = slots_of(api, round_the_clock["relay"], round_the_clock["pool"], day)
    first, second = (s for s in slots if s["start"] == "02:00")
    assert first.get("past") is True and "past" not in second

    answer = book(
        api, member, round_the_clock["pool"], date=day, unit="hour", start="02:00", end="02:30"
    )

    assert answer.status == 201, answer.json
    assert answer.json["booking"]["start"].endswith("+01:00")  # the second pass, CET
