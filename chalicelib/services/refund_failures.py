"""Refunds Stripe could not make: `charge.refund.updated` (and `refund.updated`,
`refund.failed`) saying a refund `failed` or was `canceled`.

The money is back in the Stripe balance (a `refund_failure` balance transaction, which
the reconciliation nets in its payout) and the customer is owed it again. The credit note
stands (it is what the customer is owed); the refund is marked failed, the booking's
`refund.status` says so, the member is told by mail, and one bank entry puts the amount
back: D Stripe clearing / C 411 on the credit note's piece, which leaves the customer's
account open until the accountant pays them another way (RUNBOOK: *RefundsFailed*). The
refund still counts in its payment's `refunded_amount` (what was credited): it is never
refunded again through Stripe. Safe to repeat: the entry has a fixed id, claimed once,
and the marks and the mail after it are idempotent, so a crash between them is finished
by the redelivery.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from chalicelib.domain.bookkeeping import refund_failure_entry
from chalicelib.domain.documents import Document
from chalicelib.domain.payment import REFUND_NOT_MADE, Payment, Refund
from chalicelib.domain.timezones import PARIS
from chalicelib.observability import count
from chalicelib.services import accounting_settings, invoicing, notifications, periods
from chalicelib.services.context import Context

logger = logging.getLogger("relais.refunds")


def refund_updated(ctx: Context, refund: dict[str, Any]) -> str:
    """A refund's new status: a failure is taken into account once; a pending refund
    that succeeded is noted; anything else is ignored."""
    intent_id, refund_id = refund.get("payment_intent"), refund.get("id")
    if not isinstance(intent_id, str) or not isinstance(refund_id, str):
        return "ignored"
    status = str(refund.get("status") or "")
    if status in REFUND_NOT_MADE:
        return refund_not_made(ctx, intent_id, refund, status)
    ours = ctx.payments.refund(intent_id, refund_id)
    if status == "succeeded" and ours is not None and ours.status == "pending":
        # Only if the refund moved: a failure handled meanwhile is never overwritten.
        if not ctx.payments.refund_outcome(ours, status, None, ctx.clock.now()):
            return "already_recorded"
        if ours.kind == "booking":
            ctx.bookings.refund_status(ours.subject_id, refund_id, status)
        return "refund_succeeded"
    return "ignored"


def refund_not_made(ctx: Context, intent_id: str, refund: dict[str, Any], status: str) -> str:
    """Stripe gave the money of a refund (`refund`: its id, amount, failure reason) back
    to the balance. Recorded as made: the customer is owed it again. Never recorded: it
    is kept as failed and not credited, so that a stale event listing it as made is not
    believed. The entry is claimed once: it is what makes this happen once (a refund
    recorded as `failed` straight away gets it too)."""
    payment = ctx.payments.payment(intent_id)
    refund_id = str(refund.get("id") or "")
    if payment is None or not refund_id:
        return "ignored"
    reason = refund.get("failure_reason")
    why = str(reason)[:200] if isinstance(reason, str) and reason else None
    now = ctx.clock.now()
    ours = ctx.payments.refund(intent_id, refund_id)
    if ours is None:
        if ctx.payments.add_failed_refund(
            _never_made(payment, refund_id, refund, status, why, now)
        ):
            return "failed_before_recorded"
        ours = ctx.payments.refund(intent_id, refund_id)  # recorded as made meanwhile
        if ours is None:
            return "ignored"
    if not ours.credited:
        return "already_recorded"
    # The refund's credit note, issued when it was recorded (issued now if a crash then
    # left it out): the piece of the entry, and what the customer is owed.
    note = Document.of(invoicing.credit_note_for_refund(ctx, payment, refund_id, ours.amount))
    books = accounting_settings.settings_for(ctx, payment.operator_id, fresh=False)
    day = now.astimezone(PARIS).date()
    booked = periods.book(ctx, refund_failure_entry(note, day, books.chart, now, books.journals))
    moved = ctx.payments.refund_outcome(ours, status, why, now)
    if payment.kind == "booking":
        ctx.bookings.refund_status(payment.subject_id, refund_id, status)
    notifications.notify_refund_failed(ctx, ours, note)  # once: its outbox claim
    if not (booked or moved):
        return "already_recorded"
    count("RefundsFailed")  # the first delivery, or the one finishing a crashed one
    logger.warning(
        "Refund %s of %s (%d cents, credit note %s) was not made: %s; the customer is owed it",
        refund_id,
        intent_id,
        ours.amount,
        note.number,
        why or status,
    )
    return "refund_failure_recorded"


def _never_made(
    payment: Payment,
    refund_id: str,
    refund: dict[str, Any],
    status: str,
    why: str | None,
    now: datetime,
) -> Refund:
    amount = refund.get("amount")
    metadata = refund.get("metadata")
    reason = metadata.get("reason") if isinstance(metadata, dict) else None
    return Refund(
        id=refund_id,
        intent_id=payment.intent_id,
        kind=payment.kind,
        subject_id=payment.subject_id,
        operator_id=payment.operator_id,
        member_id=payment.member_id,
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else 0,
        status=status,
        reason=str(reason or "dashboard"),
        created_at=now,
        failure_reason=why,
        failed_at=now,
        credited=False,
    )
