"""Closing a relay's days (one, a range, a year's public holidays), listing, re-opening.

A closed day refuses new bookings (its marker is checked in every booking transaction)
and its bookings are cancelled with a full refund or their credits back. Lifting a
closure re-opens the day; bookings it cancelled stay cancelled.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.catalogue import Closure, NewClosure, closure_day
from chalicelib.domain.editing import check_version, expected_version
from chalicelib.domain.holidays import french_public_holidays
from chalicelib.errors import AlreadyExists, NotFound, ValidationFailed
from chalicelib.services import audit
from chalicelib.services.bookings import cancel_for_closure
from chalicelib.services.context import Context

FAR_FUTURE = "9999-12-31"


def create(ctx: Context, principal: Principal, relay_id: str, new: NewClosure) -> Any:
    """`{date}` → the closure with `cancelled_bookings`; a range or a year's holidays →
    `{"closures": [...], "cancelled_bookings": n}` (days already closed are skipped)."""
    relay = ctx.catalogue.relay(relay_id)
    principal.require_manager_of(relay_id)
    if new.date is not None:
        assert new.reason is not None
        return close_day(ctx, principal, relay.operator_id, relay_id, new.date, new.reason, True)
    closed: list[Closure] = []
    for day, reason in _days(ctx, new):
        closure = close_day(ctx, principal, relay.operator_id, relay_id, day, reason, False)
        if closure is not None:
            closed.append(closure)
    return {
        "closures": closed,
        "cancelled_bookings": sum(c.cancelled_bookings for c in closed),
    }


def _days(ctx: Context, new: NewClosure) -> list[tuple[date, str]]:
    today = ctx.clock.now().date()
    if new.public_holidays is not None:
        holidays = french_public_holidays(new.public_holidays)
        return [(day, new.reason or name) for day, name in holidays if day >= today]
    assert new.from_ is not None and new.to is not None and new.reason is not None
    if new.from_ < today:
        raise ValidationFailed("A range of closures cannot start in the past.", field="from")
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
    """Close one day and cancel its bookings. A day already closed: AlreadyExists when
    `single` (after finishing a retry's cancellations), else None (skipped)."""
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
        # A retry after a partial failure: finish cancelling that day.
        cancel_for_closure(ctx, relay_id, day)
        if single:
            raise
        return None
    cancelled = cancel_for_closure(ctx, relay_id, day)
    ctx.catalogue_store.set_closure_count(relay_id, day.isoformat(), cancelled)
    return closure.model_copy(update={"cancelled_bookings": cancelled})


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
    expected = expected_version(if_match)  # read once the caller may act (403 before 428)
    check_version(closure.version, expected)
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
