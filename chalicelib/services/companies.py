"""Company accounts: a company pays for its employees' bookings, on one B2B invoice a month.

- An employee's `payment: "company"` booking is confirmed at once; the booking
  transaction also writes the company-month index entry (`booking_items`), and a
  cancellation in time removes it (`release_items`), so a company-month is one exact
  Query. A late cancellation keeps its entry: like a card payment, it is not given back,
  so the day stays on the company's invoice.
- The monthly invoice and the credit notes of bookings cancelled after it are issued by
  `company_invoicing`.
- The invoice is issued "due" and never changes; transfers and SEPA debits recorded by
  an accountant are kept beside it (`record_company_payment`), each written to the bank
  journal, until it is paid in full (`company_invoice_paid`, `unpaid_company_invoices`).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.adapters.company_store import (
    PaymentRecorded,
    PaymentStateMoved,
)
from chalicelib.auth import Principal
from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.company import (
    BILLABLE,
    PARIS,
    Company,
    CompanyDetail,
    CompanyMember,
    NewCompany,
    end_of_month,
    invoice_source,
    month_key,
    payment_entry,
    vat_share,
)
from chalicelib.domain.documents import Document
from chalicelib.domain.identifiers import derived_id, new_id
from chalicelib.domain.invoice import parse_document_id
from chalicelib.errors import (
    AlreadyExists,
    ConcurrentUpdate,
    Forbidden,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from chalicelib.services import audit, invoicing, members, periods
from chalicelib.services.catalogue import get_operator
from chalicelib.services.context import Context

logger = logging.getLogger("relais.companies")
# What a company pays for: the seat was given (used or not), or given back too late.
BILLED = BILLABLE | {BookingStatus.cancelled}
PAYMENT_ATTEMPTS = 8
PAYMENT_METHODS = ("transfer", "sepa_debit")


# -- accounts -----------------------------------------------------------------------


def create_company(ctx: Context, principal: Principal, new: NewCompany) -> Company:
    principal.require_admin()
    get_operator(ctx, new.operator_id)
    company = Company(**new.model_dump(), id=new_id("cmp"), created_at=ctx.clock.now())
    ctx.companies.add(company)
    audit.record(ctx, principal, "create", "company", company.id, operator_id=company.operator_id)
    return company


def get_company(ctx: Context, company_id: str) -> Company:
    company = ctx.companies.get(company_id)
    if company is None:
        raise NotFound(f"No company with id {company_id!r}.")
    return company


def company_detail(ctx: Context, principal: Principal, company_id: str) -> CompanyDetail:
    principal.require_books_access()
    company = get_company(ctx, company_id)
    return CompanyDetail(**company.model_dump(), members=ctx.companies.members(company_id))


def add_member(
    ctx: Context, principal: Principal, company_id: str, member_id: str
) -> CompanyMember:
    """Attach a member (any `sub`, known or not yet) to a company: once, to one company."""
    principal.require_admin()
    added = ctx.companies.add_member(company_id, member_id, ctx.clock.now())
    audit.record(
        ctx,
        principal,
        "create",
        "company_member",
        member_id,
        changes={"company_id": [None, company_id]},
    )
    return added


def company_of(ctx: Context, member_id: str) -> Company | None:
    company_id = ctx.companies.company_id_of(member_id)
    return ctx.companies.get(company_id) if company_id else None


def company_for_booking(ctx: Context, principal: Principal) -> Company:
    """The company that pays the caller's `payment: "company"` booking; 403 if none.
    The employee's profile is written once, for the name on the company's invoice."""
    company = company_of(ctx, principal.sub)
    if company is None or not company.active:
        raise Forbidden("You are not attached to an active company account.")
    members.ensure_profile(ctx, principal)
    return company


def booking_items(ctx: Context, booking: Booking) -> list[dict[str, Any]]:
    """Items for `BookingStore.create(..., extra=)`; empty unless a company pays."""
    return ctx.companies.company_booking_items(booking)


def release_items(ctx: Context, booking: Booking, to: BookingStatus) -> list[dict[str, Any]]:
    """Items for `BookingStore.release(..., extra=)`; empty unless a company booking
    is cancelled or expires."""
    return ctx.companies.company_release_items(booking, to)


# -- monthly statement and invoice ----------------------------------------------------


def month_bookings(ctx: Context, company_id: str, year: int, month: int) -> list[Booking]:
    """The company's billed bookings dated in that month, in order: those still in the
    month index (cancelled in time ones have left it; cancelled late ones are billed)."""
    companies = ctx.companies
    found = companies.bookings(companies.booking_ids(company_id, year, month))
    kept = [b for b in found if b.company_id == company_id and b.status in BILLED]
    return sorted(kept, key=lambda b: (b.date, b.start, b.id))


def in_month_index(ctx: Context, booking: Booking) -> bool:
    """Whether a company booking is still billed (cancelled late) or left the index."""
    assert booking.company_id
    ids = ctx.companies.booking_ids(booking.company_id, booking.date.year, booking.date.month)
    return booking.id in ids


def statement(ctx: Context, company_id: str, year: int, month: int) -> dict[str, Any]:
    """The company's bookings dated in the month and, once issued, their invoice (with
    what has been paid of it)."""
    get_company(ctx, company_id)
    bookings = month_bookings(ctx, company_id, year, month)
    document_id = ctx.invoices.by_source(invoice_source(company_id, year, month))
    invoice = invoicing.get_document(ctx, document_id) if document_id else None
    state = ctx.companies.payment_state(document_id) if document_id else None
    return {
        "company_id": company_id,
        "month": month_key(year, month),
        "bookings": [b.public() for b in bookings],
        "invoice": invoice,
        "invoice_payment": state,
    }


# -- payments received for company invoices --------------------------------------------


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
        state = _state(ctx, invoice)
        if state["status"] == "paid":
            raise InvalidState(f"Invoice {typed.number} is already paid in full.")
        if amount > state["amount_remaining"]:
            raise ValidationFailed(
                f"The amount exceeds what remains due ({state['amount_remaining']} cents).",
                field="amount",
            )
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
            "vat": vat_share(invoice, amount, state["amount_paid"]),
        }
        try:
            companies.record_payment(record, state["amount_paid"], state["amount_due"])
        except (PaymentRecorded, PaymentStateMoved):
            continue  # a concurrent payment: read again (a same-reference one is a replay)
        _write_ledger(ctx, invoice, record)
        return {"payment": _public(record), "invoice": companies.payment_state(invoice_id)}
    raise ConcurrentUpdate("The invoice's payments kept changing; please retry.")


def _company_invoice(ctx: Context, invoice_id: str) -> dict[str, Any]:
    if parse_document_id(invoice_id) is None:
        raise NotFound(f"No invoice with id {invoice_id!r}.")
    invoice = invoicing.get_document(ctx, invoice_id)
    typed = Document.of(invoice)
    if typed.is_credit_note or not typed.company_id:
        raise InvalidState("Payments are recorded here for company invoices only.")
    return invoice


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
    lines = payment_entry(
        invoice,
        payment_id=str(record["id"]),
        amount=int(record["amount"]),
        paid_on=date.fromisoformat(str(record["paid_on"])),
        reference=str(record["reference"]),
        method=str(record["method"]),
        recorded_at=datetime.fromisoformat(str(record["recorded_at"])),
    )
    periods.book(ctx, lines)  # once; a closed month's entry lands in the first open one


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
    return bool((document.get("payment") or {}).get("status") == "paid")


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
    """VAT carried by the company payments received in a month, per rate: what the VAT
    report adds for company invoices (VAT on services is due when paid)."""
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
