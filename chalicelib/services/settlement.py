"""Settlement invoices between operators, at month end (domain/settlement.py says who
invoices whom and why): the month's clearing flows (services/clearing.py), one invoice
per (host, seller) issued by the host to the seller, and the seller's purchase entry."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.domain.catalogue import VatRegime
from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import PARTIAL_CREDIT_LABEL, document_line, parse_document_id
from chalicelib.domain.lifecycle import refusal_credit_source
from chalicelib.domain.settlement import (
    purchase_entry,
    settlement_credit_source,
    settlement_sale,
    settlement_source,
)
from chalicelib.domain.timezones import PARIS
from chalicelib.services import accounting_settings, invoicing, periods
from chalicelib.services.catalogue import get_operator
from chalicelib.services.clearing import clearing
from chalicelib.services.context import Context

PAYMENT_DAYS = 30  # the invoice is due 30 days after issue, by transfer


def settle_operators(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    """The job: the settlement invoices of the month just ended (Paris time) at `as_of`,
    and those of usage the month before gained or lost after it was settled (a month
    settled early by a run with a future `as_of`). Idempotent: what is settled is not
    settled again, and each document's purchase entry is written once."""
    today = (as_of or ctx.clock.now()).astimezone(PARIS).date()
    ended = today.replace(day=1) - timedelta(days=1)
    before = ended.replace(day=1) - timedelta(days=1)
    late = settle_month(ctx, before.year, before.month)
    report = settle_month(ctx, ended.year, ended.month)
    return {
        **report,
        "processed": report["processed"] + late["processed"],
        "late_invoices": late["invoices"],
        "late_credit_notes": late["credit_notes"],
    }


def settle_month(ctx: Context, year: int, month: int) -> dict[str, Any]:
    """Bring each (host, seller) settlement of the month to its flow: what its documents
    so far leave unsettled (all of it at first) on one more invoice, or what they settled
    beyond the flow (it shrank since) on credit notes of its latest invoices."""
    label = f"{year:04d}-{month:02d}"
    last_day = date(year, month, calendar.monthrange(year, month)[1])
    flows = {
        (flow["host_operator_id"], flow["seller_operator_id"]): flow
        for flow in clearing(ctx, year, month)["flows"]
    }
    invoices, credit_notes = [], []
    for host_id, seller_id in sorted(set(flows) | _settled_pairs(ctx, label, set(flows))):
        flow = flows.get((host_id, seller_id), {"amount": 0, "bookings": 0})
        settled = _Settled(ctx, label, host_id, seller_id)
        amount, bookings = int(flow["amount"]), int(flow["bookings"])
        if amount > settled.amount:
            document = issue_settlement(
                ctx,
                label,
                host_id,
                seller_id,
                amount - settled.amount,
                max(bookings - settled.bookings, 0),
                last_day,
                number=len(settled.invoices) + 1,
            )
            invoices.append(Document.of(document).number)
        elif amount < settled.amount:
            notes = settled.credit(settled.amount - amount, max(settled.bookings - bookings, 0))
            credit_notes += [Document.of(note).number for note in notes]
    return {
        "job": "settle_operators",
        "processed": len(invoices) + len(credit_notes),
        "month": label,
        "invoices": invoices,
        "credit_notes": credit_notes,
    }


def _settled_pairs(ctx: Context, month: str, known: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (host, seller) pairs with a settlement of `month` that have no flow any more
    (one Get per pair of operators: a monthly job, a dozen operators)."""
    operators = sorted(ctx.catalogue.get(fresh=True).operators)
    return {
        (host, seller)
        for host in operators
        for seller in operators
        if host != seller
        and (host, seller) not in known
        and ctx.invoices.by_source(settlement_source(month, host, seller)) is not None
    }


class _Settled:
    """A (month, host, seller) settlement's documents so far: its invoices and its credit
    notes (their purchase entries written, once, if a crash left one out), what they
    settle net and for how many bookings. Every credit note of its invoices counts — a
    refused invoice's (`route_einvoices` credits it in full) too, so a refused month is
    invoiced again and never credited twice."""

    def __init__(self, ctx: Context, month: str, host_id: str, seller_id: str) -> None:
        self._ctx, self._month, self._host, self._seller = ctx, month, host_id, seller_id
        self.invoices = invoicing.documents_in_series(
            ctx, lambda n: settlement_source(month, host_id, seller_id, n)
        )
        self.notes = invoicing.documents_in_series(
            ctx, lambda n: settlement_credit_source(month, host_id, seller_id, n)
        )
        for document in self.invoices + self.notes:
            book_purchase(ctx, document, seller_id)
        # Per invoice: what its credit notes credited, and the bookings they did. Only two
        # kinds credit a settlement invoice: this series' and a refusal's (one, by source).
        self._credited = {Document.of(d).id: 0 for d in self.invoices}
        self._bookings_credited = dict(self._credited)
        refusals = [ctx.invoices.by_source(refusal_credit_source(id_)) for id_ in self._credited]
        refused = [invoicing.get_document(ctx, note_id) for note_id in refusals if note_id]
        for note in refused:  # booked when the refusal credited it; once, if a crash did not
            book_purchase(ctx, note, seller_id)
        for note in self.notes + refused:
            refers_to = str(note.get("refers_to") or "")
            if refers_to in self._credited:
                self._credited[refers_to] -= Document.of(note).totals.incl_vat
                self._bookings_credited[refers_to] += int(note.get("credited_bookings") or 0)
        self.amount = sum(
            Document.of(d).totals.incl_vat - self._credited[Document.of(d).id]
            for d in self.invoices
        )
        self.bookings = sum(self._bookings_left(d) for d in self.invoices)

    def _bookings_left(self, invoice: dict[str, Any]) -> int:
        typed = Document.of(invoice)
        if self._credited[typed.id] >= typed.totals.incl_vat:
            return 0  # credited in full (by this series or a refusal)
        return max(int(invoice.get("settled_bookings") or 0) - self._bookings_credited[typed.id], 0)

    def credit(self, amount: int, bookings: int) -> list[dict[str, Any]]:
        """Credit `amount` (and `bookings`) on the latest invoices first, each up to what
        its credit notes left of it; answers the credit notes issued."""
        issued: list[dict[str, Any]] = []
        for invoice in reversed(self.invoices):
            if amount <= 0:
                break
            typed = Document.of(invoice)
            share = min(amount, typed.totals.incl_vat - self._credited[typed.id])
            if share <= 0:
                continue
            booked = min(bookings, self._bookings_left(invoice))
            note = invoicing.credit_note(
                self._ctx,
                invoice,
                source=settlement_credit_source(
                    self._month, self._host, self._seller, len(self.notes) + len(issued) + 1
                ),
                amount=share,
                payment={
                    "status": "due",
                    "method": "transfer",
                    "paid_at": None,
                    "provider_ref": None,
                    "due_date": _due_date(self._ctx).isoformat(),
                },
                extra={"credited_bookings": booked},
                partial_label=PARTIAL_CREDIT_LABEL,
            )
            book_purchase(self._ctx, note, self._seller)
            # What the invoice asks for drops by it (its transfer is recorded as a
            # company's: `company_payments`); once per note, so a rerun is harmless.
            self._ctx.companies.open_payment_state(invoice)
            credit = Document.of(note)
            self._ctx.companies.apply_credit_note(typed.id, credit.id, -credit.totals.incl_vat)
            issued.append(note)
            self._credited[typed.id] += share
            self._bookings_credited[typed.id] += booked
            amount, bookings = amount - share, bookings - booked
        return issued


def _due_date(ctx: Context) -> date:
    """A document issued now is due (paid, or deducted) in `PAYMENT_DAYS`."""
    return ctx.clock.now().astimezone(PARIS).date() + timedelta(days=PAYMENT_DAYS)


def book_purchase(ctx: Context, document: dict[str, Any], seller_id: str) -> None:
    """The seller's purchase entry (`HA`) of a settlement invoice or credit note the host
    issued to it (a credit note's mirrors what its invoice deducted); once."""
    books = accounting_settings.settings_for(ctx, seller_id, fresh=False)
    typed = Document.of(document)
    franchise = get_operator(ctx, seller_id).vat_regime is VatRegime.franchise
    if typed.is_credit_note and typed.refers_to:  # the mirror of what its invoice deducted
        franchise = not _deducted(ctx, seller_id, typed.refers_to, franchise)
    entry = purchase_entry(typed, seller_id, books, buyer_franchise=franchise)
    periods.book(ctx, entry)


def _deducted(ctx: Context, seller_id: str, invoice_id: str, franchise_now: bool) -> bool:
    """Whether the seller's purchase entry of `invoice_id` deducted its VAT (a line beside
    the purchase and the supplier's), read from its books of the invoice's year; as the
    seller's regime now says when the entry is not found there."""
    parsed = parse_document_id(invoice_id)
    year = parsed[1] if parsed else ctx.clock.now().astimezone(PARIS).year
    lines = [
        line for line in ctx.invoices.ledger(seller_id, year) if line.entry_id == f"{invoice_id}-HA"
    ]
    return len(lines) > 2 if lines else not franchise_now


def issue_settlement(
    ctx: Context,
    month: str,
    host_id: str,
    seller_id: str,
    amount_incl_vat: int,
    bookings: int,
    last_day: date,
    number: int = 1,
) -> dict[str, Any]:
    """The host's invoice to the seller for the month's usage (`number`: its first, or a
    further one for usage added since), and the seller's entry."""
    host, seller = get_operator(ctx, host_id), get_operator(ctx, seller_id)
    franchise = host.vat_regime.value == "franchise"
    line = document_line(settlement_sale(month, amount_incl_vat, bookings, last_day), franchise)
    buyer = {
        "name": seller.name,
        "company_name": seller.name,
        "siren": seller.siren,
        "vat_number": seller.vat_number,
        "address": seller.address.model_dump(mode="json"),
        "email": seller.email,
    }
    document = invoicing.issue(
        ctx,
        operator_id=host_id,
        source=settlement_source(month, host_id, seller_id, number),
        buyer=buyer,
        member_id=None,
        lines=[line],
        payment={"status": "due", "method": "transfer", "due_date": _due_date(ctx).isoformat()},
        extra={"settled_bookings": bookings, "buyer_operator_id": seller_id},
    )
    book_purchase(ctx, document, seller_id)
    # What it asks for, lowered by its credit notes, paid by the transfers the host's
    # accountant records (`company_payments`), as a company invoice's.
    ctx.companies.open_payment_state(document)
    return document
