"""Calendars: a booking as an RFC 5545 event, and each member's secret, revocable feed.

Times are written in the relay's own time zone (``DTSTART;TZID=Europe/Paris:...``) with
the matching ``VTIMEZONE`` generated from tzdata by `icalendar`, so calendar apps show
the relay's wall clock on DST days too. `icalendar` is imported on first use only (it
costs ~60 ms, which cold starts of the other routes need not pay).

The feed's secret is a random token (32 bytes, URL-safe), kept by the calendar-feed store
(`ctx.calendar_feeds`): the public feed URL finds the member from it, and the member gets
the same URL back until they rotate it.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from chalicelib.adapters.calendar_feed_store import FeedMoved
from chalicelib.auth import Principal
from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.catalogue import Address, Relay
from chalicelib.errors import ConcurrentUpdate, NotFound
from chalicelib.services.context import Context

if TYPE_CHECKING:
    from icalendar import Event

PRODID = "-//Relais//Reservations 1.0//FR"
TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 characters
FEED_RECENT_DAYS = 30  # the feed shows bookings from this many days back, and all upcoming
FEED_MAX_EVENTS = 1000
FEED_REFRESH = timedelta(hours=1)  # what the feed suggests to calendar apps
WRITE_ATTEMPTS = 3
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")

# What a booking's status says to a calendar: TENTATIVE while a card payment is pending,
# CONFIRMED while (or after) it holds its seat, CANCELLED once it holds none any more.
ICS_STATUS = {
    BookingStatus.held: "TENTATIVE",
    BookingStatus.confirmed: "CONFIRMED",
    BookingStatus.checked_in: "CONFIRMED",
    BookingStatus.completed: "CONFIRMED",
    BookingStatus.cancelled: "CANCELLED",
    BookingStatus.expired: "CANCELLED",
    BookingStatus.no_show: "CANCELLED",
}
# SEQUENCE (RFC 5545 §3.8.7.4) grows with every change a calendar app must see; a booking's
# time never changes, only its status, so its position in the life cycle is the revision.
SEQUENCE = {
    BookingStatus.held: 0,
    BookingStatus.confirmed: 1,
    BookingStatus.checked_in: 1,
    BookingStatus.completed: 1,
    BookingStatus.cancelled: 2,
    BookingStatus.expired: 2,
    BookingStatus.no_show: 2,
}
NOT_IN_FEED = frozenset({BookingStatus.cancelled, BookingStatus.expired})


# -- pure: bookings as iCalendar ----------------------------------------------------------
def event_uid(booking_id: str) -> str:
    return f"{booking_id}@relais"


def wall_clock(instant: datetime, tz: tzinfo) -> datetime:
    """The instant in the relay's zone, as DTSTART/DTEND with a TZID will carry it.

    A local time inside the repeated hour of a fall-back night means its *first* occurrence
    in iCalendar (RFC 5545 §3.3.5); the second occurrence is written in UTC instead.
    """
    local = instant.astimezone(tz)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return instant.astimezone(UTC)
    return local


def one_line_address(address: Address) -> str:
    parts = [address.line1, address.line2, f"{address.postcode} {address.city}"]
    if address.country != "FR":
        parts.append(address.country)
    return ", ".join(p for p in parts if p)


def booking_event(booking: Booking, relay: Relay, resource_name: str, stamp: datetime) -> Event:
    """One VEVENT: UID `{id}@relais`, local times with the relay's TZID, status, sequence."""
    from icalendar import Event
    from icalendar.enums import STATUS

    tz = ZoneInfo(relay.timezone)
    event = Event.new(
        uid=event_uid(booking.id),
        start=wall_clock(booking.start, tz),
        end=wall_clock(booking.end, tz),
        summary=f"{resource_name} — {relay.name}",
        location=one_line_address(relay.address),
        description=f"Réservation Relais {booking.id} ({booking.status.value}).",
        status=STATUS(ICS_STATUS[booking.status]),
        sequence=SEQUENCE[booking.status],
        stamp=_utc_seconds(stamp),
        created=_utc_seconds(booking.created_at),
    )
    event.add("GEO", (relay.location.lat, relay.location.lon))
    return event


def calendar_text(
    events: Iterable[Event], *, name: str, uid: str, refresh: timedelta | None = None
) -> str:
    """A VCALENDAR (METHOD:PUBLISH) of these events with a VTIMEZONE for every TZID used."""
    from icalendar import Calendar, vDuration

    calendar = Calendar.new(prodid=PRODID, method="PUBLISH", name=name, uid=uid)
    if refresh is not None:
        calendar.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
        calendar.add("X-PUBLISHED-TTL", vDuration(refresh).to_ical().decode())  # Outlook, Apple
    days: list[date] = []
    for event in events:
        calendar.add_component(event)
        days.extend(d.date() for d in (event.start, event.end) if isinstance(d, datetime))
    if days:
        # Rules from the year before the first event to the year after the last: enough
        # for every TZID'd time in the file, and a few hundred bytes instead of 1970-2038.
        calendar.add_missing_timezones(
            first_date=date(min(days).year - 1, 1, 1), last_date=date(max(days).year + 2, 1, 1)
        )
        for timezone in calendar.timezones:
            _onsets_before_the_jump(timezone)
    text: str = calendar.to_ical().decode("utf-8")
    return text


def _onsets_before_the_jump(timezone: Any) -> None:
    """RFC 5545 3.6.5: an observance's DTSTART (and RDATEs) is the local time of its onset
    read with TZOFFSETFROM. icalendar 7 writes a forward change with TZOFFSETTO (Paris's
    spring change at 03:00 instead of 02:00, an hour late for a strict client): such
    onsets are moved back by the jump, where the zone confirms the change is."""
    from icalendar import vDDDLists

    zone = ZoneInfo(str(timezone["TZID"]))
    for observance in timezone.subcomponents:
        offsets = (observance["TZOFFSETFROM"].td, observance["TZOFFSETTO"].td)
        if offsets[1] <= offsets[0]:
            continue
        start = _onset(observance.decoded("DTSTART"), zone, *offsets)
        observance.pop("DTSTART")
        observance.add("DTSTART", start)
        if "RDATE" in observance:
            lists = observance["RDATE"]
            lists = lists if isinstance(lists, list) else [lists]
            onsets = [_onset(d.dt, zone, *offsets) for dates in lists for d in dates.dts]
            observance["RDATE"] = vDDDLists(onsets)


def _onset(local: datetime, zone: ZoneInfo, before: timedelta, after: timedelta) -> datetime:
    """`local`, written with the offset after the change, as the time before it."""
    instant = (local - after).replace(tzinfo=UTC)
    just_before = (instant - timedelta(seconds=1)).astimezone(zone).utcoffset()
    changes_there = just_before == before and instant.astimezone(zone).utcoffset() == after
    return local - (after - before) if changes_there else local


def booking_ics(booking: Booking, relay: Relay, resource_name: str, stamp: datetime) -> str:
    return calendar_text(
        [booking_event(booking, relay, resource_name, stamp)],
        name=f"Relais — {relay.name}",
        uid=event_uid(f"calendar-{booking.id}"),
    )


def _utc_seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


# -- use cases ------------------------------------------------------------------------------
def booking_calendar(ctx: Context, principal: Principal, booking_id: str) -> str:
    """`GET /v1/bookings/{id}/ics`: the owner's booking as one event; 404 for anyone else."""
    booking = ctx.bookings.get(booking_id)
    if booking is None or booking.member_id != principal.sub:
        raise NotFound(f"No booking with id {booking_id!r}.")
    relay, resource_name = _place(ctx, booking)
    return booking_ics(booking, relay, resource_name, ctx.clock.now())


def feed_calendar(ctx: Context, token: str) -> str:
    """The public feed: the member's recent and upcoming bookings (not cancelled or expired).

    An unknown, revoked or malformed token is a 404, like any unknown id."""
    member_id = member_of_token(ctx, token)
    if member_id is None:
        raise NotFound("No calendar feed at this address (it may have been revoked).")
    now = ctx.clock.now()
    low = (now.astimezone(UTC).date() - timedelta(days=FEED_RECENT_DAYS)).isoformat()
    events = [
        booking_event(booking, *_place(ctx, booking), now)
        for booking in _member_bookings(ctx, member_id, low)
        if booking.status not in NOT_IN_FEED
    ]
    return calendar_text(
        events,
        name="Relais — mes réservations",
        uid=event_uid(f"feed-{uuid.uuid5(uuid.NAMESPACE_URL, 'relais:' + member_id)}"),
        refresh=FEED_REFRESH,
    )


def _member_bookings(ctx: Context, member_id: str, low: str) -> list[Booking]:
    found: list[Booking] = []
    cursor: str | None = None
    while len(found) < FEED_MAX_EVENTS:
        page, cursor = ctx.bookings.page_for_member(member_id, (low, "9999"), None, 100, cursor)
        found.extend(page)
        if cursor is None:
            break
    return found[:FEED_MAX_EVENTS]


def _place(ctx: Context, booking: Booking) -> tuple[Relay, str]:
    relay = ctx.catalogue.relay(booking.relay_id)
    resource = ctx.catalogue.get().resources.get(booking.resource_id)
    return relay, resource.name if resource is not None else relay.name


# -- the feed's secret ---------------------------------------------------------------------
def member_of_token(ctx: Context, token: str) -> str | None:
    if not _TOKEN.fullmatch(token):
        return None  # never a key we wrote: no need to ask the table
    return ctx.calendar_feeds.member_of(token)


def current_token(ctx: Context, member_id: str) -> str | None:
    return ctx.calendar_feeds.token_of(member_id)


def feed_token(ctx: Context, member_id: str) -> str:
    """The member's feed token, created on first ask; the same one until rotated."""
    for _attempt in range(WRITE_ATTEMPTS):
        existing = current_token(ctx, member_id)
        if existing is not None:
            return existing
        token = secrets.token_urlsafe(TOKEN_BYTES)
        try:
            _move(ctx, member_id, old=None, new=token)
            return token
        except FeedMoved:
            continue  # a concurrent first call created one: answer that one
    raise ConcurrentUpdate("The calendar feed changed meanwhile; please retry.")


def rotate_feed(ctx: Context, member_id: str) -> str:
    """Revoke the member's feed token (its URL answers 404 from now on) and make a new one."""
    for _attempt in range(WRITE_ATTEMPTS):
        old = current_token(ctx, member_id)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        try:
            _move(ctx, member_id, old=old, new=token)
            return token
        except FeedMoved:
            continue
    raise ConcurrentUpdate("The calendar feed changed meanwhile; please retry.")


def revoke_feed(ctx: Context, member_id: str) -> bool:
    """Delete the member's feed token, if any; True if there was one."""
    for _attempt in range(WRITE_ATTEMPTS):
        old = current_token(ctx, member_id)
        if old is None:
            return False
        try:
            _move(ctx, member_id, old=old, new=None)
            return True
        except FeedMoved:
            continue
    raise ConcurrentUpdate("The calendar feed changed meanwhile; please retry.")


def _move(ctx: Context, member_id: str, *, old: str | None, new: str | None) -> None:
    at = ctx.clock.now().astimezone(UTC).isoformat()
    ctx.calendar_feeds.move(member_id, old=old, new=new, at=at)
