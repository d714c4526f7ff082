"""Money for bookings: PaymentIntents, what a succeeded or refunded payment does, refunds.

Every step is safe to repeat: Stripe calls carry deterministic idempotency keys,
state changes are conditioned on the state they leave, and a payment that cannot
end in a confirmed booking ends in a refund.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.booking_store import PaymentRefunded
from chalicelib.domain.booking import CONFIRMED_METRIC, SEAT_TAKING, Booking, BookingStatus
from chalicelib.domain.documents import Document
from chalicelib.domain.payment import (
    DISPUTE_CLOSED,
    REFUND_NOT_MADE,
    Dispute,
    Payment,
    PaymentKind,
    Refund,
    booking_refund_key,
)
from chalicelib.errors import (
    InvalidState,
    OutsideOpeningHours,
    RelaisError,
    RelayClosed,
    SlotUnavailable,
)
from chalicelib.observability import count
from chalicelib.services import invoicing, notifications, opening_exceptions, refund_failures
from chalicelib.services.context import Context
from chalicelib.services.ports import IntentInfo

logger = logging.getLogger("relais.payments")
CUSTOMER_REFUND = "requested_by_customer"  # a cancellation's refund (its `reason`)


def payment_view(intent: IntentInfo) -> dict[str, Any]:
    return {
        "provider": "stripe",
        "payment_intent_id": intent.id,
        "client_secret": intent.client_secret,
        "amount": intent.amount,
        "currency": "EUR",
    }


def open_intent(
    ctx: Context,
    *,
    kind: PaymentKind,
    subject_id: str,
    member_id: str,
    operator_id: str,
    amount: int,
    description: str,
    existing: str | None = None,
) -> IntentInfo:
    """The PaymentIntent of a booking or purchase — the same one however often asked
    (the recorded one first: not every Stripe-compatible server honours idempotency keys)."""
    if existing:
        return ctx.gateway.retrieve_payment_intent(existing)
    payment = Payment(
        intent_id="",
        kind=kind,
        subject_id=subject_id,
        member_id=member_id,
        operator_id=operator_id,
        amount=amount,
        description=description,
        created_at=ctx.clock.now(),
    )
    intent = _create_intent(ctx, payment, f"{kind}-{subject_id}-pay")
    ctx.payments.add_payment(payment.model_copy(update={"intent_id": intent.id}))
    return intent


def _create_intent(ctx: Context, payment: Payment, idempotency_key: str) -> IntentInfo:
    kind, subject_id = payment.kind, payment.subject_id
    return ctx.gateway.create_payment_intent(
        amount=payment.amount,
        currency="EUR",
        description=payment.description,
        metadata={
            "kind": kind,
            "subject_id": subject_id,
            f"{kind}_id": subject_id,
            "member_id": payment.member_id,
            "operator_id": payment.operator_id,
        },
        idempotency_key=idempotency_key,
    )


def booking_intent(ctx: Context, booking: Booking) -> tuple[IntentInfo, Payment]:
    """The PaymentIntent of a card booking not yet written, and its payment record, to be
    written in the booking's own transaction (`ctx.payments.payment_put`): the booking is
    written once, with its intent. The same intent however often the request is retried:
    its idempotency key derives from the booking id, itself from the Idempotency-Key."""
    relay = ctx.catalogue.relay(booking.relay_id)
    payment = Payment(
        intent_id="",
        kind="booking",
        subject_id=booking.id,
        member_id=booking.member_id,
        operator_id=booking.operator_id,
        amount=int(booking.price["amount"]),
        description=f"{relay.name}, {booking.date.isoformat()} ({booking.unit})",
        created_at=ctx.clock.now(),
    )
    intent = _create_intent(ctx, payment, f"booking-{booking.id}-pay")
    return intent, payment.model_copy(update={"intent_id": intent.id})


def drop_intent(ctx: Context, subject_id: str, intent_id: str) -> None:
    """Cancel an intent that must not be paid any more (opened for a booking that was not
    written, or that its booking does not use; a pack purchase of an erased member);
    logged if Stripe cannot (paid meanwhile: then handled as any payment of its subject)."""
    try:
        ctx.gateway.cancel_payment_intent(intent_id, idempotency_key=f"intent-{intent_id}-drop")
    except RelaisError as exc:
        logger.warning("Could not cancel intent %s of %s: %s", intent_id, subject_id, exc)


def start_booking_payment(ctx: Context, booking: Booking) -> dict[str, Any]:
    relay = ctx.catalogue.relay(booking.relay_id)
    intent = open_intent(
        ctx,
        kind="booking",
        subject_id=booking.id,
        member_id=booking.member_id,
        operator_id=booking.operator_id,
        amount=int(booking.price["amount"]),
        description=f"{relay.name}, {booking.date.isoformat()} ({booking.unit})",
        existing=booking.payment_intent_id,
    )
    ctx.bookings.set_payment_intent(booking.id, intent.id)
    return payment_view(intent)


def cancel_intent_quietly(ctx: Context, booking: Booking) -> None:
    """Cancel a released hold's intent; if it can't be, a late success gets refunded."""
    if not booking.payment_intent_id:
        return
    try:
        ctx.gateway.cancel_payment_intent(
            booking.payment_intent_id, idempotency_key=f"booking-{booking.id}-cancel"
        )
    except RelaisError as exc:
        logger.warning("Could not cancel intent %s: %s", booking.payment_intent_id, exc.detail)


def settle_refund(ctx: Context, booking: Booking) -> dict[str, Any]:
    """Make the refund a cancelled booking is owed; stays owed (and retried) if Stripe fails.

    Never more than what is left of the payment: a refund made meanwhile (dashboard, late
    success) counts, and every refund of a booking's payment shares one idempotency key."""
    payment = ctx.payments.payment(booking.payment_intent_id or "")
    left = payment.amount - payment.refunded_amount if payment else 0
    amount = min(booking.refund_due or 0, left)
    if not booking.payment_intent_id or amount <= 0:
        done = _recorded_refund(ctx, payment) if payment else None
        if booking.refund_due:
            ctx.bookings.record_refund(booking, done or {"amount": 0, "status": "already_refunded"})
        return dict(done) if done else {"amount": 0, "status": "already_refunded"}
    try:
        result = ctx.gateway.create_refund(
            payment_intent_id=booking.payment_intent_id,
            amount=amount,
            idempotency_key=booking_refund_key(booking.id),
            metadata={"booking_id": booking.id, "kind": "booking", "reason": CUSTOMER_REFUND},
        )
    except RelaisError as exc:
        logger.warning("Refund of booking %s pending: %s", booking.id, exc.detail)
        return {"amount": amount, "status": "pending"}
    credit_note_id = record_refund(
        ctx,
        booking.payment_intent_id,
        result.id,
        result.amount,
        result.status or "pending",
        CUSTOMER_REFUND,
    )
    refund = {
        "id": result.id,
        "amount": result.amount,
        "status": result.status or "pending",
        "credit_note_id": credit_note_id,
    }
    ctx.bookings.record_refund(booking, refund)
    return refund


def _recorded_refund(ctx: Context, payment: Payment) -> dict[str, Any] | None:
    """The refund already recorded against this payment, its credit note issued if a crash
    came between the two (issuing is once per refund): a retry finishes the work."""
    # Every refund credited (a pending SEPA one, one that failed since, included): the
    # booking notes the last with its id, so Stripe's later word on it reaches the booking.
    recorded = [r for r in ctx.payments.refunds(payment.intent_id) if r.credited]
    if not recorded:
        return None
    notes = {
        r.id: invoicing.credit_note_for_refund(ctx, payment, r.id, r.amount)["id"] for r in recorded
    }
    last = max(recorded, key=lambda r: (r.created_at, r.id))
    return {
        "id": last.id,
        "amount": last.amount,
        "status": last.status,
        "credit_note_id": str(notes[last.id]),
    }


def record_refund(
    ctx: Context, intent_id: str, refund_id: str, amount: int, status: str, reason: str
) -> str | None:
    """Record a refund once and issue its credit note (once); answers the credit note id.
    Stripe never refunds beyond the charge: a refund that would take the credited total
    past it is one recorded already under the charge's id (`unlisted_refund_id`, when
    Stripe counted it before listing it), and is not recorded again."""
    payment = ctx.payments.payment(intent_id)
    if payment is None:
        return None
    beyond = payment.refunded_amount + amount > payment.amount
    if beyond and ctx.payments.refund(intent_id, refund_id) is None:
        logger.warning(
            "Refund %s of %s (%d cents) is counted already: not recorded again",
            refund_id,
            intent_id,
            amount,
        )
        return None
    now = ctx.clock.now()
    added = ctx.payments.add_refund(
        Refund(
            id=refund_id,
            intent_id=intent_id,
            kind=payment.kind,
            subject_id=payment.subject_id,
            operator_id=payment.operator_id,
            member_id=payment.member_id,
            amount=amount,
            status=status,
            reason=reason,
            created_at=now,
            failed_at=now if status in REFUND_NOT_MADE else None,
        )
    )
    if not added:
        kept = ctx.payments.refund(intent_id, refund_id)
        if kept is not None and not kept.credited:
            return None  # Stripe said it failed before: a stale event, not a refund made
    document = invoicing.credit_note_for_refund(ctx, payment, refund_id, amount)
    if status in REFUND_NOT_MADE:  # refused by Stripe as soon as asked: owed another way
        refund_failures.refund_not_made(ctx, intent_id, {"id": refund_id}, status)
    return Document.of(document).id


def settle_due_refunds(ctx: Context) -> int:
    settled = 0
    for booking_id in ctx.bookings.refunds_due():
        booking = ctx.bookings.get(booking_id)
        if booking is not None and settle_refund(ctx, booking)["status"] != "pending":
            settled += 1
    return settled


def booking_paid(ctx: Context, intent: dict[str, Any], booking: Booking) -> str:
    """`payment_intent.succeeded` for a booking: confirm it, rebook it, or refund it."""
    now = ctx.clock.now()
    payment, invoice_id = _payment_of(ctx, intent, booking)
    if booking.status is not BookingStatus.held or payment.fully_refunded:
        _link_invoice(ctx, booking, invoice_id)
    if payment.fully_refunded:
        _release_if_seated(ctx, booking, now)
        return "already_refunded"
    if booking.status is BookingStatus.held:
        try:
            confirmed = ctx.bookings.transition(  # with its invoice: one write of the booking
                booking,
                booking.model_copy(
                    update={
                        "status": BookingStatus.confirmed,
                        "payment_intent_id": intent["id"],
                        "invoice_id": booking.invoice_id or invoice_id,
                    }
                ),
                day_open=True,
            )
        except RelayClosed:
            _link_invoice(ctx, booking, invoice_id)
            # Closed while the member paid (the closure's sweep may not have listed the
            # hold yet): never confirmed on a closed day; cancelled and refunded instead.
            try:
                released = ctx.bookings.release(
                    booking, BookingStatus.cancelled, now, refund_due=payment.amount
                )
            except InvalidState:
                fresh = ctx.bookings.get(booking.id)
                assert fresh is not None
                return booking_paid(ctx, intent, fresh)
            settle_refund(ctx, released.model_copy(update={"payment_intent_id": intent["id"]}))
            return "refunded_relay_closed"
        except InvalidState:
            fresh = ctx.bookings.get(booking.id)
            assert fresh is not None
            return booking_paid(ctx, intent, fresh)
        count(CONFIRMED_METRIC[confirmed.payment_method])
        notifications.notify_booking_confirmed(ctx, confirmed)
        return "confirmed"
    if booking.status in SEAT_TAKING or booking.status in (
        BookingStatus.completed,
        BookingStatus.no_show,
    ):
        if booking.payment_intent_id in (None, intent["id"]):
            if booking.status in (BookingStatus.confirmed, BookingStatus.checked_in):
                # A redelivery after a crash between the confirmation and its mail sends
                # it (its outbox key: never twice).
                notifications.notify_booking_confirmed(ctx, booking)
            return "already_confirmed"
        return _refund_whole(ctx, booking, intent["id"], "duplicate")
    if booking.status is BookingStatus.expired:
        return _rebook_or_refund(ctx, booking, intent["id"], now)
    return _refund_whole(ctx, booking, intent["id"], CUSTOMER_REFUND)


def _link_invoice(ctx: Context, booking: Booking, invoice_id: str) -> None:
    """Note the payment's invoice on a booking not confirmed here (it may stay unconfirmed)."""
    if booking.invoice_id is None:
        ctx.bookings.set_invoice(booking.id, invoice_id)


def _payment_of(ctx: Context, intent: dict[str, Any], booking: Booking) -> tuple[Payment, str]:
    """The payment recorded as succeeded, and the id of its invoice (issued once)."""
    # Usually recorded when the booking's intent was created: a read, rather than a
    # conditional put whose refusal still costs a write (and is followed by a read).
    if ctx.payments.payment(intent["id"]) is None:
        ctx.payments.add_payment(
            Payment(
                intent_id=intent["id"],
                kind="booking",
                subject_id=booking.id,
                member_id=booking.member_id,
                operator_id=booking.operator_id,
                amount=int(intent.get("amount") or booking.price["amount"]),
                description=f"Booking {booking.id}",
                created_at=ctx.clock.now(),
            )
        )
    ctx.payments.mark_succeeded(intent["id"], charge_id_of(intent), ctx.clock.now())
    payment = ctx.payments.payment(intent["id"])
    assert payment is not None
    # Every payment received is invoiced; the booking's invoice id is written by the caller.
    document = invoicing.invoice_for_payment(ctx, payment, paid_booking=booking)
    return payment, Document.of(document).id


def _rebook_or_refund(ctx: Context, booking: Booking, intent_id: str, now: datetime) -> str:
    """A hold paid after it expired takes its seat again if still free, else is refunded.
    A booking whose time is over is free to nobody (a new booking of it is refused): a
    delayed 3-D Secure or a redelivered event must not confirm an hour already gone."""
    if booking.end <= now:
        return _refund_whole(ctx, booking, intent_id, "booking_over_after_hold_expired")
    resource = ctx.catalogue.resource(booking.resource_id)
    try:
        rebooked = opening_exceptions.reinstate_within_hours(
            ctx, booking.model_copy(update={"payment_intent_id": intent_id}), resource.capacity, now
        )
    except (SlotUnavailable, RelayClosed, OutsideOpeningHours):
        return _refund_whole(ctx, booking, intent_id, "seat_taken_after_hold_expired")
    except PaymentRefunded:  # refunded in full meanwhile (the Dashboard): nothing is left
        return _refund_whole(ctx, booking, intent_id, "refunded_after_hold_expired")
    notifications.notify_booking_confirmed(ctx, rebooked)
    return "rebooked"


def _refund_whole(ctx: Context, booking: Booking, intent_id: str, reason: str) -> str:
    """Give back all that is left of a payment that cannot buy this booking."""
    payment = ctx.payments.payment(intent_id)
    left = payment.amount - payment.refunded_amount if payment else 0
    if left <= 0:
        return "already_refunded"
    own = intent_id == booking.payment_intent_id or booking.payment_intent_id is None
    result = ctx.gateway.create_refund(
        payment_intent_id=intent_id,
        amount=left,
        # The booking's own payment shares its key with `settle_refund`: one refund, ever.
        idempotency_key=booking_refund_key(booking.id) if own else f"payment-{intent_id}-refund",
        metadata={"booking_id": booking.id, "reason": reason},
    )
    record_refund(ctx, intent_id, result.id, result.amount, result.status or "pending", reason)
    if own and booking.refund_due:
        ctx.bookings.record_refund(
            booking,
            {"id": result.id, "amount": result.amount, "status": result.status or "pending"},
        )
    return "refunded"


def _release_if_seated(ctx: Context, booking: Booking, now: datetime) -> None:
    if booking.status in SEAT_TAKING:
        try:
            ctx.bookings.release(booking, BookingStatus.cancelled, now)
        except InvalidState:
            fresh = ctx.bookings.get(booking.id)
            if fresh is not None and fresh.status in SEAT_TAKING:
                raise


def charge_refunded(ctx: Context, charge: dict[str, Any]) -> str:
    """`charge.refunded` (a refund made here or from the dashboard): record it; a booking
    refunded in full is cancelled and its seat freed."""
    intent_id = charge.get("payment_intent")
    if not isinstance(intent_id, str) or ctx.payments.payment(intent_id) is None:
        return "ignored"
    refunds = _refunds_of(charge)
    for refund in refunds:
        status = refund.get("status") or "succeeded"
        if status in REFUND_NOT_MADE:  # not in Stripe's amount_refunded
            refund_failures.refund_not_made(ctx, intent_id, refund, status)
            continue
        metadata = refund.get("metadata")
        reason = metadata.get("reason") if isinstance(metadata, dict) else None
        record_refund(ctx, intent_id, refund["id"], refund["amount"], status, reason or "dashboard")
    total = charge.get("amount_refunded")
    if not refunds and _is_amount(total) and total:
        _record_listed_refunds(ctx, intent_id, str(charge.get("id") or intent_id), total)
    payment = ctx.payments.payment(intent_id)
    assert payment is not None
    if payment.fully_refunded and payment.kind == "booking":
        booking = ctx.bookings.get(payment.subject_id)
        if booking is not None:
            _release_if_seated(ctx, booking, ctx.clock.now())
            if booking.refund_due:  # nothing left to give back: the owed refund is done
                # Noted as `settle_refund` notes it: the last refund credited, with its id
                # (perhaps the booking's own, its answer lost), so that Stripe's later
                # word on it reaches the booking.
                done = _recorded_refund(ctx, payment)
                ctx.bookings.record_refund(
                    booking, done or {"amount": 0, "status": "already_refunded"}
                )
    if payment.fully_refunded and payment.kind == "purchase":
        ctx.payments.revoke_pack(payment.subject_id, payment.member_id)
    return "refund_recorded"


def _is_amount(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _refunds_of(charge: dict[str, Any]) -> list[dict[str, Any]]:
    """The charge's refunds as listed in the event, each with a string id, an amount in
    cents and a string status (or none); any other entry is logged and left out."""
    listed = charge.get("refunds")
    data = listed.get("data") if isinstance(listed, dict) else None
    kept = []
    for refund in data if isinstance(data, list) else []:
        if (
            isinstance(refund, dict)
            and isinstance(refund.get("id"), str)
            and _is_amount(refund.get("amount"))
            and isinstance(refund.get("status") or "", str)
        ):
            kept.append(refund)
        else:
            logger.warning("Malformed refund in charge %s left out: %r", charge.get("id"), refund)
    return kept


UNLISTED = "-refunded-"


def unlisted_refund_id(charge_id: str, total: int) -> str:
    """The id a refund Stripe counts but does not list yet is recorded under."""
    return f"{charge_id}{UNLISTED}{total}"


def _record_listed_refunds(ctx: Context, intent_id: str, charge_id: str, total: int) -> None:
    """A `charge.refunded` without its refunds (API versions since 2022-11-15 send only
    `amount_refunded`): each refund of the intent recorded under its own id, as Stripe
    lists them, so that ours, being recorded by its request at the same moment (or by a
    retry after a crash), is recorded once. Only what Stripe counts but does not list yet
    is recorded under the charge's id."""
    for refund in ctx.gateway.list_refunds(intent_id):
        if refund.status in REFUND_NOT_MADE:  # not in Stripe's amount_refunded
            listed = {"id": refund.id, "amount": refund.amount, "metadata": {}}
            refund_failures.refund_not_made(ctx, intent_id, listed, refund.status)
            continue
        record_refund(
            ctx,
            intent_id,
            refund.id,
            refund.amount,
            refund.status or "succeeded",
            refund.reason or "dashboard",
        )
    # Failed ones included: an event built before a refund failed still counts it.
    already = sum(r.amount for r in ctx.payments.refunds(intent_id))
    if total > already:
        logger.warning("Refunds of %s not listed by Stripe: %d cents", intent_id, total - already)
        record_refund(
            ctx,
            intent_id,
            unlisted_refund_id(charge_id, total),
            total - already,
            "succeeded",
            "dashboard",
        )


def dispute_changed(
    ctx: Context, dispute: dict[str, Any], occurred_at: datetime | None = None
) -> str:
    """A dispute opened, changed or closed (`charge.dispute.*`): its payment (and booking)
    flagged, the dispute recorded with its status for the reconciliation, which books
    the money Stripe takes out of the balance and puts back. A closed one closed when its
    event happened (`occurred_at`), else (read from Stripe by the reconciliation) now."""
    intent_id = dispute.get("payment_intent")
    payment = ctx.payments.payment(intent_id) if isinstance(intent_id, str) else None
    if payment is None or not isinstance(dispute.get("id"), str):
        return "ignored"
    ctx.payments.flag_dispute(payment.intent_id)
    if payment.kind == "booking":
        ctx.bookings.flag_dispute(payment.subject_id)
    created, amount = dispute.get("created"), dispute.get("amount")
    due_by = (dispute.get("evidence_details") or {}).get("due_by")
    known = ctx.payments.dispute(dispute["id"])
    respond_by = (
        datetime.fromtimestamp(due_by, UTC)
        if isinstance(due_by, int)
        else known.respond_by
        if known
        else None
    )
    status = str(dispute.get("status") or "needs_response")
    now = ctx.clock.now()
    ctx.payments.record_dispute(
        Dispute(
            id=dispute["id"],
            intent_id=payment.intent_id,
            kind=payment.kind,
            subject_id=payment.subject_id,
            member_id=payment.member_id,
            operator_id=payment.operator_id,
            amount=amount if isinstance(amount, int) else payment.amount,
            reason=str(dispute.get("reason") or "general"),
            status=status,
            created_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else now,
            # in UTC: the store compares closes as text (`PaymentStore._closed_earlier`)
            closed_at=min(occurred_at or now, now).astimezone(UTC)
            if status in DISPUTE_CLOSED
            else None,
            respond_by=respond_by,
        )
    )
    if status == "lost" and payment.kind == "purchase":
        lost = amount if isinstance(amount, int) else payment.amount
        if lost + payment.refunded_amount >= payment.amount:
            # The bank gave the money back: the member keeps no unused credit of the pack
            # (as for a pack refunded in full; safe to repeat, whatever the order).
            ctx.payments.revoke_pack(payment.subject_id, payment.member_id)
        else:  # part of the price: the credits stay, the accountant recovers the rest
            logger.warning(
                "Dispute %s lost for %d of %d cents: pack %s kept",
                dispute["id"],
                lost,
                payment.amount,
                payment.subject_id,
            )
    return "dispute_flagged"


def payment_failed(ctx: Context, intent: dict[str, Any]) -> str:
    error = intent.get("last_payment_error") or {}
    message = str(error.get("message") or "payment failed")
    ctx.payments.mark_failed(intent["id"], message, charge_id_of(intent))
    return "failure_recorded"


def charge_id_of(intent: dict[str, Any]) -> str | None:
    """The charge of a succeeded intent (webhook payload): what a payout's balance
    transaction names as its source, so every kind of payment records it."""
    charge = intent.get("latest_charge")
    if isinstance(charge, dict):
        charge = charge.get("id")
    if charge is None:
        charges = (intent.get("charges") or {}).get("data") or []
        charge = charges[0].get("id") if charges else None
    return charge if isinstance(charge, str) else None
