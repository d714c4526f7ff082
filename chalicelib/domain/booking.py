"""Bookings: what a booking is, how it is planned and priced, and its state rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain.catalogue import Operator, Relay, Resource, ResourceKind, vat_rate_charged
from chalicelib.domain.money import Price, price_from_incl_vat, prorate
from chalicelib.domain.schedule import SLOT, Slot, booking_window, resolve_unit
from chalicelib.errors import InvalidState, NotFound, ValidationFailed

Unit = Literal["day", "half_day_am", "half_day_pm", "hour"]
PaymentMethod = Literal["card", "credits", "membership", "company", "none"]
# The business metric that counts the bookings confirmed with each way of paying.
CONFIRMED_METRIC: dict[str, str] = {
    "card": "BookingsCard",
    "credits": "BookingsCredits",
    "membership": "BookingsMembership",
    "company": "BookingsCompany",
    "none": "BookingsFree",
}
CHECK_IN_OPENS = timedelta(minutes=30)


class BookingStatus(StrEnum):
    held = "held"
    confirmed = "confirmed"
    checked_in = "checked_in"
    cancelled = "cancelled"
    expired = "expired"
    no_show = "no_show"
    completed = "completed"


# Statuses whose seat is counted in the occupancy.
SEAT_TAKING = frozenset({BookingStatus.held, BookingStatus.confirmed, BookingStatus.checked_in})
CANCELLABLE = frozenset({BookingStatus.held, BookingStatus.confirmed})
# A seat-taking booking whose price was paid (by card: refunded when cancelled in time or
# by a closure).
PAID_STATUSES = frozenset({BookingStatus.confirmed, BookingStatus.checked_in})


class BookingRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    resource_id: str = Field(min_length=1, max_length=100)
    date: date
    unit: Unit
    start: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):(00|30)$")
    end: str | None = Field(default=None, pattern=r"^(([01][0-9]|2[0-3]):(00|30)|24:00)$")
    payment: PaymentMethod


class Booking(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    id: str
    member_id: str
    relay_id: str
    resource_id: str
    operator_id: str
    date: date
    unit: Unit
    start: datetime
    end: datetime
    slots: list[int]
    status: BookingStatus
    price: dict[str, Any]
    payment_method: PaymentMethod
    credits_used: Decimal = Decimal(0)
    company_id: str | None = None  # payment "company": billed on the company's monthly invoice
    membership_id: str | None = None  # payment "membership": the membership it counts against
    # What its days of the membership are worth (cents, VAT incl.): their slice of the
    # period's price (`clearing.membership_days_value`), owed to a host relay's operator.
    membership_value: int | None = None
    credit_draws: list[dict[str, Any]] = []
    refund_due: int | None = None
    refund: dict[str, Any] | None = None
    disputed: bool = False
    hold_expires_at: datetime | None = None
    invoice_id: str | None = None
    payment_intent_id: str | None = None
    created_at: datetime
    cancelled_at: datetime | None = None
    # Cancelled past the free-cancellation deadline: its credits or membership day are
    # used all the same (what the clearing between operators counts)
    cancelled_late: bool = False
    checked_in_at: datetime | None = None

    @field_validator("price")
    @classmethod
    def _price(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Stored numbers come back as Decimal: keep the API's ints and rate string.
        return Price.from_dict(value).to_dict()

    def public(self) -> dict[str, Any]:
        """The booking object of the API contract."""
        data = self.model_dump(
            mode="json",
            exclude={
                "slots",
                "operator_id",
                "credit_draws",
                "refund_due",
                "refund",
                "cancelled_late",
                "membership_value",
            },
        )
        data["credits_used"] = self.credits_used
        if self.refund:  # what a cancellation refunded, and Stripe's word on it (`failed`)
            amount, status = self.refund.get("amount") or 0, self.refund.get("status")
            data["refund"] = {"amount": int(amount), "status": str(status or "pending")}
        for optional in (
            "hold_expires_at",
            "invoice_id",
            "cancelled_at",
            "checked_in_at",
            "payment_intent_id",
            "company_id",
            "membership_id",
        ):
            if data[optional] is None:
                del data[optional]
        return data


@dataclass(frozen=True)
class BookingPlan:
    """Where and when a booking would sit, and what it costs."""

    relay: Relay
    resource: Resource
    day: date
    unit: Unit
    slots: tuple[Slot, ...]
    start: datetime
    end: datetime
    price: Price
    credits: Decimal

    @property
    def slot_indexes(self) -> list[int]:
        return [s.index for s in self.slots]

    def priced_by(self, seller: Operator | None) -> Price:
        """The same price, VAT included, sold by `seller` at its own VAT regime (a company
        booking is sold by the company's operator, whichever relay hosts it)."""
        return price_from_incl_vat(
            self.price.amount, vat_rate_charged(self.resource.vat_rate, seller)
        )


def plan_booking(
    request: BookingRequest,
    relay: Relay,
    resource: Resource,
    now: datetime,
    horizon_days: int,
    seller: Operator | None = None,
) -> BookingPlan:
    """Check a request against the calendar and the resource, and price it (`seller`, the
    relay's operator, sets the VAT: none under the franchise)."""
    if not (relay.active and resource.active):  # withdrawn: no new bookings
        raise NotFound(f"No resource with id {resource.id!r}.")
    tz = ZoneInfo(relay.timezone)
    today = now.astimezone(tz).date()
    if request.date < today:
        raise ValidationFailed("The date is in the past.", field="date")
    if request.date > today + timedelta(days=horizon_days):
        raise ValidationFailed(f"Bookings open at most {horizon_days} days ahead.", field="date")
    rate = resource.rates.for_unit(request.unit)
    if rate is None:
        raise ValidationFailed(f"This resource cannot be booked by {request.unit}.", field="unit")
    slots = tuple(
        resolve_unit(relay.hours(), request.date, tz, request.unit, request.start, request.end)
    )
    start, end = booking_window(list(slots))
    if request.unit == "hour" and start + SLOT <= now:
        # On the night clocks go back, "02:00" shows twice: the first pass is over, the
        # second may be the slot under way (availability lists both).
        slots = tuple(
            resolve_unit(
                relay.hours(),
                request.date,
                tz,
                "hour",
                request.start,
                request.end,
                second_pass=True,
            )
        )
        start, end = booking_window(list(slots))
    # An hour booking may start in the slot under way, not in one already over (availability
    # marks those `past`); a day or half day covers its fixed window while any of it is left.
    first_end = start + SLOT if request.unit == "hour" else end
    if first_end <= now:
        raise ValidationFailed("This time is already over.", field="start")
    minutes = int((end - start).total_seconds() // 60)
    amount = prorate(rate, minutes) if request.unit == "hour" else rate
    return BookingPlan(
        relay=relay,
        resource=resource,
        day=request.date,
        unit=request.unit,
        slots=slots,
        start=start,
        end=end,
        price=price_from_incl_vat(amount, vat_rate_charged(resource.vat_rate, seller)),
        credits=credits_for(resource, request.unit),
    )


def credits_for(resource: Resource, unit: Unit) -> Decimal:
    """Credits a booking costs: hot desks only, a day is 1, a half day 0.5."""
    if resource.kind is not ResourceKind.hot_desk or unit == "hour":
        return Decimal(0)
    return Decimal(1) if unit == "day" else Decimal("0.5")


def ensure_cancellable(booking: Booking) -> None:
    if booking.status not in CANCELLABLE:
        raise InvalidState(f"A booking in status {booking.status} cannot be cancelled.")


def is_free_cancellation(booking: Booking, now: datetime, cancel_free_hours: int) -> bool:
    """Cancelled early enough to get the money or credits back."""
    return now <= booking.start - timedelta(hours=cancel_free_hours)


def ensure_check_in_allowed(booking: Booking, now: datetime) -> None:
    if booking.status is not BookingStatus.confirmed:
        raise InvalidState(f"A booking in status {booking.status} cannot be checked in.")
    # API.md: "From 30 min before start to end": both ends included.
    if not (booking.start - CHECK_IN_OPENS <= now <= booking.end):
        raise InvalidState(
            "Check-in is open from 30 minutes before the start until the end of the booking."
        )
