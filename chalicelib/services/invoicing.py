"""Issuing invoices and credit notes: gapless numbers per operator and year, chained hashes.

`issue` is safe to call again for the same source (a payment or refund id): the
first call issues, later ones return the same document.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.adapters.invoice_store import HeadMoved, SourceTaken
from chalicelib.adapters.period_store import PeriodMoved
from chalicelib.domain.booking import Booking
from chalicelib.domain.bookkeeping import document_entries
from chalicelib.domain.catalogue import Operator
from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import (
    PARTIAL_REFUND_LABEL,
    Sale,
    chain_hash,
    document_id,
    document_lines,
    document_number,
    legal_mentions,
    negated_line,
    parse_document_id,
    partial_credit_lines,
    rest_credit_lines,
    totals,
    vat_breakdown,
)
from chalicelib.domain.timezones import PARIS
from chalicelib.errors import ConcurrentUpdate, NotFound
from chalicelib.observability import count
from chalicelib.services import accounting_settings, document_mail, periods
from chalicelib.services.catalogue import get_operator
from chalicelib.services.context import Context
from chalicelib.services.members import buyer_snapshot
from chalicelib.services.memberships import membership_payment_method, membership_sale

ISSUE_ATTEMPTS = 40


def seller_snapshot(operator: Operator) -> dict[str, Any]:
    return {
        "name": operator.name,
        "legal_form": operator.legal_form,
        "siren": operator.siren,
        "siret": operator.siret,
        "vat_number": operator.vat_number,
        "vat_regime": operator.vat_regime.value,
        "vat_on_debits": operator.vat_on_debits,
        "address": operator.address.model_dump(mode="json"),
        "email": operator.email,
    }


def issue(
    ctx: Context,
    *,
    operator_id: str,
    source: str,
    buyer: dict[str, Any],
    member_id: str | None,
    lines: list[dict[str, Any]] | None = None,
    sales: list[Sale] | None = None,
    payment: dict[str, Any],
    refers_to: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    lines_at: Callable[[int, int], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Issue the document of `source` once; its ledger lines are written with it.

    `lines_at(year, last_number)`, if given, makes the lines once the head of the year's
    numbering is read (every attempt): lines that depend on the documents issued before
    this one (numbers up to `last_number`), which the write then takes for sure."""
    invoices = ctx.invoices
    operator = _operator(ctx, operator_id)
    franchise = operator.vat_regime.value == "franchise"
    body_lines = lines if lines is not None else document_lines(sales or [], franchise)
    books = accounting_settings.settings_for(ctx, operator_id, fresh=False)
    for attempt in range(ISSUE_ATTEMPTS):
        existing = invoices.by_source(source)
        if existing:  # issued before: a retried flow; its mail too, if it never went out
            return _sent_to_buyer(ctx, get_document(ctx, existing))
        now = ctx.clock.now().astimezone(PARIS)
        # Read before the counter's head, so that nothing is read between the head and
        # the write that moves it: the shorter that window, the fewer concurrent issuers
        # meet (a month closing meanwhile fails the write's period checks: PeriodMoved).
        first_open = periods.open_from(ctx, operator_id)
        sequence, previous = invoices.head(operator_id, now.year)
        made_lines = lines_at(now.year, sequence) if lines_at else body_lines
        sequence += 1
        document = _document(
            operator,
            now,
            sequence,
            previous,
            buyer,
            member_id,
            made_lines,
            payment,
            refers_to,
            extra or {},
        )
        paid = payment.get("status") == "paid"
        ledger = document_entries(
            Document.of(document), books.chart, now, paid=paid, journals=books.journals
        )
        paid_on = periods.paris_day(payment["paid_at"]) if paid and payment.get("paid_at") else None
        placed, booked = periods.placement(
            ctx, operator_id, ledger, paid_on, now.date(), first_open
        )
        try:
            invoices.issue(document, now.year, sequence, source, placed, booked)
            count("CreditNotesIssued" if refers_to else "InvoicesIssued")
            return _sent_to_buyer(ctx, document)
        except (SourceTaken, PeriodMoved):
            continue  # issued meanwhile, or a month closed meanwhile: look again
        except HeadMoved:
            time.sleep(min(0.2, 0.005 * 2 ** min(attempt, 6)) * random.random())
    raise ConcurrentUpdate("Could not take the next invoice number; please retry.")


def _sent_to_buyer(ctx: Context, document: dict[str, Any]) -> dict[str, Any]:
    """E-mail the document to its buyer, once (the outbox's key), never failing the issue."""
    document_mail.notify_document_issued(ctx, document)
    return document


def _document(
    operator: Operator,
    now: datetime,
    sequence: int,
    previous: str,
    buyer: dict[str, Any],
    member_id: str | None,
    lines: list[dict[str, Any]],
    payment: dict[str, Any],
    refers_to: dict[str, Any] | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    seller = seller_snapshot(operator)
    if payment.get("method") == "transfer" and operator.iban and not refers_to:
        # Payable by transfer: where to (SEPA credit transfer, CII payment means 58).
        seller["iban"] = operator.iban
        if operator.bic:
            seller["bic"] = operator.bic
    invoice = Document.of(refers_to) if refers_to else None
    if invoice is not None and invoice.seller.vat_regime is not None:
        # A credit note corrects its invoice: under the VAT regime (and VAT number) that
        # invoice was issued under — the operator may have changed since, e.g. into the
        # franchise on 1 January.
        seller["vat_regime"] = invoice.seller.vat_regime
        seller["vat_on_debits"] = bool(invoice.seller.vat_on_debits)
        if invoice.seller.vat_number:  # the VAT it reverses was charged under this number
            seller["vat_number"] = invoice.seller.vat_number
    refers = (invoice.number, invoice.issued_on) if invoice else None
    document: dict[str, Any] = {
        "id": document_id(operator.id, now.year, sequence),
        "number": document_number(operator.invoice_prefix, now.year, sequence),
        "type": "credit_note" if refers_to else "invoice",
        "operator_id": operator.id,
        "member_id": member_id,
        "issued_at": now.isoformat(timespec="seconds"),
        "seller": seller,
        "buyer": buyer,
        "lines": lines,
        "totals": totals(lines),
        "vat_breakdown": vat_breakdown(lines),
        "currency": "EUR",
        "payment": payment,
        "refers_to": invoice.id if invoice else None,
        "refers_to_number": refers[0] if refers else None,
        "refers_to_date": refers[1] if refers else None,
        "legal_mentions": legal_mentions(seller, buyer, payment, refers),
        "previous_hash": previous,
        **extra,
    }
    document["hash"] = chain_hash(document, previous)
    Document.of(document)  # every document issued reads as a typed one (or none is issued)
    return document


def credit_note(
    ctx: Context,
    invoice: dict[str, Any],
    *,
    source: str,
    amount: int | None,
    payment: dict[str, Any],
    extra: dict[str, Any] | None = None,
    partial_label: str = PARTIAL_REFUND_LABEL,
) -> dict[str, Any]:
    """The credit note of a refund of `amount`: the invoice's lines negated (in full), or
    (partial) each line's share of the refund, computed cumulatively with the invoice's
    earlier credit notes, so that the notes of refunds adding up to the invoice negate it
    exactly (lines, VAT per rate). `amount` None: all that the earlier notes left of it (a
    refused invoice), each line less what they credited of it (`rest_credit_lines`:
    whole lines, a company's cancelled booking, or shares), so that the invoice and all
    its notes cancel per line and per rate. Earlier notes are read again at each
    numbering attempt."""
    typed = Document.of(invoice)
    lines: list[dict[str, Any]] = []
    lines_at = None
    if amount is not None and amount >= typed.totals.incl_vat:
        lines = [negated_line(line.canonical()) for line in typed.lines]
    else:
        invoiced = [line.canonical() for line in typed.lines]
        earlier = EarlierCredits(ctx, typed)
        earlier.read(ctx.clock.now().astimezone(PARIS).year)  # most of it, before the loop

        def lines_at(year: int, last_number: int) -> list[dict[str, Any]]:
            credited = earlier.read(year, last_number)
            rest = rest_credit_lines(invoiced, earlier.lines) if amount is None else None
            if rest is not None:
                return rest
            # a partial refund; or what is left, when an earlier note matches no line
            refund = typed.totals.incl_vat - credited if amount is None else amount
            return partial_credit_lines(invoiced, refund, credited, partial_label)

    # Addressed to the invoice's buyer: its company or operator too, so the note goes to
    # the same customer account.
    identity = {
        name: getattr(typed, name)
        for name in ("company_id", "buyer_operator_id")
        if getattr(typed, name)
    }
    return issue(
        ctx,
        operator_id=typed.operator_id,
        source=source,
        buyer=invoice["buyer"],  # copied as issued, its key order too
        member_id=typed.member_id,
        lines=lines,
        payment=payment,
        refers_to=invoice,
        extra={**identity, **(extra or {})},
        lines_at=lines_at,
    )


class EarlierCredits:
    """What an invoice's credit notes issued so far credited (VAT included, positive), and
    their lines (`lines`).

    A first read scans the operator's documents from the invoice's year on; later reads
    (an issue's attempts) read only the documents numbered since, one by one."""

    def __init__(self, ctx: Context, invoice: Document) -> None:
        parsed = parse_document_id(invoice.id)
        if parsed is None:
            raise ValueError(f"Not a document id: {invoice.id!r}")
        self._ctx = ctx
        self._invoice_id = invoice.id
        self._operator_id, self._year, self._number = parsed
        self._read_up_to: dict[int, int] = {}  # year -> last number read
        self._credited = 0
        self.lines: list[dict[str, Any]] = []  # every line of the notes read

    def read(self, year: int, last_number: int | None = None) -> int:
        """Credited by the notes up to `last_number` of `year` (every earlier year's)."""
        for scanned in range(self._year, year + 1):
            if scanned not in self._read_up_to:
                self._scan(scanned)
        if last_number is not None and year >= self._year:
            for number in range(self._read_up_to[year] + 1, last_number + 1):
                document = self._ctx.invoices.get(self._operator_id, year, number)
                if document is not None:
                    self._count(document)
            self._read_up_to[year] = max(self._read_up_to[year], last_number)
        return self._credited

    def _scan(self, year: int) -> None:
        last = 0
        for number, body in self._ctx.invoices.raw_documents(self._operator_id, year):
            sequence = int(number.rsplit("-", 1)[1])
            last = max(last, sequence)
            if self._invoice_id in body and (year, sequence) > (self._year, self._number):
                self._count(json.loads(body))
        self._read_up_to[year] = last

    def _count(self, document: dict[str, Any]) -> None:
        if document.get("type") == "credit_note" and document.get("refers_to") == self._invoice_id:
            note = Document.of(document)
            self._credited -= int(note.totals.incl_vat)
            self.lines += [line.canonical() for line in note.lines]


def documents_in_series(ctx: Context, source_of: Callable[[int], str]) -> list[dict[str, Any]]:
    """The documents issued under `source_of(1)`, `source_of(2)`… up to the first number
    with none: a month's invoice and those of what it gained after (company months,
    settlements between operators)."""
    found: list[dict[str, Any]] = []
    while document_id_ := ctx.invoices.by_source(source_of(len(found) + 1)):
        found.append(get_document(ctx, document_id_))
    return found


def get_document(ctx: Context, document_id_: str) -> dict[str, Any]:
    parsed = parse_document_id(document_id_)
    document = ctx.invoices.get(*parsed) if parsed else None
    if document is None:
        raise NotFound(f"No invoice with id {document_id_!r}.")
    return document


def _operator(ctx: Context, operator_id: str) -> Operator:
    return get_operator(ctx, operator_id)


UNIT_LABELS = {
    "day": "Journée",
    "half_day_am": "Demi-journée (matin)",
    "half_day_pm": "Demi-journée (après-midi)",
}


def invoice_for_payment(
    ctx: Context, payment: Any, *, paid_booking: Booking | None = None
) -> dict[str, Any]:
    """The invoice of a payment received (booking or pack) — issued once. A booking's
    invoice is noted on the booking unless it already is; not when the caller gives the
    booking it read (`paid_booking`): it writes the invoice id with the booking's
    confirmation, one write of the booking."""
    booking = paid_booking
    if booking is None and payment.kind == "booking":
        booking = ctx.bookings.get(payment.subject_id)
    sale = _sale_of(ctx, payment, booking)
    paid_at = (payment.succeeded_at or ctx.clock.now()).astimezone(PARIS)
    document = issue(
        ctx,
        operator_id=payment.operator_id,
        source=f"payment-{payment.intent_id}",
        buyer=buyer_snapshot(ctx, payment.member_id),
        member_id=payment.member_id,
        sales=[sale],
        payment={
            "status": "paid",
            "method": (
                membership_payment_method(ctx, payment) if payment.kind == "membership" else "card"
            ),
            "paid_at": paid_at.isoformat(timespec="seconds"),
            "provider_ref": payment.intent_id,
        },
    )
    if paid_booking is None and booking is not None and booking.invoice_id is None:
        ctx.bookings.set_invoice(booking.id, Document.of(document).id)
    return document


def credit_note_for_refund(
    ctx: Context, payment: Any, refund_id: str, amount: int
) -> dict[str, Any]:
    """The credit note of a refund: Stripe refunds a payment the way it was made, so the
    note says the refunded invoice's payment method (a SEPA debit is refunded to the
    account debited, not to a card)."""
    invoice = invoice_for_payment(ctx, payment)
    now = ctx.clock.now().astimezone(PARIS)
    return credit_note(
        ctx,
        invoice,
        source=f"refund-{refund_id}",
        amount=amount,
        payment={
            "status": "paid",
            "method": Document.of(invoice).payment.method or "card",
            "paid_at": now.isoformat(timespec="seconds"),
            "provider_ref": refund_id,
        },
    )


def _sale_of(ctx: Context, payment: Any, booking: Booking | None) -> Sale:
    if payment.kind == "membership":
        sale = membership_sale(ctx, payment)
        if sale is not None:
            return sale
    if payment.kind == "booking" and booking is not None:
        resource = ctx.catalogue.resource(booking.resource_id)
        relay = ctx.catalogue.relay(booking.relay_id)
        when = UNIT_LABELS.get(booking.unit) or (
            f"{booking.start.strftime('%H:%M')}–{booking.end.strftime('%H:%M')}"
        )
        return Sale(
            description=f"{when} — {resource.name}, {relay.name}",
            amount_incl_vat=payment.amount,
            vat_rate=Decimal(str(booking.price["vat_rate"])),
            service_date=booking.date,
        )
    if payment.kind == "purchase":
        purchase = ctx.payments.purchase(payment.subject_id)
        if purchase is not None and purchase.vat_rate is not None:  # as it was sold
            return Sale(
                description=f"{purchase.product_name} — {purchase.credits} crédits",
                amount_incl_vat=payment.amount,
                vat_rate=purchase.vat_rate,
                service_date=payment.created_at.astimezone(PARIS).date(),
            )
        product = ctx.catalogue.get().products.get(purchase.product_id) if purchase else None
        if product is not None:  # bought before purchases kept what they sold
            return Sale(
                description=f"{product.name} — {product.credits} crédits",
                amount_incl_vat=payment.amount,
                vat_rate=Decimal(str(product.price["vat_rate"])),
                service_date=payment.created_at.astimezone(PARIS).date(),
            )
    return Sale(
        description=payment.description,
        amount_incl_vat=payment.amount,
        vat_rate=Decimal("20.00"),
        service_date=payment.created_at.astimezone(PARIS).date(),
    )
