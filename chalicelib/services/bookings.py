"""Booking use cases: book, read, list, cancel, check in, and releasing expired holds."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.adapters.booking_store import BookingExists, CreditsChanged
from chalicelib.auth import Principal
from chalicelib.domain.booking import (
    CONFIRMED_METRIC,
    PAID_STATUSES,
    SEAT_TAKING,
    Booking,
    BookingPlan,
    BookingRequest,
    BookingStatus,
    ensure_cancellable,
    ensure_check_in_allowed,
    is_free_cancellation,
    plan_booking,
)
from chalicelib.domain.documents import Document
from chalicelib.domain.wallet import draw_credits, restored_credits
from chalicelib.errors import (
    Forbidden,
    InsufficientCredits,
    InvalidState,
    NotFound,
    OutsideOpeningHours,
    RelayClosed,
    ServiceUnavailable,
    SlotUnavailable,
    ValidationFailed,
)
from chalicelib.observability import count
from chalicelib.services import (
    audit,
    companies,
    company_invoicing,
    members,
    membership_bookings,
    notifications,
    opening_exceptions,
    payments,
)
from chalicelib.services.context import Context
from chalicelib.services.paging import Page, chain_pages
from chalicelib.services.ports import IntentInfo

CLOSURE_SWEEP_PASSES = 6

CREDIT_ATTEMPTS = 3


def book(
    ctx: Context,
    principal: Principal,
    request: BookingRequest,
    booking_id: str,
    *,
    keyed: bool = True,
) -> dict[str, Any]:
    """Reserve a seat. `booking_id` is derived from the Idempotency-Key when there is one,
    so a retried request finds its booking instead of taking a second seat; `keyed=False`
    says it is fresh (no key): no earlier attempt can have written it."""
    resource = ctx.catalogue.resource(request.resource_id)
    relay = ctx.catalogue.relay(resource.relay_id)
    catalogue = ctx.catalogue.get()
    if not catalogue.relay_in_service(relay):  # its operator was deactivated
        raise NotFound(f"No resource with id {resource.id!r}.")
    now = ctx.clock.now()
    seller = catalogue.operators.get(relay.operator_id)
    try:
        plan = plan_booking(
            request, relay, resource, now, ctx.settings.booking_horizon_days, seller
        )
    except ValidationFailed:
        # A keyed retry whose first attempt booked (its answer lost) may come once the
        # time is over or the date past: it gets that booking, not a refusal.
        again = _booked_already(ctx, principal, booking_id) if keyed else None
        if again is None:
            raise
        return again
    _check_payment_method(principal, request, plan)
    if request.payment == "card" and plan.price.amount > 0:
        return _book_by_card(ctx, principal, request, plan, booking_id, now, keyed=keyed)
    booking = _take_seat(ctx, principal, request, plan, booking_id, now)
    if request.payment == "none":  # a free booking by staff: in the audit trail
        _audit(ctx, principal, "create", booking, {"payment_method": [None, "none"]})
    if booking.status is BookingStatus.confirmed:  # credits, membership, company, free
        count(CONFIRMED_METRIC[booking.payment_method])
        notifications.notify_booking_confirmed(ctx, booking)
    return {"booking": booking.public(), "payment": None}


def _book_by_card(
    ctx: Context,
    principal: Principal,
    request: BookingRequest,
    plan: BookingPlan,
    booking_id: str,
    now: datetime,
    *,
    keyed: bool,
) -> dict[str, Any]:
    """Hold a seat until it is paid: the PaymentIntent first (its idempotency key derives
    from the booking id), then one transaction writes the seat, the held booking with its
    intent and the payment record — the booking is written once, and a hold always has
    its intent (the expiry job cancels it)."""
    members.ensure_profile(ctx, principal)  # the buyer of the invoice to come
    if keyed:  # a retry finds its booking, and never asks Stripe for an intent again
        existing = ctx.bookings.get(booking_id)
        if existing is not None:
            return _card_booking_again(ctx, principal, existing, None)
    booking = _new_booking(ctx, principal, request, plan, booking_id, now)
    intent, payment = payments.booking_intent(ctx, booking)
    booking = booking.model_copy(update={"payment_intent_id": intent.id})
    try:
        opening_exceptions.create_within_hours(
            ctx,
            booking,
            capacity=plan.resource.capacity,
            now=now,
            extra=[ctx.payments.payment_put(payment)],
        )
    except BookingExists:
        # A retried request whose first attempt already booked.
        existing = ctx.bookings.get(booking_id)
        if existing is None:
            raise
        return _card_booking_again(ctx, principal, existing, intent)
    except (SlotUnavailable, RelayClosed, OutsideOpeningHours, NotFound):
        # Refused: nothing written. Its intent is cancelled unless a retry of the same
        # request (the same booking id, the same key) may still need it: Stripe replays
        # a keyed creation as first answered, so a cancelled one would come back as new.
        if not keyed:
            payments.drop_intent(ctx, booking_id, intent.id)
        raise
    return {"booking": booking.public(), "payment": payments.payment_view(intent)}


def _booked_already(ctx: Context, principal: Principal, booking_id: str) -> dict[str, Any] | None:
    """The answer to a retried request whose booking is already written, or None."""
    existing = ctx.bookings.get(booking_id)
    if existing is None or existing.member_id != principal.sub:
        return None
    if existing.payment_method == "card":
        return _card_booking_again(ctx, principal, existing, None)
    return {"booking": existing.public(), "payment": None}


def _card_booking_again(
    ctx: Context, principal: Principal, existing: Booking, intent: IntentInfo | None
) -> dict[str, Any]:
    """The answer to a retried card booking already written; `intent`, if this attempt
    opened one, is cancelled unless it is the booking's (same idempotency key)."""
    if existing.member_id != principal.sub:
        raise BookingExists(existing.id)
    mine = existing.payment_intent_id
    if intent is not None and mine is not None and intent.id != mine:
        # Opened again by a server that ignores idempotency keys: not used. (With no
        # intent noted, a booking of an older release: its intent has the same key.)
        payments.drop_intent(ctx, existing.id, intent.id)
    if existing.status is not BookingStatus.held:
        return {"booking": existing.public(), "payment": None}
    if mine is None:  # written before its intent (older releases)
        payment = payments.start_booking_payment(ctx, existing)
        existing = existing.model_copy(update={"payment_intent_id": payment["payment_intent_id"]})
        return {"booking": existing.public(), "payment": payment}
    if intent is None or intent.id != mine:
        intent = ctx.gateway.retrieve_payment_intent(mine)
    return {"booking": existing.public(), "payment": payments.payment_view(intent)}


def _take_seat(
    ctx: Context,
    principal: Principal,
    request: BookingRequest,
    plan: BookingPlan,
    booking_id: str,
    now: datetime,
) -> Booking:
    for _attempt in range(CREDIT_ATTEMPTS):
        try:
            booking = _new_booking(ctx, principal, request, plan, booking_id, now)
            if request.payment == "membership":
                return membership_bookings.book_with_membership(
                    ctx, booking, plan.resource.capacity, plan.credits, now
                )
            opening_exceptions.create_within_hours(
                ctx,
                booking,
                capacity=plan.resource.capacity,
                now=now,
                extra=companies.booking_items(ctx, booking),
            )
            return booking
        except (BookingExists, InsufficientCredits):
            # A retried request whose first attempt already booked (and spent the credits).
            existing = ctx.bookings.get(booking_id)
            if existing is None or existing.member_id != principal.sub:
                raise
            return existing
        except CreditsChanged:
            continue  # another booking used the same pack meanwhile: draw again
    raise InsufficientCredits("Your credits changed meanwhile; please try again.")


def _check_payment_method(principal: Principal, request: BookingRequest, plan: BookingPlan) -> None:
    if request.payment == "none" and not principal.manages(plan.relay.id):
        raise Forbidden("Free bookings are for the relay's managers and administrators.")
    if request.payment in ("credits", "membership") and plan.credits == 0:
        raise ValidationFailed(
            "Credits and memberships pay for hot desks by the day or half day.", field="payment"
        )


def _new_booking(
    ctx: Context,
    principal: Principal,
    request: BookingRequest,
    plan: BookingPlan,
    booking_id: str,
    now: datetime,
) -> Booking:
    held = request.payment == "card" and plan.price.amount > 0
    price = plan.price.to_dict()
    if request.payment == "none":
        price = {**price, "amount": 0, "amount_excl_vat": 0, "vat_amount": 0}
    draws: list[dict[str, Any]] = []
    if request.payment == "credits":
        packs = ctx.payments.packs_of(principal.sub)
        draws = [asdict(d) for d in draw_credits(packs, plan.credits, now)]
    company_id = None
    if request.payment == "company":  # 403 unless the caller belongs to a company account
        company = companies.company_for_booking(ctx, principal)
        company_id = company.id
        # Sold by the company's operator on its monthly invoice, at that operator's VAT
        # regime (the hosting relay's may differ: the franchise, or not).
        seller = ctx.catalogue.get().operators.get(company.operator_id)
        price = plan.priced_by(seller).to_dict()
    return Booking(
        id=booking_id,
        member_id=principal.sub,
        relay_id=plan.relay.id,
        resource_id=plan.resource.id,
        operator_id=plan.relay.operator_id,
        date=plan.day,
        unit=plan.unit,
        start=plan.start,
        end=plan.end,
        slots=plan.slot_indexes,
        status=BookingStatus.held if held else BookingStatus.confirmed,
        price=price,
        payment_method=request.payment,
        company_id=company_id,
        credits_used=plan.credits if draws else 0,
        credit_draws=draws,
        hold_expires_at=now + timedelta(seconds=ctx.settings.hold_seconds) if held else None,
        created_at=now,
    )


def visible_booking(ctx: Context, principal: Principal, booking_id: str) -> Booking:
    """The booking if the caller may see it; 404 otherwise (never leak existence)."""
    booking = ctx.bookings.get(booking_id)
    if booking is None or not (
        booking.member_id == principal.sub or principal.manages(booking.relay_id)
    ):
        raise NotFound(f"No booking with id {booking_id!r}.")
    return booking


def get_booking(ctx: Context, principal: Principal, booking_id: str) -> dict[str, Any]:
    return visible_booking(ctx, principal, booking_id).public()


def list_bookings(
    ctx: Context,
    principal: Principal,
    *,
    relay_id: str | None,
    span: tuple[date | None, date | None],
    status: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    low = span[0].isoformat() if span[0] else "0000"
    high = span[1].isoformat() if span[1] else "9999"
    if relay_id and principal.manages(relay_id):
        ctx.catalogue.relay(relay_id)
        items, next_cursor = ctx.bookings.page_for_relay(
            relay_id, (low, high), status, limit, cursor
        )
    elif principal.is_admin and not relay_id:
        pages = {r: _relay_pages(ctx, r, (low, high), status) for r in ctx.catalogue.get().relays}
        items, next_cursor = chain_pages(pages, limit, cursor)  # resumes by relay id
    else:
        items, next_cursor = ctx.bookings.page_for_member(
            principal.sub, (low, high), status, limit, cursor, relay_id
        )
    return {"items": [b.public() for b in items], "next_cursor": next_cursor}


def _relay_pages(ctx: Context, relay_id: str, span: tuple[str, str], status: str | None) -> Page:
    def page(limit: int, cursor: str | None) -> tuple[list[Booking], str | None]:
        return ctx.bookings.page_for_relay(relay_id, span, status, limit, cursor)

    return page


def cancel(ctx: Context, principal: Principal, booking_id: str) -> dict[str, Any]:
    booking = visible_booking(ctx, principal, booking_id)
    if booking.status is BookingStatus.cancelled:
        # A retry after a crash between the release and the company's credit note, or
        # its mail: both done once (still 409 below).
        company_invoicing.credit_cancelled_booking(ctx, booking)
        notifications.notify_cancellation_again(ctx, booking)
    ensure_cancellable(booking)
    answer = release_with_policy(ctx, booking, force_refund=False)
    # By staff (on a member's behalf, or a free booking staff made): in the audit trail.
    _audit(ctx, principal, "cancel", booking, {"status": [booking.status.value, "cancelled"]})
    return answer


def _audit(
    ctx: Context, principal: Principal, action: str, booking: Booking, changes: dict[str, Any]
) -> None:
    where = {"operator_id": booking.operator_id, "relay_id": booking.relay_id}
    audit.record(ctx, principal, action, "booking", booking.id, changes=changes, **where)


def release_with_policy(ctx: Context, booking: Booking, *, force_refund: bool) -> dict[str, Any]:
    """Cancel a booking: free the seat and, if cancelled in time (or forced by a
    closure), give the money or the credits back."""
    now = ctx.clock.now()
    in_time = force_refund or is_free_cancellation(booking, now, ctx.settings.cancel_free_hours)
    paid = int(booking.price.get("amount", 0))
    owed = (
        paid
        if (
            in_time
            and booking.status in PAID_STATUSES
            and booking.payment_method == "card"
            and booking.payment_intent_id
        )
        else None
    )
    restore = in_time and bool(booking.credit_draws)
    updated = ctx.bookings.release(
        booking,
        BookingStatus.cancelled,
        now,
        restore_credits=restore,
        refund_due=owed,
        late=not in_time,
        extra=[  # cancelled late: the company is still billed, the membership day used
            *(companies.release_items(ctx, booking, BookingStatus.cancelled) if in_time else []),
            *(membership_bookings.release_items(ctx, booking) if in_time else []),
        ],
    )
    refund = None
    if booking.status is BookingStatus.held:
        payments.cancel_intent_quietly(ctx, booking)
    elif owed:
        refund = payments.settle_refund(ctx, updated)
    credit_note_id = refund.pop("credit_note_id", None) if refund else None
    if in_time and booking.company_id:
        note = company_invoicing.credit_cancelled_booking(ctx, updated)
        credit_note_id = Document.of(note).id if note else None
    if refund:
        refund = {"amount": refund["amount"], "status": refund["status"]}
        updated = ctx.bookings.get(booking.id) or updated
    # Read after the release: a pack refunded in full meanwhile took nothing back.
    credits_restored = (
        restored_credits(
            booking.credit_draws, ctx.payments.packs_of(booking.member_id), ctx.clock.now()
        )
        if restore
        else 0
    )
    notifications.notify_booking_cancelled(ctx, booking, refund, credits_restored, late=not in_time)
    return {
        "booking": updated.public(),
        "refund": refund,
        "credits_restored": credits_restored,
        "credit_note_id": credit_note_id,
    }


def check_in(ctx: Context, principal: Principal, booking_id: str) -> dict[str, Any]:
    booking = visible_booking(ctx, principal, booking_id)  # owner, relay manager, admin
    now = ctx.clock.now()
    ensure_check_in_allowed(booking, now)
    updated = booking.model_copy(update={"status": BookingStatus.checked_in, "checked_in_at": now})
    saved = ctx.bookings.transition(booking, updated)
    # a staff write (a manager or admin at the desk): in the audit trail; members' own are not
    _audit(ctx, principal, "check_in", booking, {"status": [booking.status.value, "checked_in"]})
    return saved.public()


# Bookings a closure leaves alone that may still hold seats in the day's counters (a
# no-show frees only the time after its release; upper bound: all its slots).
KEEPS_SEATS = (*SEAT_TAKING, BookingStatus.no_show, BookingStatus.completed)


def cancel_for_closure(ctx: Context, relay_id: str, day: date) -> int:
    """Cancel every seat-taking booking of a closed day, whatever the deadline: held,
    confirmed, and checked in (the member on site is sent home: everything back too).
    A no-show or a completed booking stays as it is (its time was over for it).

    The relay-day listing is a GSI, eventually consistent: a booking written just before
    the closure may not be in it yet. So the sweep is checked against the day's seat
    counters (read consistently): while they count seats no listed booking holds, it
    reads the listing again; still short after `CLOSURE_SWEEP_PASSES`, it answers 503
    (the retried closure finishes the sweep). A hold it never saw cannot be confirmed
    afterwards either: confirming checks the day is open (`payments.booking_paid`)."""
    cancelled = 0
    for sweep in range(CLOSURE_SWEEP_PASSES):
        staying: list[Booking] = []
        for listed in ctx.bookings.on_relay_day(relay_id, day.isoformat()):
            booking: Booking | None = listed
            for _ in range(2):  # the listing may be stale: on a conflict, read it again
                if booking is None or booking.status not in SEAT_TAKING:
                    break
                try:
                    release_with_policy(ctx, booking, force_refund=True)
                    cancelled += 1
                    booking = None
                except InvalidState:
                    booking = ctx.bookings.get(listed.id)
            if booking is not None and booking.status in KEEPS_SEATS:
                # a no-show / completed booking whose seats before its release stay
                # counted: not cancelled by a closure
                staying.append(booking)
        if _every_seat_listed(ctx, relay_id, day, staying):
            return cancelled
        time.sleep(min(0.4, 0.05 * 2**sweep))  # the index catches up within a second
    raise SweepUnfinished(
        "Some bookings of that day are not listed yet; retry to finish closing it.", cancelled
    )


class SweepUnfinished(ServiceUnavailable):
    """A closure's sweep that must be retried (503), with what it cancelled so far."""

    def __init__(self, detail: str, cancelled: int) -> None:
        super().__init__(detail)
        self.cancelled = cancelled


def _every_seat_listed(ctx: Context, relay_id: str, day: date, staying: list[Booking]) -> bool:
    """True when the day's seat counters hold no seat but those of `staying`."""
    _, taken = ctx.bookings.occupancy(relay_id, day.isoformat())
    held: dict[str, dict[int, int]] = {}
    for booking in staying:
        for slot in booking.slots:
            seats = held.setdefault(booking.resource_id, {})
            seats[slot] = seats.get(slot, 0) + 1
    return all(
        count <= held.get(resource, {}).get(slot, 0)
        for resource, slots in taken.items()
        for slot, count in slots.items()
    )


def expire_holds(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    """Release every hold whose time is up, each exactly once; safe to run concurrently."""
    now = as_of or ctx.clock.now()
    processed = 0
    for booking_id in ctx.bookings.expired_holds(now):
        booking = ctx.bookings.get(booking_id)
        if booking is None:
            continue
        if booking.status is not BookingStatus.held:
            ctx.bookings.forget_hold(booking)
            continue
        try:
            expired = ctx.bookings.release(booking, BookingStatus.expired, now)
        except InvalidState:
            continue  # paid or cancelled at the same moment: that path owns the seat
        processed += 1
        payments.cancel_intent_quietly(ctx, booking)
        notifications.notify_hold_expired(ctx, expired)
    refunds = payments.settle_due_refunds(ctx)
    return {"job": "expire_holds", "processed": processed, "refunds_settled": refunds}
