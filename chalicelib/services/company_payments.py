"""Payments received for company invoices: an invoice is issued "due" and never changes;
the transfers and SEPA debits an accountant records are kept beside it
(`record_company_payment`), each written to the bank journal with the VAT it carries, until
it is paid in full (`company_invoice_paid`, `unpaid_company_invoices`); the VAT report adds
what they carried (`vat_received`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.adapters.company_store import (
    PaymentRecorded,
    PaymentStateMoved,
)
from chalicelib.auth import Principal
from chalicelib.domain import periods as period_rules
from chalicelib.domain.company import (
    PARIS,
    end_of_month,
    payment_entry,
    vat_share,
)
from chalicelib.domain.documents import Document, VatLine
from chalicelib.domain.identifiers import derived_id
from chalicelib.domain.invoice import parse_document_id
from chalicelib.domain.settlement import supplier_payment_entry
from chalicelib.errors import (
    AlreadyExists,
    ConcurrentUpdate,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from chalicelib.services import accounting_settings, audit, invoicing, periods
from chalicelib.services.context import Context

PAYMENT_ATTEMPTS = 8
PAYMENT_METHODS = ("transfer", "sepa_debit")


def record_company_payment(
    ctx: Context,
    principal: Principal,
    invoice_id: str,
    amount: int,
    method: str,
    paid_at: date | datetime,
    reference: str,
) -> dict[str, Any]:
    """Record a bank transfer or SEPA debit received for a company invoice.

    Writes the bank entry (D 512 / C 411) and the payment beside the frozen invoice.
    Idempotent per reference: the same reference with the same figures answers the
    recorded payment again (and rewrites its ledger lines, same keys); with other
    figures it is refused (409 `already_exists`)."""
    principal.require_books_access()
    if amount <= 0:
        raise ValidationFailed("The amount must be a positive number of cents.", field="amount")
    if method not in PAYMENT_METHODS:
        raise ValidationFailed("The method must be transfer or sepa_debit.", field="method")
    reference = reference.strip()
    if not reference:
        raise ValidationFailed("A payment needs its bank reference.", field="reference")
    invoice = _company_invoice(ctx, invoice_id)
    typed = Document.of(invoice)
    paid_on = paid_at.astimezone(PARIS).date() if isinstance(paid_at, datetime) else paid_at
    today = ctx.clock.now().astimezone(PARIS).date()
    if paid_on > today:
        raise ValidationFailed("A payment cannot be received in the future.", field="paid_at")
    if paid_on < date.fromisoformat(typed.issued_on):
        raise ValidationFailed(
            "The payment predates the invoice; check the date or the invoice.", field="paid_at"
        )
    figures = (amount, method, paid_on.isoformat())
    companies = ctx.companies
    for _attempt in range(PAYMENT_ATTEMPTS):
        existing = companies.payment(invoice_id, reference)
        if existing is not None:
            return _replay(ctx, invoice, existing, figures)
        state = _state(ctx, invoice)  # read before what it depends on: its write checks it
        if state["status"] == "paid":
            raise InvalidState(f"Invoice {typed.number} is already paid in full.")
        if amount > state["amount_remaining"]:
            raise ValidationFailed(
                f"The amount exceeds what remains due ({state['amount_remaining']} cents).",
                field="amount",
            )
        # Its VAT is declared in the month it was received, or the first open one after
        # it (a closed month's report never changes): indexed by that day, and the write
        # fails if that month closes meanwhile (then read again).
        first = periods.open_from(ctx, typed.operator_id)
        vat_month = max(period_rules.month_of(paid_on), first)
        vat_on = paid_on if period_rules.month_of(paid_on) == vat_month else None
        record = {
            "id": derived_id("cpay", invoice_id, reference),
            "invoice_id": invoice_id,
            "number": typed.number,
            "company_id": typed.company_id,
            "operator_id": typed.operator_id,
            "amount": amount,
            "currency": "EUR",
            "method": method,
            "paid_at": _text(paid_at),
            "paid_on": paid_on.isoformat(),
            "reference": reference,
            "recorded_at": ctx.clock.now().isoformat(),
            "recorded_by": principal.sub,
            "vat": vat_share(
                typed,
                amount,
                state["amount_paid"],
                credited=_credited(ctx, invoice_id),
                received=[v for p in companies.payments_of(invoice_id) for v in p.get("vat") or []],
            ),
            "vat_on": (vat_on or period_rules.first_day(vat_month)).isoformat(),
        }
        check = ctx.periods.open_check(typed.operator_id, vat_month)
        trail = audit.creation_items(
            ctx, principal, "payment", str(record["id"]), typed.operator_id, _public(record)
        )
        try:
            companies.record_payment(
                record, state["amount_paid"], state["amount_due"], [check], extra=trail
            )
        except (PaymentRecorded, PaymentStateMoved):
            # a concurrent payment, credit note or close: read again (the status and the
            # amount left are decided from what is read; same reference: a replay)
            continue
        _write_ledger(ctx, invoice, record)
        return {"payment": _public(record), "invoice": companies.payment_state(invoice_id)}
    raise ConcurrentUpdate("The invoice's payments kept changing; please retry.")


def _company_invoice(ctx: Context, invoice_id: str) -> dict[str, Any]:
    if parse_document_id(invoice_id) is None:
        raise NotFound(f"No invoice with id {invoice_id!r}.")
    invoice = invoicing.get_document(ctx, invoice_id)
    typed = Document.of(invoice)
    # A company's monthly invoice, or a settlement invoice between operators: the invoices
    # issued due, paid by transfer (a card or membership invoice is paid at issue).
    if typed.is_credit_note or not (typed.company_id or _settlement(invoice)):
        raise InvalidState(
            "Payments are recorded here for invoices due by transfer only (a company's, "
            "or a settlement between operators)."
        )
    return invoice


def _settlement(invoice: dict[str, Any]) -> bool:
    """A host's invoice to a seller for its members' usage (`settled_bookings`)."""
    return "settled_bookings" in invoice and invoice.get("payment", {}).get("status") == "due"


def _credited(ctx: Context, invoice_id: str) -> list[VatLine]:
    """The VAT breakdowns of the credit notes applied to a company invoice (negative)."""
    return [
        line
        for note_id in ctx.companies.credit_notes_applied(invoice_id)
        for line in Document.of(invoicing.get_document(ctx, note_id)).vat_breakdown
    ]


def _state(ctx: Context, invoice: dict[str, Any]) -> dict[str, Any]:
    companies, invoice_id = ctx.companies, Document.of(invoice).id
    state = companies.payment_state(invoice_id)
    if state is None:  # issued by a run that stopped before opening it
        companies.open_payment_state(invoice)
        state = companies.payment_state(invoice_id)
    assert state is not None
    return state


def _replay(
    ctx: Context,
    invoice: dict[str, Any],
    existing: dict[str, Any],
    figures: tuple[int, str, str],
) -> dict[str, Any]:
    if (int(existing["amount"]), existing["method"], existing["paid_on"]) != figures:
        raise AlreadyExists(
            f"A payment with reference {existing['reference']!r} is already recorded for "
            "this invoice, with other figures."
        )
    _write_ledger(ctx, invoice, existing)  # same keys: heals a crash after the record
    invoice_id = Document.of(invoice).id
    return {"payment": _public(existing), "invoice": ctx.companies.payment_state(invoice_id)}


def _write_ledger(ctx: Context, invoice: dict[str, Any], record: dict[str, Any]) -> None:
    document = Document.of(invoice)
    books = accounting_settings.settings_for(ctx, document.operator_id, fresh=False)
    lines = payment_entry(
        document,
        payment_id=str(record["id"]),
        amount=int(record["amount"]),
        paid_on=date.fromisoformat(str(record["paid_on"])),
        reference=str(record["reference"]),
        method=str(record["method"]),
        recorded_at=datetime.fromisoformat(str(record["recorded_at"])),
        chart=books.chart,
        journals=books.journals,
    )
    periods.book(ctx, lines)  # once; a closed month's entry lands in the first open one
    buyer = document.buyer_operator_id
    if buyer:  # a settlement invoice: the transfer is the buyer operator's payment too
        buyer_books = accounting_settings.settings_for(ctx, buyer, fresh=False)
        periods.book(
            ctx,
            supplier_payment_entry(
                document,
                buyer,
                payment_id=str(record["id"]),
                amount=int(record["amount"]),
                paid_on=date.fromisoformat(str(record["paid_on"])),
                reference=str(record["reference"]),
                recorded_at=datetime.fromisoformat(str(record["recorded_at"])),
                books=buyer_books,
            ),
        )


def _public(record: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "invoice_id",
        "number",
        "company_id",
        "operator_id",
        "amount",
        "currency",
        "method",
        "paid_at",
        "paid_on",
        "reference",
        "recorded_at",
        "recorded_by",
    )
    public = {k: record.get(k) for k in keys}
    public["amount"] = int(record["amount"])
    return public


def _text(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def company_invoice_paid(ctx: Context, invoice_id: str) -> bool:
    """Whether a document is paid: a company invoice once payments cover it in full,
    any other document as its frozen `payment.status` says."""
    state = ctx.companies.payment_state(invoice_id)
    if state is not None:
        return bool(state["status"] == "paid")
    try:
        document = invoicing.get_document(ctx, invoice_id)
    except NotFound:
        return False
    return Document.of(document).payment.status == "paid"


def invoice_payment_state(ctx: Context, invoice_id: str) -> dict[str, Any] | None:
    """`{amount_due, amount_paid, amount_remaining, status, due_date, ...}` of a company
    invoice, or None for another document."""
    return ctx.companies.payment_state(invoice_id)


def unpaid_company_invoices(
    ctx: Context, operator_id: str, span: tuple[date | None, date | None] = (None, None)
) -> list[dict[str, Any]]:
    """An operator's company invoices not yet paid in full, issued within `span`
    (one Query on a sparse index), each with `overdue` as of today."""
    low = span[0].isoformat() if span[0] else "0000"
    high = span[1].isoformat() if span[1] else "9999"
    today = ctx.clock.now().astimezone(PARIS).date().isoformat()
    return [
        {**s, "overdue": bool(s["due_date"] and s["due_date"] < today)}
        for s in ctx.companies.unpaid(operator_id, low, high)
    ]


def vat_received(ctx: Context, operator_id: str, year: int, month: int) -> list[dict[str, Any]]:
    """VAT carried by the company payments declared in a month, per rate: what the VAT
    report adds for company invoices (VAT on services is due when paid; a payment dated
    in a month already closed is declared in the first open month, its `vat_on`)."""
    low = f"{year:04d}-{month:02d}-01"
    high = end_of_month(year, month).isoformat()
    sums: dict[str, list[int]] = {}
    for payment in ctx.companies.payments_received(operator_id, low, high):
        for share in payment.get("vat") or []:
            total = sums.setdefault(str(share["rate"]), [0, 0])
            total[0] += int(share["base"])
            total[1] += int(share["vat"])
    rates = sorted(sums, key=Decimal, reverse=True)
    return [{"rate": r, "base": sums[r][0], "vat": sums[r][1]} for r in rates]
