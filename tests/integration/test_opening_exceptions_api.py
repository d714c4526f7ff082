"""Opening-hour exceptions over HTTP (moto): `opening_exceptions` in `PATCH /v1/relays/{id}`
with If-Match, version and audit like any relay edit; availability and bookings follow
them; shortening a day under booked seats is refused with 409 `capacity_conflict`
listing them, nothing written, also when the booking commits during the edit."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.booking_store import BookingStore
from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from chalicelib.services.context import Context
from tests.support.api import Answer, Api, assert_problem, book, booked
from tests.support.fake_stripe import FakeGateway
from tests.support.webhooks import deliver

EVE, CHRISTMAS = "2026-12-24", "2026-12-25"
SHORT_EVE = {"date": EVE, "hours": [["08:00", "13:00"]]}
CLOSED_CHRISTMAS = {"date": CHRISTMAS, "hours": None}


def patch_relay(api: Api, relay_id: str, body: Any, token: str, version: int | None) -> Answer:
    headers = {} if version is None else {"If-Match": f'"{version}"'}
    return api.request("PATCH", f"/v1/relays/{relay_id}", body, token=token, headers=headers)


def with_exceptions(api: Api, relay_id: str, token: str, *exceptions: Any) -> Answer:
    version = api.get(f"/v1/relays/{relay_id}").json["version"]
    return patch_relay(api, relay_id, {"opening_exceptions": list(exceptions)}, token, version)


@pytest.fixture
def manager(api: Api, network: dict[str, str]) -> str:
    return api.token("mgr-1", f"manager:{network['relay']}")


def test_the_manager_sets_exceptions_with_if_match_and_they_are_served(
    api: Api, admin: str, manager: str, network: dict[str, str]
) -> None:
    relay_id = network["relay"]
    answer = patch_relay(
        api, relay_id, {"opening_exceptions": [CLOSED_CHRISTMAS, SHORT_EVE]}, manager, 1
    )
    assert answer.status == 200, answer.json
    assert answer.headers["ETag"] == '"2"' and answer.json["version"] == 2
    assert answer.json["opening_exceptions"] == [SHORT_EVE, CLOSED_CHRISTMAS]  # date order
    assert api.get(f"/v1/relays/{relay_id}").json["opening_exceptions"] == [
        SHORT_EVE,
        CLOSED_CHRISTMAS,
    ]
    entries = api.get("/v1/audit?entity=relay", token=admin).json["items"]
    (entry,) = [e for e in entries if e["action"] == "update"]
    assert entry["actor"] == "mgr-1"
    before, after = entry["changes"]["opening_exceptions"]
    assert (before, [e["date"] for e in after]) == ([], [EVE, CHRISTMAS])
    # the same list again changes nothing; [] removes them all
    same = patch_relay(
        api, relay_id, {"opening_exceptions": [SHORT_EVE, CLOSED_CHRISTMAS]}, admin, 2
    )
    assert same.json["version"] == 2
    cleared = patch_relay(api, relay_id, {"opening_exceptions": []}, admin, 2)
    assert (cleared.json["version"], cleared.json["opening_exceptions"]) == (3, [])


def test_without_if_match_or_with_a_stale_one_nothing_changes(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    body = {"opening_exceptions": [SHORT_EVE]}
    assert_problem(
        patch_relay(api, network["relay"], body, admin, None), 428, "precondition_required"
    )
    assert_problem(patch_relay(api, network["relay"], body, admin, 7), 412, "precondition_failed")
    assert api.get(f"/v1/relays/{network['relay']}").json["opening_exceptions"] == []


def test_a_manager_of_another_relay_cannot_set_them(api: Api, network: dict[str, str]) -> None:
    other = api.token("mgr-2", "manager:rly_other")
    answer = patch_relay(api, network["relay"], {"opening_exceptions": [SHORT_EVE]}, other, 1)
    assert_problem(answer, 403, "forbidden")


@pytest.mark.parametrize(
    ("exceptions", "field"),
    [
        ([SHORT_EVE, {**SHORT_EVE, "hours": None}], "opening_exceptions[1].date"),
        ([{"date": EVE, "hours": [["13:00", "08:00"]]}], "opening_exceptions[0].hours[0]"),
        ([{"date": "2026-02-30", "hours": None}], "opening_exceptions.0.date"),
        ([{"date": EVE, "hours": None, "reason": "Noël"}], "opening_exceptions.0.reason"),
    ],
)
def test_bad_exceptions_are_refused_naming_the_field(
    api: Api, admin: str, network: dict[str, str], exceptions: list[Any], field: str
) -> None:
    answer = patch_relay(api, network["relay"], {"opening_exceptions": exceptions}, admin, 1)
    assert_problem(answer, 422, "validation_error")
    assert field in [e["field"] for e in answer.json["errors"]]
    assert api.get(f"/v1/relays/{network['relay']}").json["version"] == 1


def test_availability_shows_the_exceptions_hours(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    assert with_exceptions(api, network["relay"], admin, SHORT_EVE, CLOSED_CHRISTMAS).status == 200
    eve = api.get(f"/v1/availability?date={EVE}&relay_id={network['relay']}").json["relays"][0]
    assert (eve["open"], eve["opening_hours"]) == (True, [["08:00", "13:00"]])
    slots = eve["resources"][0]["slots"]
    assert (slots[0]["start"], slots[-1]["end"], len(slots)) == ("08:00", "13:00", 10)
    day = api.get(f"/v1/availability?date={CHRISTMAS}&relay_id={network['relay']}").json
    assert (day["relays"][0]["open"], day["relays"][0]["resources"]) == (False, [])
    usual = api.get(f"/v1/availability?date=2026-12-31&relay_id={network['relay']}").json
    assert usual["relays"][0]["opening_hours"] == [["08:00", "19:00"]]


def test_bookings_follow_the_exceptions(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    with_exceptions(api, network["relay"], admin, SHORT_EVE, CLOSED_CHRISTMAS)
    late = book(api, member, network["room"], date=EVE, unit="hour", start="14:00", end="15:00")
    assert_problem(late, 422, "outside_opening_hours")
    assert_problem(book(api, member, network["pool"], date=CHRISTMAS), 409, "relay_closed")
    day = booked(api, member, network["pool"], date=EVE)
    assert day["end"] == "2026-12-24T13:00:00+01:00"


def test_shortening_a_day_under_booked_seats_is_refused_listing_them(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    booked(api, member, network["room"], date=EVE, unit="hour", start="15:00", end="16:00")
    booked(api, member, network["room"], date=EVE, unit="hour", start="10:00", end="11:00")
    answer = with_exceptions(api, network["relay"], admin, SHORT_EVE)
    assert_problem(answer, 409, "capacity_conflict")
    assert answer.json["conflicts"] == [
        {"date": EVE, "start": "15:00", "booked": 1, "resource_id": network["room"]},
        {"date": EVE, "start": "15:30", "booked": 1, "resource_id": network["room"]},
    ]
    relay = api.get(f"/v1/relays/{network['relay']}").json
    assert (relay["version"], relay["opening_exceptions"]) == (1, [])
    # closing it all day is refused the same way (a closure is the tool that cancels)
    closed = with_exceptions(api, network["relay"], admin, {"date": EVE, "hours": None})
    assert_problem(closed, 409, "capacity_conflict")
    assert len(closed.json["conflicts"]) == 4


def test_a_booking_committed_during_the_edit_is_caught_by_its_transaction(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    booked(api, member, network["room"], date=EVE, unit="hour", start="15:00", end="16:00")
    real = BookingStore.occupancy
    reads: list[str] = []

    def stale_first_read(self: BookingStore, relay_id: str, day: str) -> Any:
        reads.append(day)
        if len(reads) == 1:  # the edit's read happened before the booking committed
            return False, {}
        return real(self, relay_id, day)

    monkeypatch.setattr(BookingStore, "occupancy", stale_first_read)
    answer = with_exceptions(api, network["relay"], admin, SHORT_EVE)
    assert_problem(answer, 409, "capacity_conflict")
    assert [c["start"] for c in answer.json["conflicts"]] == ["15:00", "15:30"]
    monkeypatch.undo()
    assert api.get(f"/v1/relays/{network['relay']}").json["version"] == 1


def test_lengthening_a_day_or_a_day_without_bookings_is_accepted(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    booked(api, member, network["room"], date=EVE, unit="hour", start="10:00", end="11:00")
    assert with_exceptions(api, network["relay"], admin, SHORT_EVE).status == 200
    longer = {"date": EVE, "hours": [["07:00", "20:00"]]}
    answer = with_exceptions(api, network["relay"], admin, longer)
    assert answer.status == 200, answer.json
    eve = api.get(f"/v1/availability?date={EVE}&relay_id={network['relay']}").json["relays"][0]
    assert eve["opening_hours"] == [["07:00", "20:00"]]


def test_a_booking_checked_against_hours_cached_before_the_edit_is_refused(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a container whose catalogue still has the weekly hours of Christmas Eve
    stale = ctx.catalogue.get()
    assert with_exceptions(api, network["relay"], admin, SHORT_EVE).status == 200
    monkeypatch.setattr(ctx.catalogue, "get", lambda fresh=False: stale)
    # WHEN it books 15:00 that day, THEN the day's hours marker refuses it in the transaction
    late = book(api, member, network["room"], date=EVE, unit="hour", start="15:00", end="16:00")
    assert_problem(late, 422, "outside_opening_hours")
    assert "changed" in late.json["detail"]  # refused by the transaction, not the cache
    _closed, taken = ctx.bookings.occupancy(network["relay"], EVE)
    assert taken == {}  # no seat taken
    # AND a morning booking still goes through
    booked(api, member, network["room"], date=EVE, unit="hour", start="10:00", end="11:00")


def closed_in_marker(ctx: Context, relay_id: str, day: str) -> tuple[set[int], int]:
    """(slots closed by the day's hours marker, the relay version that wrote it)."""
    item = ctx.table.get(f"OCC#{relay_id}#{day}", "HOURS")
    assert item is not None
    closed = {int(k[1:]) for k in item if k[0] == "c" and k[1:].isdigit()}
    return closed, int(item["hours_version"])


def test_removing_the_exception_marks_the_day_with_the_weekly_hours_again(
    api: Api, admin: str, member: str, network: dict[str, str], ctx: Context
) -> None:
    assert with_exceptions(api, network["relay"], admin, SHORT_EVE).status == 200
    closed, version = closed_in_marker(ctx, network["relay"], EVE)
    assert (30 in closed, version) == (True, 2)  # 15:00 closed by the exception
    assert with_exceptions(api, network["relay"], admin).status == 200
    closed, version = closed_in_marker(ctx, network["relay"], EVE)
    # Weekly hours, 08:00-19:00: 07:30 (slot 15) and 19:00 (38) closed, 15:00 open
    assert (min(set(range(48)) - closed), max(set(range(48)) - closed), version) == (16, 37, 3)
    booked(api, member, network["room"], date=EVE, unit="hour", start="15:00", end="16:00")


def test_occupancy_statistics_count_the_exceptions_hours(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    with_exceptions(api, network["relay"], admin, SHORT_EVE, CLOSED_CHRISTMAS)
    query = f"from={EVE}&to={CHRISTMAS}&granularity=day&relay_id={network['relay']}"
    items = api.get(f"/v1/stats/occupancy?{query}", token=admin).json["items"]
    open_hours = {(i["period_start"], i["resource_kind"]): i["seat_hours_open"] for i in items}
    assert open_hours[(EVE, "hot_desk")] == 5 * 3  # 08:00-13:00, 3 seats
    assert open_hours[(CHRISTMAS, "hot_desk")] == 0


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31", "2101-01-01"])
def test_an_exception_outside_2000_to_2100_is_refused_on_its_date(
    api: Api, admin: str, network: dict[str, str], day: str
) -> None:
    answer = with_exceptions(api, network["relay"], admin, {"date": day, "hours": None})
    assert_problem(answer, 422, "validation_error")
    assert answer.json["errors"][0]["field"] == "opening_exceptions.0.date"


def test_a_booking_from_a_stale_catalogue_on_a_day_an_exception_closes_is_relay_closed(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stale = ctx.catalogue.get()
    assert with_exceptions(api, network["relay"], admin, CLOSED_CHRISTMAS).status == 200
    assert_problem(book(api, member, network["pool"], date=CHRISTMAS), 409, "relay_closed")
    # the same request served by a container whose catalogue predates the edit
    monkeypatch.setattr(ctx.catalogue, "get", lambda fresh=False: stale)
    assert_problem(book(api, member, network["pool"], date=CHRISTMAS), 409, "relay_closed")


def test_a_hold_paid_after_it_expired_is_refunded_if_its_hours_closed_meanwhile(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    ctx: Context,
    clock: FixedClock,
    settings: Settings,
    stripe_fake: FakeGateway,
) -> None:
    # GIVEN a card hold for 15:00-16:00 on Christmas Eve that expires unpaid
    held = book(api, member, network["room"], date=EVE, unit="hour", start="15:00", end="16:00")
    assert held.status == 201, held.json
    intent_id = held.json["payment"]["payment_intent_id"]
    clock.advance(minutes=16)
    assert api.post("/v1/admin/jobs/expire_holds", {}, token=admin).status == 200
    # AND the afternoon then closes (no seat is booked any more: accepted)
    assert with_exceptions(api, network["relay"], admin, SHORT_EVE).status == 200
    # WHEN the payment finally succeeds
    answer = deliver(api, settings, "payment_intent.succeeded", stripe_fake.succeed(intent_id))
    assert answer.status == 200, answer.json
    # THEN no seat is taken at 15:00, when the relay is closed: the payment is refunded
    booking = ctx.bookings.get(held.json["booking"]["id"])
    _closed, taken = ctx.bookings.occupancy(network["relay"], EVE)
    assert booking is not None and booking.status == "expired"
    assert taken.get(network["room"], {}).get(30, 0) == 0
    assert [r.payment_intent for r in stripe_fake.refunds.values()] == [intent_id]
