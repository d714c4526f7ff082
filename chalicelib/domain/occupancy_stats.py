"""Occupancy figures for the Living Lab: per relay, resource kind and period. Pure.

No personal data leaves here: members are only counted (`unique_members`).

- `bookings`: bookings that kept their seat (confirmed, checked in, completed, no-show);
- `cancellations`: bookings cancelled, whenever (holds given up included); expired
  holds (an abandoned card payment) count as neither;
- `seat_hours_booked`: the hours of the kept bookings, counted by their slots (a break
  inside a day booking is not booked time); `seat_hours_checked_in`: those of the
  bookings checked in; `seat_hours_open`: opening hours × seats of the relay's active
  resources of that kind, 0 on closed days (the current catalogue: past capacities and
  hours are not kept);
- `revenue_excl_vat` (cents, by booking date): kept bookings paid by card or on a company
  account, and card bookings cancelled too late to be refunded. Credits and memberships
  are revenue when the pack or membership is sold, not when a day is used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
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
