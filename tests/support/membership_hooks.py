"""The membership feature's hooks into existing modules, applied for a test unless the code
already has them — so the membership tests pass before and after the hook lines land.

Each wrapper does exactly what its hook line does (see the membership hand-over note):

- app.py registers `chalicelib.api.memberships.bp` (a blueprint can only be registered
  once: added here for the session, as its routes are in `ROUTES` once imported);
- `chalicelib.jobs.JOBS["renew_memberships"] = membership_charges.renew_memberships`;
- services/webhooks.py: `setup_intent.succeeded` and `payment_intent.processing` go to
  `membership_charges`; `payment_intent.succeeded` / `payment_failed` with metadata kind
  `membership` go to `membership_charges.intent_succeeded` / `intent_failed`;
- services/bookings.py: `payment: "membership"` is no longer refused up front;
  `_take_seat` hands it to `membership_bookings.book_with_membership`; a release in time
  adds `membership_bookings.release_items(ctx, booking)` to the items it passes;
- services/invoicing.py: `_sale_of` answers `memberships.membership_sale` for a membership
  payment, and `invoice_for_payment` takes its method from `membership_payment_method`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from chalicelib.adapters.booking_store import BookingExists
from chalicelib.auth import Principal
from chalicelib.domain.booking import Booking, BookingPlan, BookingRequest, is_free_cancellation
from chalicelib.errors import InsufficientCredits
from chalicelib.services import (
    bookings,
    invoicing,
    membership_bookings,
    membership_charges,
    memberships,
    webhooks,
)
from chalicelib.services.context import Context

Handler = Callable[[Context, dict[str, Any]], str]


def wire_membership_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    _register_routes()
    _register_job(monkeypatch)
    _route_webhooks(monkeypatch)
    _book_with_memberships(monkeypatch)
    _invoice_periods(monkeypatch)


@pytest.fixture
def membership_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    wire_membership_hooks(monkeypatch)


def _register_routes() -> None:
    from app import app
    from chalicelib.api import memberships as routes

    if "/v1/memberships" not in app.routes:
        app.register_blueprint(routes.bp)


def _register_job(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.jobs import JOBS

    if "renew_memberships" not in JOBS:
        monkeypatch.setitem(JOBS, "renew_memberships", membership_charges.renew_memberships)


def _route_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    handlers = webhooks.HANDLERS
    if "setup_intent.succeeded" in handlers:
        return
    succeeded, failed = (
        handlers["payment_intent.succeeded"],
        handlers["payment_intent.payment_failed"],
    )

    def by_kind(membership: Handler, other: Handler) -> Handler:
        def handler(ctx: Context, intent: dict[str, Any]) -> str:
            if (intent.get("metadata") or {}).get("kind") == "membership":
                return membership(ctx, intent)
            return other(ctx, intent)

        return handler

    monkeypatch.setitem(
        handlers,
        "payment_intent.succeeded",
        by_kind(membership_charges.intent_succeeded, succeeded),
    )
    monkeypatch.setitem(
        handlers, "payment_intent.payment_failed", by_kind(membership_charges.intent_failed, failed)
    )
    monkeypatch.setitem(handlers, "payment_intent.processing", membership_charges.intent_processing)
    monkeypatch.setitem(handlers, "setup_intent.succeeded", membership_charges.setup_succeeded)


def _book_with_memberships(monkeypatch: pytest.MonkeyPatch) -> None:
    if hasattr(bookings, "membership_bookings"):
        return
    check, take, release = (
        bookings._check_payment_method,
        bookings._take_seat,
        bookings.release_with_policy,
    )

    def check_payment_method(
        principal: Principal, request: BookingRequest, plan: BookingPlan
    ) -> None:
        # The hook deletes the up-front refusal; the other checks stay (those of credits).
        if request.payment == "membership":
            request = request.model_copy(update={"payment": "credits"})
        check(principal, request, plan)

    def take_seat(
        ctx: Context,
        principal: Principal,
        request: BookingRequest,
        plan: BookingPlan,
        booking_id: str,
        now: datetime,
    ) -> Booking:
        if request.payment != "membership":
            return take(ctx, principal, request, plan, booking_id, now)
        booking = bookings._new_booking(ctx, principal, request, plan, booking_id, now)
        try:
            return membership_bookings.book_with_membership(
                ctx, booking, plan.resource.capacity, plan.credits, now
            )
        except (BookingExists, InsufficientCredits):  # as `_take_seat` handles them
            existing = ctx.bookings.get(booking_id)
            if existing is None or existing.member_id != principal.sub:
                raise
            return existing

    def release_with_policy(ctx: Context, booking: Booking, *, force_refund: bool) -> Any:
        now = ctx.clock.now()
        in_time = force_refund or is_free_cancellation(booking, now, ctx.settings.cancel_free_hours)
        membership_items = membership_bookings.release_items(ctx, booking) if in_time else []
        if not membership_items:
            return release(ctx, booking, force_refund=force_refund)
        store_release = ctx.bookings.release

        def release_seat(*args: Any, extra: Any = None, **kwargs: Any) -> Booking:
            # The hook adds the membership's items to those bookings.py already passes.
            return store_release(*args, **kwargs, extra=[*(extra or []), *membership_items])

        ctx.bookings.release = release_seat  # type: ignore[method-assign]
        try:
            return release(ctx, booking, force_refund=force_refund)
        finally:
            del ctx.bookings.release

    monkeypatch.setattr(bookings, "_check_payment_method", check_payment_method)
    monkeypatch.setattr(bookings, "_take_seat", take_seat)
    monkeypatch.setattr(bookings, "release_with_policy", release_with_policy)


def _invoice_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    sale_of = invoicing._sale_of
    if "membership_sale" not in inspect.getsource(sale_of):

        def membership_aware_sale_of(ctx: Context, payment: Any) -> Any:
            if payment.kind == "membership":
                sale = memberships.membership_sale(ctx, payment)
                if sale is not None:
                    return sale
            return sale_of(ctx, payment)

        monkeypatch.setattr(invoicing, "_sale_of", membership_aware_sale_of)
    if "membership_payment_method" in inspect.getsource(invoicing.invoice_for_payment):
        return
    issue = invoicing.issue

    def issue_with_method(ctx: Context, *, source: str, payment: dict[str, Any], **kw: Any) -> Any:
        # The hook's `"method": ...` of invoice_for_payment, which alone issues `payment-*`.
        paid = (
            ctx.payments.payment(payment["provider_ref"]) if source.startswith("payment-") else None
        )
        if paid is not None and paid.kind == "membership":
            payment = {**payment, "method": memberships.membership_payment_method(ctx, paid)}
        return issue(ctx, source=source, payment=payment, **kw)

    monkeypatch.setattr(invoicing, "issue", issue_with_method)
