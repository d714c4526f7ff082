"""Free seats per 30-minute slot: one Query per relay-day, the catalogue from cache.
A slot already over by the clock is marked `past: true`: no hour booking can start in it,
but its `free` still counts (a day booking made now covers the whole day). A day beyond
the booking horizon has no seat free."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.catalogue import Relay, ResourceKind
from chalicelib.domain.geo import Location, distance_km
from chalicelib.domain.schedule import Interval, slots_over, slots_within
from chalicelib.services.context import Context


def availability(
    ctx: Context,
    day: date,
    relay_id: str | None = None,
    kind: ResourceKind | None = None,
    near: Location | None = None,
) -> dict[str, Any]:
    now = ctx.clock.now()
    catalogue = ctx.catalogue.get()
    relays = [ctx.catalogue.relay(relay_id)] if relay_id else list(catalogue.relays.values())
    relays = [r for r in relays if catalogue.relay_in_service(r)]  # withdrawn: not bookable
    if near is not None:
        relays.sort(
            key=lambda r: distance_km(near, Location(lat=r.location.lat, lon=r.location.lon))
        )
    else:
        relays.sort(key=lambda r: (r.name, r.id))
    return {
        "date": day.isoformat(),
        "relays": [relay_day(ctx, relay, day, kind, near, now) for relay in relays],
    }


def relay_day(
    ctx: Context,
    relay: Relay,
    day: date,
    kind: ResourceKind | None,
    near: Location | None,
    now: datetime,
) -> dict[str, Any]:
    closed, taken = ctx.bookings.occupancy(relay.id, day.isoformat())
    hours = relay.hours()
    intervals = hours.intervals_on(day)
    is_open = bool(intervals) and not closed
    view: dict[str, Any] = {
        "relay_id": relay.id,
        "name": relay.name,
        "open": is_open,
        "opening_hours": hours.labels_on(day) if is_open else [],  # exceptions included
        "resources": [],
    }
    if near is not None:
        here = Location(lat=relay.location.lat, lon=relay.location.lon)
        view["distance_km"] = round(distance_km(near, here), 2)
    if not is_open:
        return view
    tz = ZoneInfo(relay.timezone)
    labelled = _labelled(intervals, day, tz)
    over = slots_over(day, tz, now)
    # Beyond the booking horizon no booking can get a seat yet: none is free.
    horizon = timedelta(days=ctx.settings.booking_horizon_days)
    bookable = day <= now.astimezone(tz).date() + horizon
    for resource in ctx.catalogue.get().resources_of(relay.id):
        if not resource.active or (kind is not None and resource.kind != kind):
            continue
        used = taken.get(resource.id) or {}
        seats = resource.capacity if bookable else 0
        view["resources"].append(
            {
                "resource_id": resource.id,
                "name": resource.name,
                "kind": resource.kind.value,
                "capacity": resource.capacity,
                "slots": [
                    _slot(a, b, max(0, seats - used.get(i, 0)), i < over) for i, a, b in labelled
                ]
                if used or over
                else _all_free(labelled, seats),
            }
        )
    return view


def _slot(start: str, end: str, free: int, past: bool) -> dict[str, Any]:
    """A slot as the contract writes it; `past` only on one already over, so that the
    slots of a day not begun are exactly `{"start", "end", "free"}`."""
    if past:
        return {"start": start, "end": end, "free": free, "past": True}
    return {"start": start, "end": end, "free": free}


@lru_cache(maxsize=1024)
def _all_free(labelled: tuple[tuple[int, str, str], ...], capacity: int) -> list[dict[str, Any]]:
    """The slots of a resource nobody booked on a day not begun: the same for every request of a
    relay-day, so built once (shared by the answers that include it, which only write
    it out; never changed)."""
    return [{"start": a, "end": b, "free": capacity} for _, a, b in labelled]


@lru_cache(maxsize=1024)
def _labelled(
    intervals: tuple[Interval, ...], day: date, tz: ZoneInfo
) -> tuple[tuple[int, str, str], ...]:
    """(index, "HH:MM", "HH:MM") of each open slot: the same for every request of a
    relay-day (keyed by its hours, not its 22 slots, which take longer to hash)."""
    return tuple((s.index, *s.local_label()) for s in slots_within(intervals, day, tz))
