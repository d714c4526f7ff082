"""Administering company accounts: list, edit (If-Match), remove an employee.

Removing an employee ends the company's promise to pay for them: their company bookings
from today on are cancelled (as a closure cancels: whatever the deadline; nothing was
charged, the company's month index drops them, the member gets the cancellation mail).
Turning them into personal bookings would need a payment the member never agreed to.
Past bookings stay on the company's monthly invoice. A booking the member makes while
the removal runs can slip in; it is billed to the company as any booking made while
attached, and an administrator can cancel it (a new removal does: see below).

The link goes first (from then on the member cannot book for the company), the sweep
after. A removal that died in between is finished by its retry: the link is gone, so
the retry answers 404 `not_found` (the member is no employee any more) but still sweeps
the member's future bookings billed to that company.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.adapters.versioned_store import company_key
from chalicelib.auth import Principal
from chalicelib.domain.booking import CANCELLABLE, Booking
from chalicelib.domain.catalogue import check_vat_number_of
from chalicelib.domain.catalogue_patches import CompanyPatch
from chalicelib.domain.company import Company
from chalicelib.domain.editing import (
    Expected,
    apply_patch,
    changed_fields,
    check_if_match,
    sent_fields,
)
from chalicelib.domain.timezones import PARIS
from chalicelib.errors import InvalidState, NotFound
from chalicelib.services import audit
from chalicelib.services.bookings import release_with_policy
from chalicelib.services.catalogue_edits import read, save
from chalicelib.services.context import Context

HORIZON_DAYS = 3660
PAGE = 100


def list_companies(
    ctx: Context, limit: int, cursor: str | None
) -> tuple[list[Company], str | None]:
    return ctx.company_admin.page(limit, cursor)


def get_company(ctx: Context, company_id: str) -> Company:
    return read(ctx, company_key(company_id), Company, "company")


def patch_company(
    ctx: Context,
    principal: Principal,
    company_id: str,
    if_match: str | Expected | None,
    patch: CompanyPatch,
) -> Company:
    """`if_match` (the raw header, or a version already read from one) is read once the
    company is known to exist (404 before 428), as for relays."""
    key = company_key(company_id)
    before = get_company(ctx, company_id)
    check_if_match(before.version, if_match)
    after = apply_patch(before, sent_fields(patch))
    check_vat_number_of(after.vat_number, after.siren, changed_fields(before, after))
    entry = audit.entry(
        ctx,
        principal,
        "update",
        "company",
        company_id,
        operator_id=before.operator_id,
        changes=changed_fields(before, after),
    )
    saved: Company = save(ctx, key, before, after, entry)
    return saved


def remove_member(
    ctx: Context, principal: Principal, company_id: str, member_id: str
) -> dict[str, Any]:
    company = get_company(ctx, company_id)
    try:
        unlink_employee(ctx, principal, company, member_id)
    except NotFound:
        # Not (or no longer) attached: a removal that died before its sweep is finished.
        cancel_company_bookings(ctx, member_id, company_id)
        raise
    cancelled = cancel_company_bookings(ctx, member_id, company_id)
    return {"company_id": company_id, "member_id": member_id, "cancelled_bookings": cancelled}


def unlink_employee(ctx: Context, principal: Principal, company: Company, member_id: str) -> None:
    """Detach the member from the company, with its audit entry, in one transaction
    (NotFound if they were not attached)."""
    entry = audit.entry(
        ctx,
        principal,
        "delete",
        "company_member",
        member_id,
        operator_id=company.operator_id,
        changes={"company_id": [company.id, None]},
    )
    ctx.company_admin.unlink(company.id, member_id, audit.entry_item(ctx, entry))


def cancel_company_bookings(ctx: Context, member_id: str, company_id: str) -> int:
    """Cancel the member's bookings billed to the company from today on: whatever the
    deadline (the company, not the member, ends the promise), nothing charged; answers
    how many this call cancelled. An erasure does not come here: it cancels per policy."""
    cancelled = 0
    for booking in _future_company_bookings(ctx, company_id, member_id):
        try:
            release_with_policy(ctx, booking, force_refund=True)
            cancelled += 1
        except InvalidState:
            continue  # cancelled or expired meanwhile
    return cancelled


def _future_company_bookings(ctx: Context, company_id: str, member_id: str) -> list[Booking]:
    today = ctx.clock.now().astimezone(PARIS).date()
    span = (today.isoformat(), (today + timedelta(days=HORIZON_DAYS)).isoformat())
    found: list[Booking] = []
    cursor: str | None = None
    while True:
        page, cursor = ctx.bookings.page_for_member(member_id, span, None, PAGE, cursor)
        found += [b for b in page if b.company_id == company_id and b.status in CANCELLABLE]
        if cursor is None:
            return found
