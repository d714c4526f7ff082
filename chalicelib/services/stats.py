"""Occupancy statistics (`GET /v1/stats/occupancy`), computed on request.

Cost: one Query per relay in scope on GSI2 (its bookings of the period, each read once)
and one on the relay's own partition (its closures); no Scan. A year of a relay selling
30 bookings a day reads ~11,000 items. Counters kept on write would make reads
O(days) but would add an update to every booking, cancellation, check-in and no-show
transaction; at the network's size (a dozen relays) reading the bookings is cheaper to
keep right, and the figures can never drift from the bookings themselves.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.auth import Principal
from chalicelib.domain.booking import Booking
from chalicelib.domain.catalogue import Relay
from chalicelib.domain.occupancy_stats import Granularity, Key, Seats, open_seat_hours, tally
from chalicelib.domain.schedule import open_slots
from chalicelib.errors import Forbidden, NotFound
from chalicelib.services.context import Context


def occupancy(
    ctx: Context,
    principal: Principal,
    span: tuple[date, date],
    granularity: Granularity,
    operator_id: str | None = None,
    relay_id: str | None = None,
) -> list[dict[str, Any]]:
    low, high = span
    catalogue = ctx.catalogue.get()
    kinds = {r.id: r.kind.value for r in catalogue.resources.values()}
    rows: list[dict[str, Any]] = []
    for relay in _relays_in_scope(ctx, principal, operator_id, relay_id):
        bookings = [
            b
            for b in ctx.stats.relay_bookings(relay.id, low.isoformat(), high.isoformat())
            if b.resource_id in kinds
        ]
        open_hours = _open_seat_hours(ctx, relay, span, bookings, granularity)
        counted = [(b, kinds[b.resource_id]) for b in bookings]
        for (rid, kind, start), counts in sorted(tally(counted, open_hours, granularity).items()):
            row = {"relay_id": rid, "resource_kind": kind, "period_start": start.isoformat()}
            rows.append({**row, **counts.figures()})
    return rows


def _relays_in_scope(
    ctx: Context, principal: Principal, operator_id: str | None, relay_id: str | None
) -> list[Relay]:
    """Admins and accountants see every relay, managers their own."""
    everything = principal.is_admin or principal.is_accountant
    if not everything and not principal.managed_relays:
        raise Forbidden("Statistics are for administrators, accountants and relay managers.")
    if relay_id is not None:
        relay = ctx.catalogue.relay(relay_id)
        if not everything and relay_id not in principal.managed_relays:
            raise Forbidden("You manage no relay with this id.")
        relays = [relay]
    else:
        relays = list(ctx.catalogue.get().relays.values())
        if not everything:
            relays = [r for r in relays if r.id in principal.managed_relays]
    if operator_id is not None:
        if operator_id not in ctx.catalogue.get().operators:
            raise NotFound(f"No operator with id {operator_id!r}.")
        relays = [r for r in relays if r.operator_id == operator_id]
    return sorted(relays, key=lambda r: r.id)


def _open_seat_hours(
    ctx: Context,
    relay: Relay,
    span: tuple[date, date],
    bookings: list[Booking],
    granularity: Granularity,
) -> dict[Key, float]:
    """Opening hours × seats per resource kind, per period (0 on closed days); resources
    not bookable now only where their bookings show them offered (`open_seat_hours`)."""
    low, high = span
    catalogue = ctx.catalogue.get()
    seats = [
        Seats(r.id, r.kind.value, r.capacity, r.active) for r in catalogue.resources_of(relay.id)
    ]
    hours, tz = relay.hours(), ZoneInfo(relay.timezone)
    closed = ctx.stats.closed_days(relay.id, low.isoformat(), high.isoformat())
    day_hours: dict[date, float] = {}
    day = low
    while day <= high:
        closed_today = day.isoformat() in closed
        day_hours[day] = 0.0 if closed_today else len(open_slots(hours, day, tz)) / 2
        day += timedelta(days=1)
    in_service = catalogue.relay_in_service(relay)
    return open_seat_hours(relay.id, in_service, seats, day_hours, bookings, tz, granularity)
