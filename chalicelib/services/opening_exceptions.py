"""Opening-hour exceptions of a relay (`opening_exceptions` in `PATCH /v1/relays/{id}`):
what guards an edit that shortens or closes a dated day.

An exception replaces the weekly hours on its date (`Relay.hours()`), so availability and
booking validation follow it with no code of their own. Changing the hours of a date
never cancels anything: an edit that would leave seats booked outside the new hours (on
a date from now to the booking horizon; later dates hold no booking) is refused with 409
`capacity_conflict` listing them (`conflicts: [{"date", "start", "booked",
"resource_id"}]`), as a capacity edit is, and nothing is written. To close a day and
cancel its bookings with a refund, a closure is the tool (`POST …/closures`).

The race with a booking is closed the way the capacity edit closes it: the edit's
transaction carries, per changed day and resource, a condition that every slot the
edit closes is still empty. A booking committed after our read fails that condition
(→ 409 listing it, nothing written). A booking validated against hours cached before
the edit can still commit within the catalogue cache's lifetime (`CATALOGUE_CACHE_SECONDS`),
as for any catalogue edit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.catalogue import Relay
from chalicelib.domain.schedule import (
    SLOT,
    OpeningHours,
    changed_days,
    closed_indices,
    local_midnight,
    open_slots,
    slot_at,
    taken_outside_hours,
)
from chalicelib.errors import CapacityConflict, ValidationFailed
from chalicelib.services.context import Context

# Condition checks one edit may carry (a transaction takes 100 items, with the relay's
# update and its audit entry).
MAX_CHECKS = 95


def hours_guard(
    ctx: Context, before: Relay, after: Relay
) -> tuple[list[dict[str, Any]], Callable[[list[int]], None] | None]:
    """The condition items an edit of `before` into `after` must carry, and what explains
    their failure; CapacityConflict now if seats are already booked outside the new hours."""
    tz = ZoneInfo(after.timezone)
    now = ctx.clock.now()
    old, new = before.hours(), after.hours()
    days = _days_to_check(before, after, now, tz, ctx.settings.booking_horizon_days)
    if not days:
        return [], None
    conflicts = [c for day in days for c in _conflicts_on(ctx, after, new, day, now, tz)]
    if conflicts:
        raise _refusal(conflicts)
    resources = ctx.catalogue.get(fresh=True).resources_of(after.id)
    checks: list[tuple[str, str, list[int]]] = []
    for day in days:
        was_open = {slot.index for slot in open_slots(old, day, tz)}
        first = _first_slot(day, now, tz)
        closing = [k for k in closed_indices(new, day, tz) if k in was_open and k >= first]
        if closing:
            checks += [(resource.id, day.isoformat(), closing) for resource in resources]
    if len(checks) > MAX_CHECKS:
        raise ValidationFailed(
            f"This edit shortens the hours of too many days at once for one transaction "
            f"({len(checks)} day-resource checks, at most {MAX_CHECKS}): split it.",
            field="opening_exceptions",
        )
    checked_days = [date.fromisoformat(day) for _resource, day, _indices in checks]

    def explain(failed: list[int]) -> None:  # a booking committed after our read
        missed = sorted({checked_days[i] for i in failed if 0 <= i < len(checked_days)})
        found = [c for day in missed for c in _conflicts_on(ctx, after, new, day, now, tz)]
        if found:
            raise _refusal(found)

    return ctx.versioned.empty_slot_checks(after.id, checks), explain


def _days_to_check(
    before: Relay, after: Relay, now: datetime, tz: ZoneInfo, horizon_days: int
) -> list[date]:
    """Exception dates from today to the booking horizon whose hours the edit changes."""
    today = now.astimezone(tz).date()
    last = today + timedelta(days=horizon_days)
    dated = {e.date for e in before.opening_exceptions} | {e.date for e in after.opening_exceptions}
    within = sorted(d for d in dated if today <= d <= last)
    return changed_days(before.hours(), after.hours(), within)


def _first_slot(day: date, now: datetime, tz: ZoneInfo) -> int:
    """The first slot of `day` still to come (0 for a later day)."""
    if day != now.astimezone(tz).date():
        return 0
    return int((now - local_midnight(day, tz)) // SLOT)


def _conflicts_on(
    ctx: Context,
    relay: Relay,
    hours: OpeningHours,
    day: date,
    now: datetime,
    tz: ZoneInfo,
) -> list[dict[str, Any]]:
    _closed, taken = ctx.bookings.occupancy(relay.id, day.isoformat())
    first = _first_slot(day, now, tz)
    return [
        {
            "date": day.isoformat(),
            "start": slot_at(day, tz, index).local_label()[0],
            "booked": seats,
            "resource_id": resource_id,
        }
        for resource_id, slots in sorted(taken.items())
        for index, seats in taken_outside_hours(hours, day, tz, slots, first)
    ]


def _refusal(conflicts: list[dict[str, Any]]) -> CapacityConflict:
    days = sorted({c["date"] for c in conflicts})
    return CapacityConflict(
        f"Seats are booked outside the new opening hours on {', '.join(days)}: cancel those "
        "bookings or close the day (POST /v1/relays/{relay_id}/closures) first.",
        conflicts,
    )
