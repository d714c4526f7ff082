"""Company accounts: a company pays for its employees' bookings, on one B2B invoice a month.

- An employee's `payment: "company"` booking is confirmed at once; the booking
  transaction also writes the company-month index entry (`booking_items`), and a
  cancellation in time removes it (`release_items`), so a company-month is one exact
  Query. A late cancellation keeps its entry: like a card payment, it is not given back,
  so the day stays on the company's invoice.
- The monthly invoice and the credit notes of bookings cancelled after it are issued by
  `company_invoicing`.
- The invoice is issued "due" and never changes; the payments received for it are
  `company_payments`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.audit import created
from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.company import (
    BILLABLE,
    Company,
    CompanyDetail,
    CompanyMember,
    NewCompany,
    invoice_source,
    month_key,
)
from chalicelib.domain.editing import as_json
from chalicelib.domain.identifiers import new_id
from chalicelib.errors import (
    Forbidden,
    NotFound,
)
from chalicelib.services import audit, invoicing, members
from chalicelib.services.catalogue import get_operator
from chalicelib.services.context import Context

# What a company pays for: the seat was given (used or not), or given back too late.
BILLED = BILLABLE | {BookingStatus.cancelled}


# -- accounts -----------------------------------------------------------------------


def create_company(ctx: Context, principal: Principal, new: NewCompany) -> Company:
    principal.require_admin()
    get_operator(ctx, new.operator_id)
    company = Company(**new.model_dump(), id=new_id("cmp"), created_at=ctx.clock.now())
    ctx.companies.add(company)
    audit.record(
        ctx,
        principal,
        "create",
        "company",
        company.id,
        operator_id=company.operator_id,
        changes=created(as_json(company)),
    )
    return company


def get_company(ctx: Context, company_id: str) -> Company:
    company = ctx.companies.get(company_id)
    if company is None:
        raise NotFound(f"No company with id {company_id!r}.")
    return company


def company_detail(ctx: Context, principal: Principal, company_id: str) -> CompanyDetail:
    principal.require_books_access()
    return with_members(ctx, get_company(ctx, company_id))


def with_members(ctx: Context, company: Company) -> CompanyDetail:
    """The company as `GET /v1/companies/{id}` and its `PATCH` answer it: with its members."""
    return CompanyDetail(**company.model_dump(), members=ctx.companies.members(company.id))


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


def month_invoices(ctx: Context, company_id: str, year: int, month: int) -> list[dict[str, Any]]:
    """The month's invoices, in order: its first, then those of bookings added after."""
    return invoicing.documents_in_series(
        ctx, lambda number: invoice_source(company_id, year, month, number)
    )


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
    invoices = month_invoices(ctx, company_id, year, month)
    first = invoices[0] if invoices else None
    return {
        "company_id": company_id,
        "month": month_key(year, month),
        "bookings": [b.public() for b in bookings],
        "invoice": first,
        "invoice_payment": ctx.companies.payment_state(first["id"]) if first else None,
        "later_invoices": invoices[1:],
    }
