"""Attendance: no-shows free the rest of their time, finished bookings complete.

`release_no_shows` runs every 15 minutes (and by hand with `as_of`). For every relay it
reads the bookings of the relay-local dates of the last `LOOKBACK_DAYS` up to today (one
GSI2 query each: a run missed for days, a paused schedule, is made up by the next one;
a longer gap by hand with `as_of`), and for each one decides with `attendance_outcome`:

- a confirmed booking not checked in `NO_SHOW_AFTER` (60 min) after its start — or after
  it was made, for one made once its day had begun — becomes `no_show`, and the seats of
  its slots that have not begun yet are given back; the slots already past (or under way)
  stay counted;
- a checked-in booking whose end has passed becomes `completed`; so does a confirmed
  booking too short for the grace period (`end <= start + 60 min`): it is over before a
  no-show could be declared, so whether it counts as one does not depend on when the job
  happens to run.

Every write is conditioned on the status that was read, so the job is idempotent and safe to
run concurrently with itself, check-ins and cancellations: the second run finds nothing to do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.schedule import slot_at
from chalicelib.errors import InvalidState
from chalicelib.services.context import Context

NO_SHOW_AFTER = timedelta(minutes=60)
LOOKBACK_DAYS = 7  # today and the 7 days before it


def attendance_outcome(booking: Booking, now: datetime) -> BookingStatus | None:
    """What the booking becomes at `now` (None: nothing yet). Pure."""
    if booking.status is BookingStatus.checked_in:
        return BookingStatus.completed if now >= booking.end else None
    if booking.status is BookingStatus.confirmed:
        # Made after it began (a same-day booking at 10:30 of 08:00-19:00): its member has
        # the same hour to come as anyone, from when it was made.
        deadline = max(booking.start, booking.created_at) + NO_SHOW_AFTER
        if deadline < booking.end and now >= deadline:
            return BookingStatus.no_show
        if now >= booking.end:
            return BookingStatus.completed
    return None


def slots_not_begun(booking: Booking, tz: ZoneInfo, now: datetime) -> list[int]:
    """The booking's slots that start at or after `now`: the rest of its time."""
    return [i for i in booking.slots if slot_at(booking.date, tz, i).start >= now]


def release_no_shows(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    now = as_of or ctx.clock.now()
    store = ctx.bookings
    done = {BookingStatus.no_show: 0, BookingStatus.completed: 0}
    relays = ctx.catalogue.get().relays
    for relay_id in sorted(relays):
        tz = ZoneInfo(relays[relay_id].timezone)
        today = now.astimezone(tz).date()
        for back in range(LOOKBACK_DAYS, -1, -1):
            day = today - timedelta(days=back)
            for booking in ctx.bookings.on_relay_day(relay_id, day.isoformat()):
                outcome = attendance_outcome(booking, now)
                if outcome is None:
                    continue
                try:
                    if outcome is BookingStatus.no_show:
                        store.mark_no_show(booking, slots_not_begun(booking, tz, now), now)
                    else:
                        store.complete(booking, now)
                except InvalidState:
                    continue  # checked in, cancelled or handled by a concurrent run meanwhile
                done[outcome] += 1
    return {
        "job": "release_no_shows",
        "processed": sum(done.values()),
        "no_shows": done[BookingStatus.no_show],
        "completed": done[BookingStatus.completed],
    }
