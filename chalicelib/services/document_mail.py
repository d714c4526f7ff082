"""Invoices and credit notes to their buyers by mail, the Factur-X PDF attached: once when
issued (`document-{id}-issued`), again on request (services/invoice_resend.py), and,
from the hourly `send_reminders`, those of the last two days whose flow stopped between
the issue and the mail. Delivery, the outbox and retries are the members' mails' own
(`notifications`: claimed once by key before sending, a failure retried for a week); the
outbox keeps the PDF by reference (`document:{id}`), rebuilt from the document for a retry.

A document with a member is that member's: their address and language, and the outbox
names them by id (erasure reaches it). Only a document without one (a company's monthly
invoice, an operator's) goes to the buyer's own address, in French."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.adapters.mailer import Attachment, OutgoingMail
from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import parse_document_id
from chalicelib.domain.mail_templates import render
from chalicelib.domain.timezones import PARIS
from chalicelib.services import archive, mail_delivery
from chalicelib.services.context import Context

DOCUMENT_SEND_DAYS = 7  # a document mail that keeps failing is given up after a week
PDF_SOURCE = "document:"  # an attachment's source: the PDF of the document of that id


def document_issued_key(document_id: str) -> str:
    return f"document-{document_id}-issued"


def notify_document_issued(
    ctx: Context, document: Document | dict[str, Any], key: str | None = None
) -> str:
    """The document (invoice or credit note) to its buyer, its Factur-X PDF attached:
    once per document (`document-{id}-issued`; a retried issue finds it claimed), or
    once per resend (`key`). The buyer is the company's billing address for a company
    invoice, else the member's (profile) email; a buyer without one gets no mail."""
    typed = _typed(document)
    message_key = key or document_issued_key(typed.id)
    return mail_delivery.guarded(
        "document_issued",
        typed.id,
        lambda: _document_mail(ctx, typed, message_key),
        ctx=ctx,
        key=message_key,
    )


def _typed(document: Document | dict[str, Any]) -> Document:
    return document if isinstance(document, Document) else Document.of(document)


def _document_mail(ctx: Context, document: Document, key: str) -> str:
    mailer = mail_delivery.mailer_for(ctx)
    if mailer is None:
        return "disabled"
    if mail_delivery.outbox(ctx).get(key) is not None:
        return "duplicate"
    recipient = document_recipient(ctx, document)
    if recipient is None:
        return "no_recipient"
    email, name, language = recipient
    seller, payment = document.seller, document.payment
    due = payment.due_date
    fields: dict[str, Any] = {
        "name": name,
        "doc_type": document.type,
        "number": document.number,
        "seller_name": seller.name,
        "amount": document.totals.incl_vat,
        "issued_on": date.fromisoformat(document.issued_on),
        "payment_status": payment.status,
        "due_date": date.fromisoformat(due[:10]) if due else None,
        "iban": _spaced_iban(seller.iban),
        "bic": seller.bic,
    }
    subject, text, html = render("document_issued", fields, language)
    pdf = Attachment(
        f"{document.number}.pdf",
        archive.render_pdf(document),
        "application/pdf",
        source=PDF_SOURCE + document.id,
    )
    message = OutgoingMail(
        to=email,
        subject=subject,
        text=text,
        html=html,
        attachments=(pdf,),
        language=language,
        message_key=key,
    )
    return mail_delivery.deliver(
        ctx,
        mailer,
        message,
        kind="document_issued",
        member_id=document.member_id,
        send_until=ctx.clock.now() + timedelta(days=DOCUMENT_SEND_DAYS),
    )


MISSED_DOCUMENT_DAYS = 2


def send_missed_documents(ctx: Context, now: datetime) -> Counter[str]:
    """The documents issued in the last two days (Paris) whose mail was never claimed:
    their flow stopped between the issue and the mail (a crash, a timeout). Each is sent
    now, once (the claim is the same key as at issue)."""
    outcomes: Counter[str] = Counter()
    today = now.astimezone(PARIS).date()
    span = ((today - timedelta(days=MISSED_DOCUMENT_DAYS)).isoformat(), today.isoformat())
    store = mail_delivery.outbox(ctx)
    for operator_id in sorted(ctx.catalogue.get().operators):
        cursor: str | None = None
        while True:
            documents, cursor = ctx.invoices.page(
                member_id=None,
                operator_id=operator_id,
                span=span,
                doc_type=None,
                limit=100,
                cursor=cursor,
            )
            for document in map(Document.of, documents):
                if store.get(document_issued_key(document.id)) is None:
                    outcomes[notify_document_issued(ctx, document)] += 1
            if cursor is None:
                break
    return outcomes


def _spaced_iban(iban: str | None) -> str | None:
    if not iban:
        return None
    from stdnum import iban as stdnum_iban

    return str(stdnum_iban.format(iban))


def document_recipient(
    ctx: Context, document: Document | dict[str, Any]
) -> tuple[str, str, str] | None:
    """(email, name, language) of a document's buyer; None when there is none to write to.

    A member's document (even one whose profile names a company: a sole trader) goes to
    the member; only a document without a member is a company account's."""
    typed = _typed(document)
    if typed.member_id:
        return mail_delivery.recipient_of(ctx, typed.member_id)
    buyer = typed.buyer
    if not buyer.email:
        return None
    return buyer.email, buyer.company_name or buyer.name or "", "fr"


def rebuilt_attachment(ctx: Context, source: str) -> bytes:
    """The content of an attachment the outbox kept by its source: a document's PDF,
    rendered again from the frozen document."""
    if not source.startswith(PDF_SOURCE):
        raise LookupError(f"Unknown attachment source {source!r}.")
    document_id = source.removeprefix(PDF_SOURCE)
    parsed = parse_document_id(document_id)
    found = ctx.invoices.get(*parsed) if parsed else None
    if found is None:
        raise LookupError(f"No document {document_id!r} to rebuild its PDF from.")
    return archive.render_pdf(Document.of(found))
