"""Sending an invoice or credit note to its buyer again (`POST /v1/invoices/{id}/send`)."""

from __future__ import annotations

from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.documents import Document
from chalicelib.errors import InvalidState
from chalicelib.services import accounting, audit, rate_limits
from chalicelib.services.context import Context
from chalicelib.services.document_mail import document_recipient, notify_document_issued

REASONS = {
    "disabled": "Mail is off: no sender is configured (MAIL_FROM).",
    "no_recipient": "The buyer has no e-mail address to send the document to.",
}


def resend(ctx: Context, principal: Principal, document_id: str, send_id: str) -> dict[str, Any]:
    """Mail the document (Factur-X PDF attached) to its buyer now, under its own outbox
    key (`send_id` comes from the Idempotency-Key when one is sent, so a retried request
    sends once). Accountants and admins, or the member whose document it is; a staff
    resend is in the audit trail (`sent_to`: the member's id, or the company's address),
    every attempt in the outbox journal."""
    document = Document.of(accounting.visible_document(ctx, principal, document_id))
    if not (principal.is_admin or principal.is_accountant):
        rate_limits.check_member_writes(ctx, principal)
    key = f"document-{document.id}-resend-{send_id}"
    outcome = notify_document_issued(ctx, document, key)
    if outcome in REASONS:
        raise InvalidState(REASONS[outcome])
    recipient = document_recipient(ctx, document)
    # The audit trail is never erased: a member is named by id (as in the outbox journal),
    # only a company's billing address is written as it is.
    sent_to = document.member_id or (recipient[0] if recipient else None)
    audit.record(
        ctx,
        principal,
        "send",
        "invoice",
        document.id,
        operator_id=document.operator_id,
        changes={"sent_to": [None, sent_to]},
    )
    return {
        "invoice_id": document.id,
        "number": document.number,
        "to": recipient[0] if recipient else None,
        "status": "failed" if outcome in ("failed", "error") else "sent",
    }
