"""The hours markers of new weekly hours on DynamoDB Local (its conditions and
cancellation reasons): markers an earlier edit writes late never replace a later edit's
(the other days' are still written), and a marker left closing slots that the stored
hours open is rewritten by the first booking it refuses, which then commits."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from chalicelib.auth import Principal
from chalicelib.domain.catalogue_patches import RelayPatch
from chalicelib.domain.identifiers import new_id
from chalicelib.services.bookings import book
from chalicelib.services.catalogue_edits import patch_relay
from chalicelib.services.context import Context
from tests.integration.ddblocal.conftest import Network
from tests.integration.ddblocal.test_never_oversell import DAY, hour_request, member

ADMIN = Principal(sub="admin-1", groups=frozenset({"admin"}))
THURSDAY = DAY + timedelta(days=1)  # DAY is a Wednesday
AFTERNOON = 30  # the 15:00 slot


def weekly(**days: list[list[str]]) -> RelayPatch:
    hours = {day: [["08:00", "19:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    return RelayPatch.model_validate({"opening_hours": {**hours, **days}})


def marker(ctx: Context, relay_id: str, day: date) -> tuple[bool, int]:
    """(the 15:00 slot closed?, the relay version the day's marker holds)."""
    item = ctx.table.get(f"OCC#{relay_id}#{day.isoformat()}", "HOURS") or {}
    return f"c{AFTERNOON}" in item, int(item.get("hours_version", 0))


def book_afternoon(ctx: Context, network: Network) -> None:
    book(ctx, member("m-1"), hour_request(network.pool, "15:00", "16:00"), new_id("bkg"))


def test_markers_written_late_by_an_earlier_edit_keep_the_later_edits(
    ddb_ctx: Context, ddb_network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = ddb_network.relay
    held: list[tuple[Any, ...]] = []
    with monkeypatch.context() as slow:  # the first edit's markers are held back...
        slow.setattr(ddb_ctx.versioned, "write_hours_markers", lambda *a: held.append(a) or 0)
        short = weekly(wed=[["08:00", "13:00"]], thu=[["08:00", "13:00"]])
        patch_relay(ddb_ctx, ADMIN, relay, '"1"', short)
    patch_relay(ddb_ctx, ADMIN, relay, '"2"', weekly(thu=[["08:00", "13:00"]]))  # Wed reopens
    assert marker(ddb_ctx, relay, DAY) == (False, 3)

    # ...and land after the second edit's: Wednesdays are kept, Thursdays written
    ((relay_id, markers, version),) = held
    thursdays = [m for m in markers if date.fromisoformat(m[0]).weekday() == 3]
    assert len(thursdays) == len(markers) // 2 >= 12
    written = ddb_ctx.versioned.write_hours_markers(relay_id, markers, version)

    assert written == len(thursdays)
    assert marker(ddb_ctx, relay, DAY) == (False, 3)
    assert marker(ddb_ctx, relay, THURSDAY) == (True, 2)
    book_afternoon(ddb_ctx, ddb_network)


def test_a_stale_marker_is_rewritten_by_the_booking_it_refuses(
    ddb_ctx: Context, ddb_network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = ddb_network.relay
    patch_relay(ddb_ctx, ADMIN, relay, '"1"', weekly(wed=[["08:00", "13:00"]]))
    with monkeypatch.context() as lost:  # the reopening's markers are never written

        def throttled(*_: Any) -> int:
            raise ddb_ctx.table.exceptions.ProvisionedThroughputExceededException(
                {"Error": {"Code": "ProvisionedThroughputExceededException"}}, "Transact"
            )

        lost.setattr(ddb_ctx.versioned, "write_hours_markers", throttled)
        patch_relay(ddb_ctx, ADMIN, relay, '"2"', weekly())
    assert marker(ddb_ctx, relay, DAY) == (True, 2)

    book_afternoon(ddb_ctx, ddb_network)

    assert marker(ddb_ctx, relay, DAY) == (False, 3)
