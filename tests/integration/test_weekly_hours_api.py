"""New weekly opening hours (`opening_hours` in `PATCH /v1/relays/{id}`) over HTTP (moto):
like a dated exception, they may not strand a booked seat on any date up to the booking
horizon (409 `capacity_conflict` listing the seats, nothing written); a date whose
exception keeps its own hours is not affected; days without bookings change freely."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.services.context import Context
from tests.support.api import Answer, Api, assert_problem, book, booked

THURSDAY, NEXT_THURSDAY = "2026-12-03", "2026-12-10"  # the test clock: Tuesday 1 December
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def hours(**days: list[list[str]]) -> dict[str, list[list[str]]]:
    base = {day: [["08:00", "19:00"]] for day in WEEKDAYS}
    return {**base, **days}


def patch_relay(api: Api, relay_id: str, body: Any, token: str) -> Answer:
    version = api.get(f"/v1/relays/{relay_id}").json["version"]
    headers = {"If-Match": f'"{version}"'}
    return api.request("PATCH", f"/v1/relays/{relay_id}", body, token=token, headers=headers)


def test_shorter_weekly_hours_stranding_booked_seats_are_refused_listing_them(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    room, relay = network["room"], network["relay"]
    booked(api, member, room, date=NEXT_THURSDAY, unit="hour", start="17:00", end="18:00")
    booked(api, member, room, date=THURSDAY, unit="hour", start="09:00", end="10:00")

    answer = patch_relay(api, relay, {"opening_hours": hours(thu=[["08:00", "17:00"]])}, admin)

    assert_problem(answer, 409, "capacity_conflict")
    assert answer.json["conflicts"] == [
        {"date": NEXT_THURSDAY, "start": "17:00", "booked": 1, "resource_id": room},
        {"date": NEXT_THURSDAY, "start": "17:30", "booked": 1, "resource_id": room},
    ]
    after = api.get(f"/v1/relays/{relay}").json
    assert (after["version"], after["opening_hours"]["thu"]) == (1, [["08:00", "19:00"]])


def test_closing_a_weekday_with_a_booked_day_pass_is_refused(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    booked(api, member, network["pool"], date=THURSDAY, unit="day")
    without_thursday = {k: v for k, v in hours().items() if k != "thu"}

    answer = patch_relay(api, network["relay"], {"opening_hours": without_thursday}, admin)

    assert_problem(answer, 409, "capacity_conflict")
    assert {c["date"] for c in answer.json["conflicts"]} == {THURSDAY}
    assert all(c["resource_id"] == network["pool"] for c in answer.json["conflicts"])


def test_weekly_hours_that_strand_nothing_are_accepted_and_served(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    relay = network["relay"]
    booked(api, member, network["room"], date=THURSDAY, unit="hour", start="09:00", end="10:00")
    new_hours = hours(thu=[["08:00", "17:00"]], sat=[["09:00", "12:00"]])

    answer = patch_relay(api, relay, {"opening_hours": new_hours}, admin)

    assert answer.status == 200, answer.json
    assert answer.json["version"] == 2
    assert answer.json["opening_hours"]["thu"] == [["08:00", "17:00"]]
    day = api.get(f"/v1/availability?date={THURSDAY}&relay_id={relay}").json["relays"][0]
    assert day["opening_hours"] == [["08:00", "17:00"]]
    assert day["resources"][0]["slots"][-1]["end"] == "17:00"


def test_a_date_whose_exception_keeps_its_hours_is_not_stranded(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    relay, room = network["relay"], network["room"]
    exception = {"date": NEXT_THURSDAY, "hours": [["08:00", "19:00"]]}
    assert patch_relay(api, relay, {"opening_exceptions": [exception]}, admin).status == 200
    booked(api, member, room, date=NEXT_THURSDAY, unit="hour", start="17:00", end="18:00")

    answer = patch_relay(api, relay, {"opening_hours": hours(thu=[["08:00", "17:00"]])}, admin)

    assert answer.status == 200, answer.json


def thursday_marker(ctx: Context, relay_id: str) -> set[str]:
    item = ctx.table.get(f"OCC#{relay_id}#{NEXT_THURSDAY}", "HOURS") or {}
    return {name for name in item if name.startswith("c")}


def test_a_booking_checked_against_weekly_hours_cached_before_the_edit_is_refused(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a container whose catalogue still has the old weekly hours
    stale = ctx.catalogue.get()
    short = patch_relay(
        api, network["relay"], {"opening_hours": hours(thu=[["08:00", "13:00"]])}, admin
    )
    assert short.status == 200, short.json
    monkeypatch.setattr(ctx.catalogue, "get", lambda fresh=False: stale)
    # WHEN it books a Thursday afternoon, THEN that day's hours marker refuses it
    late = book(
        api, member, network["room"], date=NEXT_THURSDAY, unit="hour", start="15:00", end="16:00"
    )
    assert_problem(late, 422, "outside_opening_hours")
    assert "changed" in late.json["detail"]  # refused by the transaction, not the cache
    # AND a Thursday morning and a Friday afternoon still go through
    booked(
        api, member, network["room"], date=NEXT_THURSDAY, unit="hour", start="10:00", end="11:00"
    )
    booked(api, member, network["room"], date="2026-12-11", unit="hour", start="15:00", end="16:00")


def test_weekly_hours_reopened_by_a_later_edit_can_be_booked_again(
    api: Api, admin: str, member: str, network: dict[str, str], ctx: Context
) -> None:
    relay = network["relay"]
    assert (
        patch_relay(api, relay, {"opening_hours": hours(thu=[["08:00", "13:00"]])}, admin).status
        == 200
    )
    assert "c30" in thursday_marker(ctx, relay)  # 15:00, closed
    assert patch_relay(api, relay, {"opening_hours": hours()}, admin).status == 200
    assert "c30" not in thursday_marker(ctx, relay)  # the marker follows the hours
    booked(
        api, member, network["room"], date=NEXT_THURSDAY, unit="hour", start="15:00", end="16:00"
    )


def test_markers_that_cannot_be_written_never_fail_the_edit_written_before_them(
    api: Api, admin: str, network: dict[str, str], ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ctx.versioned, "write_hours_markers", _throttled(ctx))
    short = hours(thu=[["08:00", "13:00"]])
    answer = patch_relay(api, network["relay"], {"opening_hours": short}, admin)
    assert answer.status == 200, answer.json
    assert api.get(f"/v1/relays/{network['relay']}").json["opening_hours"]["thu"] == [
        ["08:00", "13:00"]
    ]
    assert thursday_marker(ctx, network["relay"]) == set()


def marker_version(ctx: Context, relay_id: str) -> int:
    item = ctx.table.get(f"OCC#{relay_id}#{NEXT_THURSDAY}", "HOURS") or {}
    return int(item.get("hours_version", 0))


def test_a_marker_left_closing_reopened_hours_is_repaired_by_the_first_booking_it_refuses(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    relay = network["relay"]
    short = patch_relay(api, relay, {"opening_hours": hours(thu=[["08:00", "13:00"]])}, admin)
    assert short.status == 200, short.json
    with monkeypatch.context() as throttle:  # the reopening's markers are not written
        throttle.setattr(ctx.versioned, "write_hours_markers", _throttled(ctx))
        assert patch_relay(api, relay, {"opening_hours": hours()}, admin).status == 200
    assert "c30" in thursday_marker(ctx, relay)  # still closing 15:00, now open again

    booked(
        api, member, network["room"], date=NEXT_THURSDAY, unit="hour", start="15:00", end="16:00"
    )

    assert "c30" not in thursday_marker(ctx, relay)
    assert marker_version(ctx, relay) == 3  # rewritten from the stored relay, version 3


def test_markers_of_an_earlier_edit_written_after_a_later_edits_are_not_kept(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    relay = network["relay"]
    held: list[tuple[str, list[Any], int]] = []
    with monkeypatch.context() as slow:  # the first edit's markers are held back...
        slow.setattr(ctx.versioned, "write_hours_markers", lambda *args: held.append(args) or 0)
        short = hours(thu=[["08:00", "13:00"]])
        assert patch_relay(api, relay, {"opening_hours": short}, admin).status == 200
    assert patch_relay(api, relay, {"opening_hours": hours()}, admin).status == 200
    kept = thursday_marker(ctx, relay)
    assert ("c30" in kept, marker_version(ctx, relay)) == (False, 3)  # 15:00 open again

    # ...and land after the second edit's: none of them is written over it
    ((relay_id, markers, version),) = held
    assert (version, len(markers)) == (2, 13)  # 13 Thursdays up to the horizon
    assert ctx.versioned.write_hours_markers(relay_id, markers, version) == 0

    assert (thursday_marker(ctx, relay), marker_version(ctx, relay)) == (kept, 3)
    booked(
        api, member, network["room"], date=NEXT_THURSDAY, unit="hour", start="15:00", end="16:00"
    )


def _throttled(ctx: Context) -> Any:
    def throttled(relay_id: str, markers: list[Any], version: int) -> int:
        raise ctx.table.exceptions.ProvisionedThroughputExceededException(
            {"Error": {"Code": "ProvisionedThroughputExceededException"}}, "TransactWriteItems"
        )

    return throttled
