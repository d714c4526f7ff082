"""The notifications' hooks into existing modules, applied for a test unless the code already
has them — so the notification tests pass before and after the hook lines land.

Each wrapper has the effect of its hook line (see the notifications hand-over note); a hook
applied twice (the line landed *and* a wrapper) is harmless, since every mail is claimed
once by its deterministic key:

- `chalicelib.jobs.JOBS["send_reminders"] = notifications.send_reminders` (and
  `RATES_MINUTES["send_reminders"] = 60`, which only the schedules read);
- services/bookings.py `book`: a booking confirmed at once (credits, membership, company,
  free) → `notifications.notify_booking_confirmed(ctx, booking)`;
- services/payments.py `booking_paid` / `_rebook_or_refund`: the booking confirmed by its
  payment → `notify_booking_confirmed(ctx, confirmed)`;
- services/bookings.py `release_with_policy`, before its return →
  `notify_booking_cancelled(ctx, booking, refund, credits_restored)`;
- services/bookings.py `expire_holds`, for each hold released →
  `notify_hold_expired(ctx, expired)`;
- services/membership_charges.py `_covered` ("paid") → `notify_membership(ctx, done[0],
  "renewed")`; `_failed` ("failed"/"cancelled") → `notify_membership(ctx, done[0],
  "payment_failed")`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from chalicelib.auth import Principal
from chalicelib.domain.booking import Booking, BookingRequest, BookingStatus
from chalicelib.services import bookings, notifications, payments
from chalicelib.services.context import Context


def wire_notification_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    _register_job(monkeypatch)
    _confirm_at_once(monkeypatch)
    _confirm_when_paid(monkeypatch)
    _cancelled(monkeypatch)
    _hold_expired(monkeypatch)
    _memberships(monkeypatch)


@pytest.fixture
def notification_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    wire_notification_hooks(monkeypatch)


def _hooked(function: Callable[..., Any]) -> bool:
    try:
        return "notifications." in inspect.getsource(function)
    except (OSError, TypeError):
        return False


def _register_job(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.jobs import JOBS

    if "send_reminders" not in JOBS:
        monkeypatch.setitem(JOBS, "send_reminders", notifications.send_reminders)


def _confirm_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    if _hooked(bookings.book):
        return
    book = bookings.book

    def book_and_notify(
        ctx: Context, principal: Principal, request: BookingRequest, booking_id: str
    ) -> dict[str, Any]:
        answer = book(ctx, principal, request, booking_id)
        if answer["booking"]["status"] == BookingStatus.confirmed.value:
            booking = ctx.bookings.get(answer["booking"]["id"])
            assert booking is not None
            notifications.notify_booking_confirmed(ctx, booking)
        return answer

    monkeypatch.setattr(bookings, "book", book_and_notify)


def _confirm_when_paid(monkeypatch: pytest.MonkeyPatch) -> None:
    if _hooked(payments.booking_paid):
        return
    booking_paid = payments.booking_paid

    def paid_and_notify(ctx: Context, intent: dict[str, Any], booking: Booking) -> str:
        outcome = booking_paid(ctx, intent, booking)
        if outcome in ("confirmed", "rebooked"):
            confirmed = ctx.bookings.get(booking.id)
            assert confirmed is not None
            notifications.notify_booking_confirmed(ctx, confirmed)
        return outcome

    monkeypatch.setattr(payments, "booking_paid", paid_and_notify)


def _cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    if _hooked(bookings.release_with_policy):
        return
    release = bookings.release_with_policy

    def release_and_notify(ctx: Context, booking: Booking, *, force_refund: bool) -> Any:
        answer = release(ctx, booking, force_refund=force_refund)
        notifications.notify_booking_cancelled(
            ctx, booking, answer["refund"], answer["credits_restored"]
        )
        return answer

    monkeypatch.setattr(bookings, "release_with_policy", release_and_notify)


def _hold_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.jobs import JOBS

    if _hooked(bookings.expire_holds):
        return
    expire_holds = bookings.expire_holds

    def expire_and_notify(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
        # The hook notifies each hold it releases; here: each due hold that is now expired.
        due = ctx.bookings.expired_holds(as_of or ctx.clock.now())
        answer = expire_holds(ctx, as_of)
        for booking_id in due:
            booking = ctx.bookings.get(booking_id)
            if booking is not None and booking.status is BookingStatus.expired:
                notifications.notify_hold_expired(ctx, booking)
        return answer

    monkeypatch.setattr(bookings, "expire_holds", expire_and_notify)
    if JOBS.get("expire_holds") is expire_holds:
        monkeypatch.setitem(JOBS, "expire_holds", expire_and_notify)


def _memberships(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        from chalicelib.services import membership_charges
        from chalicelib.services.memberships import store
    except ImportError:  # the membership feature is not there: nothing to hook
        return
    covered, failed = membership_charges._covered, membership_charges._failed

    def notify(ctx: Context, attempt: Any, event: notifications.MembershipEvent) -> None:
        membership = store(ctx).get(attempt.member_id, attempt.membership_id)
        if membership is not None:
            notifications.notify_membership(ctx, membership, event)

    def covered_and_notify(
        ctx: Context, attempt: Any, intent_id: str, *, settled: bool, charge: str | None
    ) -> str:
        outcome: str = covered(ctx, attempt, intent_id, settled=settled, charge=charge)
        if outcome == "paid":
            notify(ctx, attempt, "renewed")
        return outcome

    def failed_and_notify(ctx: Context, attempt: Any, at: datetime) -> str:
        outcome: str = failed(ctx, attempt, at)
        if outcome in ("failed", "cancelled"):
            notify(ctx, attempt, "payment_failed")
        return outcome

    if not _hooked(covered):
        monkeypatch.setattr(membership_charges, "_covered", covered_and_notify)
    if not _hooked(failed):
        monkeypatch.setattr(membership_charges, "_failed", failed_and_notify)
