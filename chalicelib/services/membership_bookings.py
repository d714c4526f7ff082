"""Bookings paid by a membership: the period's days are counted in the booking's own
transaction (never oversold, even by concurrent bookings), and given back by a release
in time. Hot desks only: a day counts 1, a half day 0.5 (`credits_for`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.adapters.booking_store import BookingExists, ExtraConditionFailed
from chalicelib.domain.booking import Booking, credits_for
from chalicelib.domain.clearing import membership_days_value
from chalicelib.domain.membership import PARIS, Membership, MembershipStatus, days_left
from chalicelib.errors import InsufficientCredits, MembershipRequired
from chalicelib.services import opening_exceptions
from chalicelib.services.context import Context


def book_with_membership(
    ctx: Context, booking: Booking, capacity: int, days: Decimal, now: datetime
) -> Booking:
    """Take the seat and `days` of the member's membership in one transaction; answers
    the booking with its `membership_id`. 409 `membership_required` without an active
    membership whose paid period covers the booking, 409 `insufficient_credits` when
    that period's days are used up."""
    try:
        membership = _covering(ctx, booking.member_id, booking.start)
    except MembershipRequired:
        if ctx.bookings.get(booking.id) is not None:
            raise BookingExists(booking.id) from None  # a retry of a request that booked
        raise
    value = membership_days_value(
        membership.amount, membership.days_per_period, membership.days_used, days
    )
    covered = booking.model_copy(update={"membership_id": membership.id, "membership_value": value})
    item = ctx.memberships.booking_item(membership, days, booking.start)
    try:
        opening_exceptions.create_within_hours(ctx, covered, capacity, now, extra=[item])
    except ExtraConditionFailed as exc:
        raise _refusal(ctx, membership, days, booking.start) from exc
    return covered


def release_items(ctx: Context, booking: Booking) -> list[dict[str, Any]]:
    """What a release in time adds to its transaction: the booking's days given back to
    the membership period it was counted in (nothing for other bookings)."""
    if not booking.membership_id:
        return []
    membership = ctx.memberships.get(booking.member_id, booking.membership_id)
    if membership is None:
        return []
    days = credits_for(ctx.catalogue.resource(booking.resource_id), booking.unit)
    item = ctx.memberships.release_item(membership, days, booking.start)
    return [item] if item else []


def _covering(ctx: Context, member_id: str, start: datetime) -> Membership:
    active = [
        m for m in ctx.memberships.of_member(member_id) if m.status is MembershipStatus.active
    ]
    if not active:
        raise MembershipRequired("You have no active membership.")
    covering = [m for m in active if _covers(m, start)]
    if not covering:
        end = max((m.current_period_end for m in active if m.current_period_end), default=start)
        last_day = (end.astimezone(PARIS) - timedelta(days=1)).date()
        raise MembershipRequired(
            f"Your membership covers bookings up to {last_day:%d/%m/%Y}; "
            "the next period opens once it is paid."
        )
    # Unlimited first, then the one with the most days left.
    return max(covering, key=lambda m: (m.days_per_period is None, _days_left_of(m)))


def _covers(membership: Membership, start: datetime) -> bool:
    period_start, period_end = membership.current_period_start, membership.current_period_end
    return (
        period_start is not None and period_end is not None and period_start <= start < period_end
    )


def _days_left_of(membership: Membership) -> Decimal:
    left = days_left(membership.days_per_period, membership.days_used)
    return left if left is not None else Decimal("Infinity")


def _refusal(
    ctx: Context, membership: Membership, days: Decimal, start: datetime
) -> InsufficientCredits | MembershipRequired:
    """Why the membership's condition failed, read again after the transaction."""
    fresh = ctx.memberships.get(membership.member_id, membership.id) or membership
    if fresh.status is not MembershipStatus.active or not _covers(fresh, start):
        return MembershipRequired("Your membership changed meanwhile; it does not cover this.")
    return InsufficientCredits(
        f"This booking needs {days} day(s) of your membership; "
        f"{_days_left_of(fresh)} left of {fresh.days_per_period} this period."
    )
