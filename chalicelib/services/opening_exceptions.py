"""Opening-hour exceptions of a relay (`opening_exceptions` in `PATCH /v1/relays/{id}`):
what guards an edit that shortens or closes a dated day.

An exception replaces the weekly hours on its date (`Relay.hours()`), so availability and
booking validation follow it with no code of their own. Changing the hours of a date
never cancels anything: an edit that would leave seats booked outside the new hours (on
a date from now to the booking horizon; later dates hold no booking) is refused with 409
`capacity_conflict` listing them (`conflicts: [{"date", "start", "booked",
"resource_id"}]`), as a capacity edit is, and nothing is written. To close a day and
cancel its bookings with a refund, a closure is the tool (`POST …/closures`).

The race with a booking is closed both ways, as for a capacity cut: the edit's
transaction carries, per changed day and resource, a condition that every slot the edit
closes is still empty (a booking committed after our read fails it: 409 listing it,
nothing written), and writes for every changed future day an hours marker in the
relay-day's occupancy partition naming the slots the exception closes, which every
booking transaction checks (`booking_items.within_hours`): a booking validated against
hours cached before the edit fails there (422 `outside_opening_hours`). Removing an
exception marks its day with the weekly hours it returns to.

New weekly hours (`opening_hours`) are checked the same way on every date up to the
booking horizon that no exception overrides (409 `capacity_conflict` listing the seats
they would strand); that check is a consistent read before the write, without markers
in the transaction (a marker per day of the horizon would not fit one). Once the edit is
written, `mark_weekly_hours` writes the hours marker of every such date whose hours
changed (one transaction after the edit's), so a process still holding the old hours
(CATALOGUE_CACHE_SECONDS) is refused as for an exception.

Every marker names the relay version whose hours it holds (`hours_version`): markers
written after their edit's transaction never replace a later edit's, and a booking
refused by a marker that closes slots the stored hours open (a reopening whose markers
could not be written) rewrites it from the stored relay and is tried again
(`create_within_hours`). Left open: a booking committed in the instant between the
edit's read and its write, or while its markers are being written (milliseconds).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from chalicelib.adapters.dynamo import strip_keys
from chalicelib.adapters.versioned_store import relay_key
from chalicelib.domain.booking import Booking
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
from chalicelib.errors import (
    CapacityConflict,
    OutsideOpeningHours,
    RelayClosed,
    ValidationFailed,
)
from chalicelib.observability import count, logger
from chalicelib.services.context import Context

T = TypeVar("T")
# Hours markers and condition checks one edit may carry together (a transaction takes
# 100 items, with the relay's update and its audit entry).
MAX_CHECKS = 95


def hours_guard(
    ctx: Context, before: Relay, after: Relay
) -> tuple[list[dict[str, Any]], Callable[[list[int]], None] | None]:
    """The condition items an edit of `before` into `after` must carry, and what explains
    their failure; CapacityConflict now if seats are already booked outside the new hours."""
    tz = ZoneInfo(after.timezone)
    now = ctx.clock.now()
    old, new = before.hours(), after.hours()
    touched = _touched_future_days(before, after, now, tz)
    last = now.astimezone(tz).date() + timedelta(days=ctx.settings.booking_horizon_days)
    weekly = _weekly_dates(ctx, before, after, now, touched)
    if not touched and not weekly:
        return [], None
    # A removed exception's day is marked with the weekly hours it returns to.
    markers = [(day.isoformat(), closed_indices(new, day, tz)) for day in touched]
    # Days whose hours change, up to the horizon (later days hold no booking yet).
    days = changed_days(old, new, [day for day in touched if day <= last])
    weekly_days = changed_days(old, new, weekly)
    conflicts = [
        c
        for day in sorted(days + weekly_days)
        for c in _conflicts_on(ctx, after, new, day, now, tz)
    ]
    if conflicts:
        raise _refusal(conflicts)
    if not touched:
        return [], None
    resources = ctx.catalogue.get(fresh=True).resources_of(after.id)
    checks: list[tuple[str, str, list[int]]] = []
    for day in days:
        was_open = {slot.index for slot in open_slots(old, day, tz)}
        first = _first_slot(day, now, tz)
        closing = [k for k in closed_indices(new, day, tz) if k in was_open and k >= first]
        if closing:
            checks += [(resource.id, day.isoformat(), closing) for resource in resources]
    if len(markers) + len(checks) > MAX_CHECKS:
        raise ValidationFailed(
            f"This edit changes the hours of too many days at once for one transaction "
            f"({len(markers)} days, {len(checks)} day-resource checks; at most {MAX_CHECKS} "
            "together): split it.",
            field="opening_exceptions",
        )
    checked_days = [date.fromisoformat(day) for _resource, day, _indices in checks]
    first_check = len(markers)

    def explain(failed: list[int]) -> None:  # a booking committed after our read
        found_at = [i - first_check for i in failed]
        missed = sorted({checked_days[i] for i in found_at if 0 <= i < len(checked_days)})
        found = [c for day in missed for c in _conflicts_on(ctx, after, new, day, now, tz)]
        if found:
            raise _refusal(found)

    items = ctx.versioned.hours_markers(after.id, markers, before.version + 1)
    return items + ctx.versioned.empty_slot_checks(after.id, checks), explain


def mark_weekly_hours(ctx: Context, before: Relay, after: Relay) -> int:
    """After new weekly hours are written (`after`: the relay as saved, its new version):
    the hours marker of every date up to the booking horizon that no exception overrides
    and whose hours changed, naming the slots now closed (a later edit that reopens them
    writes the marker again), unless a later edit wrote that day's marker meanwhile.
    Answers how many were written; a failure to write them is logged and counted, never
    the edit's (it is written already): a marker left closing reopened slots is repaired
    by the first booking it refuses (`create_within_hours`)."""
    now = ctx.clock.now()
    tz = ZoneInfo(after.timezone)
    weekly = _weekly_dates(ctx, before, after, now, _touched_future_days(before, after, now, tz))
    if not weekly:  # the weekly hours did not change
        return 0
    new = after.hours()
    markers = [
        (day.isoformat(), closed_indices(new, day, tz))
        for day in changed_days(before.hours(), new, weekly)
    ]
    try:
        return ctx.versioned.write_hours_markers(after.id, markers, after.version)
    except Exception:  # the edit stands (written): only the cached-hours window stays open
        logger().warning(
            "weekly_hours_markers_not_written", extra={"relay_id": after.id}, exc_info=True
        )
        count("HoursMarkersNotWritten")
        return 0


def create_within_hours(
    ctx: Context,
    booking: Booking,
    capacity: int,
    now: datetime,
    extra: list[dict[str, Any]] | None = None,
) -> None:
    """`ctx.bookings.create`, once more if the day's hours marker refused the booking but
    was stale (see `repair_marker`). Refused with 422 `outside_opening_hours` otherwise,
    409 `relay_closed` if the stored hours close the whole day."""
    _retried_if_stale(
        ctx, booking, lambda: ctx.bookings.create(booking, capacity=capacity, now=now, extra=extra)
    )


def reinstate_within_hours(ctx: Context, booking: Booking, capacity: int, now: datetime) -> Booking:
    """`ctx.bookings.reinstate` (a hold paid after it expired takes its seats again) if the
    relay's hours, as cached, still open its slots, and its day's marker agrees (the
    marker of a later edit refuses it in the transaction); else OutsideOpeningHours or
    RelayClosed, and the payment is refunded."""
    if not open_for(ctx.catalogue.relay(booking.relay_id), booking):
        raise OutsideOpeningHours("The booked times are no longer within the opening hours.")
    return _retried_if_stale(ctx, booking, lambda: ctx.bookings.reinstate(booking, capacity, now))


def open_for(relay: Relay, booking: Booking) -> bool:
    """Whether `relay`'s hours open every slot `booking` takes."""
    closed = closed_indices(relay.hours(), booking.date, ZoneInfo(relay.timezone))
    return not set(booking.slots) & set(closed)


def _retried_if_stale(ctx: Context, booking: Booking, write: Callable[[], T]) -> T:
    try:
        return write()
    except OutsideOpeningHours:
        if not repair_marker(ctx, booking):
            raise
        return write()


def repair_marker(ctx: Context, booking: Booking) -> bool:
    """After the day's hours marker refused `booking`: if the relay's stored hours (a
    consistent read, not the catalogue cache) open all its slots, the marker was stale
    (reopening hours whose markers could not be written): rewrite it from them and
    answer True (unless a later edit wrote it meanwhile). False if those hours close
    some of its slots; RelayClosed if they close the whole day."""
    stored = ctx.versioned.read(relay_key(booking.relay_id))
    if stored is None:
        return False
    relay = Relay.model_validate(strip_keys(stored))
    tz = ZoneInfo(relay.timezone)
    if not open_for(relay, booking):  # closed indeed: checked against cached hours
        if not open_slots(relay.hours(), booking.date, tz):
            raise RelayClosed(f"The relay is closed on {booking.date.isoformat()}.")
        return False
    day = booking.date.isoformat()
    closed = closed_indices(relay.hours(), booking.date, tz)
    written = ctx.versioned.write_hours_markers(relay.id, [(day, closed)], relay.version)
    if written:
        logger().warning("stale_hours_marker_repaired", extra={"relay_id": relay.id, "date": day})
        count("HoursMarkersRepaired")
    return written == 1


def _weekly_dates(
    ctx: Context, before: Relay, after: Relay, now: datetime, touched: list[date]
) -> list[date]:
    """If the weekly hours change: every date from today to the booking horizon that no
    exception overrides and the edit's exceptions do not touch."""
    if before.opening_hours == after.opening_hours:
        return []
    today = now.astimezone(ZoneInfo(after.timezone)).date()
    last = today + timedelta(days=ctx.settings.booking_horizon_days)
    excepted = {e.date for e in after.opening_exceptions}
    return [d for d in _dates(today, last) if d not in excepted and d not in touched]


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _touched_future_days(before: Relay, after: Relay, now: datetime, tz: ZoneInfo) -> list[date]:
    """Dates from today on whose exception the edit adds, changes or removes."""
    today = now.astimezone(tz).date()
    old = {e.date: e.hours for e in before.opening_exceptions}
    new = {e.date: e.hours for e in after.opening_exceptions}
    dates = (d for d in old.keys() | new.keys() if d >= today)
    return sorted(d for d in dates if (d in old, old.get(d)) != (d in new, new.get(d)))


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
