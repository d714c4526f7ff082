"""Refunds Stripe could not make, paid by bank transfer
(`POST /v1/invoices/{credit_note_id}/refund-transfer`).

Once a refund failed (services/refund_failures.py) the customer is owed its amount again,
and the accountant pays it by transfer. Recorded here, on the refund's credit note: the
refund notes the transfer (once; the same reference and day answer it again, other
figures are refused), the bank entry D 411 / C 512 on the credit note's piece settles the
customer's account (the FEC letters the note with its refund, its failure and the
transfer), and the booking's `refund.status` says `transferred`. Safe to repeat: the
entry has a fixed id, so a retry after a crash finishes what the first call began.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.bookkeeping import refund_transfer_entry
from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import parse_document_id
from chalicelib.domain.payment import Refund
from chalicelib.domain.timezones import PARIS
from chalicelib.errors import AlreadyExists, InvalidState, NotFound, ValidationFailed
from chalicelib.services import accounting_settings, audit, invoicing, periods
from chalicelib.services.context import Context

TRANSFERRED = "transferred"  # the booking's `refund.status` once the transfer is recorded


def record_refund_transfer(
    ctx: Context,
    principal: Principal,
    credit_note_id: str,
    paid_at: date | datetime,
    reference: str,
) -> dict[str, Any]:
    """Record the bank transfer that paid the customer the failed refund of
    `credit_note_id`, for its whole amount."""
    principal.require_books_access()
    reference = reference.strip()
    if not reference:
        raise ValidationFailed("A transfer needs its bank reference.", field="reference")
    note = _refund_credit_note(ctx, credit_note_id)
    refund = _failed_refund(ctx, note)
    paid_on = paid_at.astimezone(PARIS).date() if isinstance(paid_at, datetime) else paid_at
    if paid_on > ctx.clock.now().astimezone(PARIS).date():
        raise ValidationFailed("A transfer cannot be made in the future.", field="paid_at")
    failed_at = refund.failed_at or refund.created_at
    if refund.transfer is None and paid_on < failed_at.astimezone(PARIS).date():
        raise ValidationFailed(
            "The transfer predates the refund's failure; check the date.", field="paid_at"
        )
    if refund.transfer is None:
        transfer = {
            "reference": reference,
            "paid_on": paid_on.isoformat(),
            "recorded_at": ctx.clock.now().isoformat(),
            "recorded_by": principal.sub,
        }
        public = _public(note, refund, transfer)
        trail = audit.creation_items(
            ctx, principal, "refund_transfer", refund.id, note.operator_id, public
        )
        if ctx.payments.note_refund_transfer(refund, transfer, trail):
            refund = refund.model_copy(update={"transfer": transfer})
        else:
            refund = _failed_refund(ctx, note)  # recorded meanwhile: the same one?
    noted = refund.transfer
    if noted is None:
        raise InvalidState("The refund changed meanwhile; please retry.")
    _finish(ctx, note, refund, noted)  # the transfer noted, whichever call noted it
    if (noted["reference"], noted["paid_on"]) != (reference, paid_on.isoformat()):
        raise AlreadyExists(
            f"The refund of credit note {note.number} was already paid by transfer "
            f"{noted['reference']!r} on {noted['paid_on']}."
        )
    return _public(note, refund, noted)


def _refund_credit_note(ctx: Context, credit_note_id: str) -> Document:
    if parse_document_id(credit_note_id) is None:
        raise NotFound(f"No invoice with id {credit_note_id!r}.")
    note = Document.of(invoicing.get_document(ctx, credit_note_id))
    refund_id = note.payment.provider_ref
    if not (note.is_credit_note and refund_id and note.refers_to):
        raise InvalidState("Only the credit note of a refund Stripe could not make is paid so.")
    if ctx.invoices.by_source(f"refund-{refund_id}") != note.id:
        raise InvalidState("Only the credit note of a refund Stripe could not make is paid so.")
    return note


def _failed_refund(ctx: Context, note: Document) -> Refund:
    invoice = Document.of(invoicing.get_document(ctx, str(note.refers_to)))
    intent_id, refund_id = invoice.payment.provider_ref, note.payment.provider_ref
    refund = ctx.payments.refund(intent_id, refund_id) if intent_id and refund_id else None
    if refund is None or refund.made or not refund.credited:
        raise InvalidState(
            f"The refund of credit note {note.number} did not fail: the customer was paid "
            "back through Stripe."
        )
    return refund


def _finish(ctx: Context, note: Document, refund: Refund, transfer: dict[str, Any]) -> None:
    """The bank entry (fixed id: booked once) and the booking's refund status."""
    books = accounting_settings.settings_for(ctx, note.operator_id, fresh=False)
    lines = refund_transfer_entry(
        note,
        date.fromisoformat(str(transfer["paid_on"])),
        str(transfer["reference"]),
        books.chart,
        datetime.fromisoformat(str(transfer["recorded_at"])),
        books.journals,
    )
    periods.book(ctx, lines)  # a closed month's entry lands in the first open one
    if refund.kind == "booking":
        ctx.bookings.refund_status(refund.subject_id, refund.id, TRANSFERRED)


def _public(note: Document, refund: Refund, transfer: dict[str, Any]) -> dict[str, Any]:
    return {
        "credit_note_id": note.id,
        "credit_note_number": note.number,
        "refund_id": refund.id,
        "amount": refund.amount,
        "currency": "EUR",
        "reference": transfer["reference"],
        "paid_on": transfer["paid_on"],
        "recorded_at": transfer["recorded_at"],
    }
