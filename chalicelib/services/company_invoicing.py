"""A company's monthly B2B invoice, and the credit notes of its bookings cancelled after it.

- `invoice_companies` (monthly, and by hand with `as_of`) issues, for each company, the
  invoice of the month before `as_of` — one line per billed booking (see
  `companies.month_bookings`) — once per company and month (source `company-{id}-{yyyy-mm}`).
  A booking the month gains after its invoice (the month invoiced early by a run with a
  future `as_of`; a relay whose month ends after Paris's) is billed by a later run on a
  further invoice of that month (`…-2`, `-3`: each booking on one invoice only); every run
  also looks at the month before its own for such bookings.
- A company booking cancelled in time (or by a closure, or an erasure in time) after its
  month was invoiced gets a credit note to the company: its invoice line negated, same
  buyer (B2B mentions), same numbering series, `refers_to` the monthly invoice, its sales
  entry reversed in the VE journal. One credit note per cancelled line, ever: its source
  is `company-credit-{invoice}-{booking}`, claimed once by the issuing transaction, so
  retries and concurrent cancels (and the invoicing run that raced a cancel) share it.
  The credit note lowers what the invoice asks for (`apply_credit_note`).
- A booking cancelled while its month's invoice was being issued may be on the invoice:
  the run credits, after issuing, every line whose booking has left the month index since.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.company import (
    PARIS,
    Company,
    booking_sale,
    invoice_source,
    month_key,
    payment_due_date,
    previous_month,
)
from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import Sale, document_lines, negated_line
from chalicelib.errors import RelaisError
from chalicelib.services import companies, invoicing, members, run_budget
from chalicelib.services.catalogue import get_operator
from chalicelib.services.context import Context

logger = logging.getLogger("relais.companies")

# A run by hand (the API's 30 s) starts companies for this long; the scheduled function
# has 15 minutes (.chalice/config.json) and uses them (run_budget).
RUN_SECONDS = 20.0


def invoice_companies(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    """Issue every company's invoice for the month before `as_of` (Europe/Paris), once.

    Idempotent: a company-month that already has its invoice is left as it is (a re-run
    only finishes what a crashed run may have left undone). A failing company does not
    stop the others; it is named in `failed` and the next run retries it. A run starts no
    company once its time is spent (services/run_budget.py): those are `deferred`, and
    the next run of the night (every 15 minutes, 02:00-03:45 UTC on the 1st) takes them."""
    year, month = previous_month(as_of or ctx.clock.now())
    before = previous_month(datetime(year, month, 1, 12, tzinfo=PARIS))
    issued: list[str] = []
    late: list[str] = []
    already = deferred = 0
    failed: list[dict[str, str]] = []
    deadline = run_budget.deadline(RUN_SECONDS)
    for company in ctx.companies.all():
        if time.monotonic() > deadline:
            deferred += 1
            continue
        try:
            if invoice_company_month(ctx, company, *before) == "issued":
                late.append(company.id)
            outcome = invoice_company_month(ctx, company, year, month)
        except RelaisError as exc:
            logger.exception("Company %s: invoice for %s failed", company.id, (year, month))
            failed.append({"company_id": company.id, "error": exc.detail})
            continue
        if outcome == "issued":
            issued.append(company.id)
        elif outcome == "already_invoiced":
            already += 1
    return {
        "job": "invoice_companies",
        "processed": len(issued),
        "month": month_key(year, month),
        "companies_invoiced": issued,
        # Invoiced again for bookings the month before gained after its invoice.
        "companies_invoiced_late": late,
        "already_invoiced": already,
        "deferred": deferred,
        "failed": failed,
    }


def invoice_company_month(ctx: Context, company: Company, year: int, month: int) -> str:
    """`issued` (the month's invoice, or a further one for bookings it gained since),
    `already_invoiced` or `nothing_to_invoice`."""
    invoices = companies.month_invoices(ctx, company.id, year, month)
    for invoice in invoices:  # a crashed run's work finished first
        _finish(ctx, invoice)
        credit_lines_cancelled_meanwhile(ctx, invoice)
    invoiced = {line.booking_id for i in invoices for line in Document.of(i).lines}
    bookings = [
        b for b in companies.month_bookings(ctx, company.id, year, month) if b.id not in invoiced
    ]
    if not bookings:
        return "already_invoiced" if invoices else "nothing_to_invoice"
    source = invoice_source(company.id, year, month, len(invoices) + 1)
    operator = get_operator(ctx, company.operator_id)
    franchise = operator.vat_regime.value == "franchise"
    sold = document_lines([_sale(ctx, b) for b in bookings], franchise)
    lines = [{**line, "booking_id": b.id} for line, b in zip(sold, bookings, strict=True)]
    issued_on = ctx.clock.now().astimezone(PARIS).date()
    document = invoicing.issue(
        ctx,
        operator_id=company.operator_id,
        source=source,
        buyer=company.buyer(),
        member_id=None,
        lines=lines,
        payment={
            "status": "due",
            "method": "transfer",
            "paid_at": None,
            "provider_ref": None,
            "due_date": payment_due_date(year, month, issued_on).isoformat(),
        },
        extra={"company_id": company.id, "billing_month": month_key(year, month)},
    )
    _finish(ctx, document)
    credit_lines_cancelled_meanwhile(ctx, document)
    return "issued"


def _finish(ctx: Context, document: dict[str, Any]) -> None:
    """After issuing: each booking points at the invoice, then the paid-amount record
    opens (last, so its presence says the rest was done)."""
    accounts, typed = ctx.companies, Document.of(document)
    if accounts.payment_state(typed.id) is not None:
        return
    for line in typed.lines:
        if line.booking_id:
            ctx.bookings.set_invoice(line.booking_id, typed.id)
    accounts.open_payment_state(document)


def _sale(ctx: Context, booking: Booking) -> Sale:
    catalogue = ctx.catalogue.get()
    relay = catalogue.relays.get(booking.relay_id)
    resource = catalogue.resources.get(booking.resource_id)
    profile = members.profile(ctx, booking.member_id) or {}
    return booking_sale(
        booking,
        relay=relay.name if relay else booking.relay_id,
        resource=resource.name if resource else booking.resource_id,
        employee=profile.get("name") or booking.member_id,
        tz=relay.timezone if relay else "Europe/Paris",
    )


# -- credit notes ---------------------------------------------------------------------


def credit_source(invoice_id: str, booking_id: str) -> str:
    """The source that makes a cancelled line's credit note unique."""
    return f"company-credit-{invoice_id}-{booking_id}"


def credit_cancelled_booking(ctx: Context, booking: Booking) -> dict[str, Any] | None:
    """The credit note of a company booking cancelled in time after its month was
    invoiced (issued once; later calls return it), or None: not a company booking, not
    cancelled, cancelled late (still billed), or on none of its month's invoices."""
    if not booking.company_id:
        return None
    fresh = ctx.bookings.get(booking.id)
    if fresh is None or fresh.status is not BookingStatus.cancelled:
        return None
    if companies.in_month_index(ctx, fresh):
        return None  # cancelled late: the day stays billed
    year, month = booking.date.year, booking.date.month
    for invoice in companies.month_invoices(ctx, booking.company_id, year, month):
        note = _credit_line(ctx, invoice, booking.id)
        if note is not None:
            return note
    return None  # not invoiced (yet): the month's invoices will not list it


def credit_lines_cancelled_meanwhile(ctx: Context, invoice: dict[str, Any]) -> list[str]:
    """Credit the lines of `invoice` whose booking was cancelled in time while it was
    being issued (they left the month index since). Answers the credit note ids."""
    typed = Document.of(invoice)
    booked = {line.booking_id for line in typed.lines if line.booking_id}
    year, month = (int(part) for part in str(typed.billing_month).split("-"))
    listed = set(ctx.companies.booking_ids(str(typed.company_id), year, month))
    credited = []
    for booking in ctx.companies.bookings(sorted(booked - listed)):
        if booking.status is BookingStatus.cancelled:
            note = _credit_line(ctx, invoice, booking.id)
            if note is not None:
                credited.append(Document.of(note).id)
    return credited


def _credit_line(ctx: Context, invoice: dict[str, Any], booking_id: str) -> dict[str, Any] | None:
    typed = Document.of(invoice)
    line = next((ln for ln in typed.lines if ln.booking_id == booking_id), None)
    if line is None:
        return None
    _finish(ctx, invoice)  # the payment state exists before a credit lowers it
    note = invoicing.issue(
        ctx,
        operator_id=typed.operator_id,
        source=credit_source(typed.id, booking_id),
        buyer=invoice["buyer"],  # copied as issued, its key order too
        member_id=None,
        lines=[negated_line(line.canonical())],
        payment={
            "status": "due",
            "method": typed.payment.method or "transfer",
            "paid_at": None,
            "provider_ref": None,
            "due_date": typed.payment.due_date,
        },
        refers_to=invoice,
        extra={
            "company_id": typed.company_id,
            "billing_month": typed.billing_month,
            "booking_id": booking_id,
        },
    )
    issued = Document.of(note)
    ctx.companies.apply_credit_note(typed.id, issued.id, -issued.totals.incl_vat)
    return note
