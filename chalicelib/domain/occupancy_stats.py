"""Occupancy figures for the Living Lab: per relay, resource kind and period. Pure.

No personal data leaves here: members are only counted (`unique_members`).

- `bookings`: bookings that kept their seat (confirmed, checked in, completed, no-show);
- `cancellations`: bookings cancelled, whenever (holds given up included); expired
  holds (an abandoned card payment) count as neither;
- `seat_hours_booked`: the hours of the kept bookings, counted by their slots (a break
  inside a day booking is not booked time); `seat_hours_checked_in`: those of the
  bookings checked in; `seat_hours_open`: opening hours × seats of the relay's
  resources of that kind, 0 on closed days (the current catalogue: past capacities and
  hours are not kept). A resource bookable now counts every day. One that is not counts
  every day on which it holds a kept booking (existing bookings stay and are used, so
  booked hours never exceed open ones) and, since no history of `active` is kept, every
  day up to the last one on which it is seen bookable, so that its past keeps its open
  hours: for an inactive resource, the last day one of its bookings of the period was
  taken; for an active one at an inactive relay (or operator), the last day one of the
  relay's was;
- `revenue_excl_vat` (cents, by booking date): kept bookings paid by card or on a company
  account, and card bookings cancelled too late to be refunded. Credits and memberships
  are revenue when the pack or membership is sold, not when a day is used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Literal

from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.schedule import SLOT_MINUTES

Granularity = Literal["day", "week", "month"]
KEPT = frozenset(
    {
        BookingStatus.confirmed,
        BookingStatus.checked_in,
        BookingStatus.completed,
        BookingStatus.no_show,
    }
)
PAID_PER_BOOKING = frozenset({"card", "company"})
FIGURES = (
    "seat_hours_open",
    "seat_hours_booked",
    "seat_hours_checked_in",
    "bookings",
    "cancellations",
    "no_shows",
    "unique_members",
    "revenue_excl_vat",
)


def period_start(day: date, granularity: Granularity) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def periods(low: date, high: date, granularity: Granularity) -> list[date]:
    """The start of every period that meets [low, high], in order."""
    starts: list[date] = []
    day = low
    while day <= high:
        start = period_start(day, granularity)
        if not starts or starts[-1] != start:
            starts.append(start)
        day += timedelta(days=1)
    return starts


def booked_hours(booking: Booking) -> float:
    """The hours a booking holds a seat: its slots (30 minutes each), so a day booking
    over a lunch break counts the open hours only, never more than `seat_hours_open`."""
    return len(booking.slots) * SLOT_MINUTES / 60


@dataclass
class Tally:
    seat_hours_open: float = 0.0
    seat_hours_booked: float = 0.0
    seat_hours_checked_in: float = 0.0
    bookings: int = 0
    cancellations: int = 0
    no_shows: int = 0
    revenue_excl_vat: int = 0
    members: set[str] = field(default_factory=set)

    def add(self, booking: Booking) -> None:
        hours = booked_hours(booking)
        if booking.status is BookingStatus.cancelled:
            self.cancellations += 1
            late = booking.payment_method == "card" and booking.invoice_id and not booking.refund
            if late:
                self.revenue_excl_vat += int(booking.price.get("amount_excl_vat", 0))
            return
        if booking.status not in KEPT:
            return
        self.bookings += 1
        self.seat_hours_booked += hours
        self.members.add(booking.member_id)
        if booking.checked_in_at is not None:
            self.seat_hours_checked_in += hours
        if booking.status is BookingStatus.no_show:
            self.no_shows += 1
        if booking.payment_method in PAID_PER_BOOKING:
            self.revenue_excl_vat += int(booking.price.get("amount_excl_vat", 0))

    def figures(self) -> dict[str, float | int]:
        return {
            "seat_hours_open": round(self.seat_hours_open, 2),
            "seat_hours_booked": round(self.seat_hours_booked, 2),
            "seat_hours_checked_in": round(self.seat_hours_checked_in, 2),
            "bookings": self.bookings,
            "cancellations": self.cancellations,
            "no_shows": self.no_shows,
            "unique_members": len(self.members),
            "revenue_excl_vat": self.revenue_excl_vat,
        }


Key = tuple[str, str, date]  # relay, resource kind, period start


def tally(
    bookings: Iterable[tuple[Booking, str]],
    open_hours: dict[Key, float],
    granularity: Granularity,
) -> dict[Key, Tally]:
    """Figures per (relay, kind, period) from bookings (each with its resource's kind)
    and the open seat-hours already summed per key; every key of `open_hours` appears."""
    tallies: dict[Key, Tally] = defaultdict(Tally)
    for key, hours in open_hours.items():
        tallies[key].seat_hours_open += hours
    for booking, kind in bookings:
        tallies[(booking.relay_id, kind, period_start(booking.date, granularity))].add(booking)
    return dict(tallies)


@dataclass(frozen=True)
class Seats:
    """A resource's seats as the statistics count them."""

    resource_id: str
    kind: str
    capacity: int
    active: bool  # its own flag (its relay's and operator's: `relay_in_service`)


def open_seat_hours(
    relay_id: str,
    relay_in_service: bool,
    resources: Iterable[Seats],
    day_hours: dict[date, float],
    bookings: Iterable[Booking],
    tz: tzinfo,
    granularity: Granularity,
) -> dict[Key, float]:
    """Opening hours × seats per (relay, kind, period), from each day's open hours (0 on
    a closed day) and the relay's bookings of those days (any status; `tz`: the relay's).
    A kind bookable now has a key for every period; others only where they count hours."""
    taken: dict[str, date] = {}  # resource → the last day one of its bookings was taken
    kept: dict[str, set[date]] = defaultdict(set)  # resource → days it holds a kept booking
    for booking in bookings:
        day = booking.created_at.astimezone(tz).date()
        taken[booking.resource_id] = max(day, taken.get(booking.resource_id, day))
        if booking.status in KEPT:
            kept[booking.resource_id].add(booking.date)
    relay_taken = max(taken.values(), default=date.min)
    resources = list(resources)
    starts = periods(min(day_hours), max(day_hours), granularity) if day_hours else []
    bookable = [r for r in resources if r.active and relay_in_service]
    hours: dict[Key, float] = {(relay_id, r.kind, s): 0.0 for r in bookable for s in starts}
    for seats in resources:
        if seats in bookable:
            until = date.max
        elif seats.active:  # its relay withdrawn: offered while the relay took bookings
            until = relay_taken
        else:  # retired: offered while it took bookings
            until = taken.get(seats.resource_id, date.min)
        for day, day_open in day_hours.items():
            if day_open and (day <= until or day in kept[seats.resource_id]):
                key = (relay_id, seats.kind, period_start(day, granularity))
                hours[key] = hours.get(key, 0.0) + day_open * seats.capacity
    return hours
