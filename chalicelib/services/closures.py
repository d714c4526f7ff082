"""Closing a relay's days (one, a range, a year's public holidays), listing, re-opening.

A closed day refuses new bookings (its marker is checked in every booking transaction)
and its bookings are cancelled with a full refund or their credits back. Lifting a
closure re-opens the day; bookings it cancelled stay cancelled.

Days are the relay's own (its time zone): a closure may be set from today there on, never
on a past day (that would cancel, and refund, bookings already used), whatever its form.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.auth import Principal
from chalicelib.domain.catalogue import Closure, NewClosure, Relay, closure_day
from chalicelib.domain.editing import check_if_match
from chalicelib.domain.holidays import french_public_holidays
from chalicelib.errors import AlreadyExists, NotFound, ValidationFailed
from chalicelib.services import audit
from chalicelib.services.bookings import SweepUnfinished, cancel_for_closure
from chalicelib.services.context import Context

FAR_FUTURE = "9999-12-31"


def create(ctx: Context, principal: Principal, relay_id: str, new: NewClosure) -> Any:
    """`{date}` → the closure with `cancelled_bookings`; a range or a year's holidays →
    `{"closures": [...], "cancelled_bookings": n}` (days already closed are skipped).
    A day before today (the relay's) → ValidationFailed, before anything is written."""
    relay = ctx.catalogue.relay(relay_id)
    principal.require_manager_of(relay_id)
    today = relay_today(ctx, relay)
    if new.date is not None:
        assert new.reason is not None
        _not_past(new.date, today, "date")
        return close_day(ctx, principal, relay.operator_id, relay_id, new.date, new.reason, True)
    closed: list[Closure] = []
    for day, reason in _days(new, today):
        closure = close_day(ctx, principal, relay.operator_id, relay_id, day, reason, False)
        if closure is not None:
            closed.append(closure)
    return {
        "closures": closed,
        "cancelled_bookings": sum(c.cancelled_bookings for c in closed),
    }


def relay_today(ctx: Context, relay: Relay) -> date:
    """Today at the relay, in its time zone (the clock is UTC)."""
    return ctx.clock.now().astimezone(ZoneInfo(relay.timezone)).date()


def _not_past(day: date, today: date, field: str) -> None:
    """Closures are set on future days (today included), never on a past one."""
    if day < today:
        raise ValidationFailed(
            f"A closure cannot be set on a past day (today is {today.isoformat()} at the relay).",
            field=field,
        )


def _days(new: NewClosure, today: date) -> list[tuple[date, str]]:
    if new.public_holidays is not None:
        holidays = french_public_holidays(new.public_holidays)
        return [(day, new.reason or name) for day, name in holidays if day >= today]
    assert new.from_ is not None and new.to is not None and new.reason is not None
    _not_past(new.from_, today, "from")
    count = (new.to - new.from_).days + 1
    return [(new.from_ + timedelta(days=n), new.reason) for n in range(count)]


def close_day(
    ctx: Context,
    principal: Principal,
    operator_id: str,
    relay_id: str,
    day: date,
    reason: str,
    single: bool,
) -> Any:
    """Close one day and cancel its bookings.

    A day already closed has its sweep finished first. If that sweep still had bookings
    to cancel and the reason is the same, this is the retry of a closure whose sweep
    failed (503), or a repeat sent while it runs (a double click, a client that timed
    out): it is finished and answered (201, the closure as it stands, audited once).
    Otherwise the day was closed already: AlreadyExists when `single`, else None
    (skipped). Whoever cancels a booking adds it to the stored count (`_counted`)."""
    closure = Closure(relay_id=relay_id, date=day, reason=reason, created_at=ctx.clock.now())
    entry = audit.entry(
        ctx,
        principal,
        "close",
        "closure",
        closure.id,
        operator_id=operator_id,
        relay_id=relay_id,
        changes={"date": [None, day.isoformat()], "reason": [None, reason]},
    )
    try:
        ctx.catalogue_store.add_closure(closure, extra=[audit.entry_item(ctx, entry)])
    except AlreadyExists:
        cancelled = _sweep(ctx, relay_id, day)
        stored = ctx.closures.get(relay_id, day.isoformat())
        if cancelled and stored is not None:
            stored = _counted(ctx, stored, cancelled)
            if stored.reason == reason:
                return stored
        if single:
            raise
        return None
    return _counted(ctx, closure, _sweep(ctx, relay_id, day))


def _sweep(ctx: Context, relay_id: str, day: date) -> int:
    """Cancel the day's bookings (`cancel_for_closure`); a sweep that must be retried (503)
    adds what it did cancel to the closure's count before answering, so the retry's
    answer counts every booking the closure cancelled."""
    try:
        return cancel_for_closure(ctx, relay_id, day)
    except SweepUnfinished as unfinished:
        if unfinished.cancelled:
            ctx.closures.add_cancelled(relay_id, day.isoformat(), unfinished.cancelled)
        raise


def _counted(ctx: Context, closure: Closure, cancelled: int) -> Closure:
    """The closure once `cancelled` more bookings are added to its stored count (ADD, never
    SET: a repeat of the closure sweeping the same day at once counts its own share)."""
    if not cancelled:
        return closure
    stored = ctx.closures.add_cancelled(closure.relay_id, closure.date.isoformat(), cancelled)
    if stored is None:  # lifted meanwhile: what this request did
        return closure.model_copy(update={"cancelled_bookings": cancelled})
    return stored


def list_closures(
    ctx: Context,
    relay_id: str,
    span: tuple[date | None, date | None],
    limit: int,
    cursor: str | None,
) -> tuple[list[Closure], str | None]:
    ctx.catalogue.relay(relay_id)
    low = span[0].isoformat() if span[0] else "0000-01-01"
    high = span[1].isoformat() if span[1] else FAR_FUTURE
    return ctx.closures.page(relay_id, (low, high), limit, cursor)


def lift(
    ctx: Context, principal: Principal, relay_id: str, closure_id: str, if_match: str | None
) -> None:
    """Re-open the day (If-Match on the closure's version); its cancelled bookings stay so."""
    relay = ctx.catalogue.relay(relay_id)
    day = closure_day(closure_id)
    closure = ctx.closures.get(relay_id, day.isoformat()) if day else None
    if closure is None:
        raise NotFound(f"No closure {closure_id!r} at this relay.")
    principal.require_manager_of(relay_id)
    expected = check_if_match(closure.version, if_match)  # once the caller may act (403, 428)
    entry = audit.entry(
        ctx,
        principal,
        "delete",
        "closure",
        closure.id,
        operator_id=relay.operator_id,
        relay_id=relay_id,
        changes={"date": [closure.date.isoformat(), None], "reason": [closure.reason, None]},
    )
    ctx.closures.lift(closure, expected, audit.entry_item(ctx, entry))
