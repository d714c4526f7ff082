"""The monthly settlement between operators (`GET /v1/accounting/clearing`)."""

from __future__ import annotations

import calendar
from typing import Any

from chalicelib.domain.booking import BookingStatus, credits_for
from chalicelib.domain.clearing import membership_usage_value, settle, usage_value
from chalicelib.services.context import Context

USED = {
    BookingStatus.confirmed,
    BookingStatus.checked_in,
    BookingStatus.completed,
    BookingStatus.no_show,
}


def clearing(ctx: Context, year: int, month: int) -> dict[str, Any]:
    """Credits, membership days and company bookings used in the month at a relay of an
    operator other than their seller's (for a company booking: the operator that invoices
    the company): by a booking that took place, or was cancelled too late to give them
    back (`cancelled_late`: its host held the seat and got nothing else; a company is
    billed for it)."""
    first = f"{year:04d}-{month:02d}-01"
    last = f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"
    catalogue = ctx.catalogue.get()
    company_operators: dict[str, str | None] = {}
    usages = []
    for relay in catalogue.relays.values():
        for booking in _bookings(ctx, relay.id, first, last):
            if booking.status not in USED and not booking.cancelled_late:
                continue
            if booking.membership_id:
                usages.extend(_membership_usage(ctx, booking, relay.operator_id))
            for draw in booking.credit_draws:
                usages.append(
                    (draw["operator_id"], relay.operator_id, usage_value(draw), booking.id)
                )
            if booking.company_id:
                seller = _company_operator(ctx, booking.company_id, company_operators)
                if seller is not None:
                    usages.append(
                        (seller, relay.operator_id, int(booking.price["amount"]), booking.id)
                    )
    return {"month": f"{year:04d}-{month:02d}", **settle(usages)}


def _company_operator(ctx: Context, company_id: str, known: dict[str, str | None]) -> str | None:
    """The operator that invoices the company (it collects the price of the company's
    bookings, VAT included, on its monthly invoice), read once a run."""
    if company_id not in known:
        company = ctx.companies.get(company_id)
        known[company_id] = company.operator_id if company else None
    return known[company_id]


def _membership_usage(ctx: Context, booking: Any, host: str) -> list[tuple[str, str, int, str]]:
    membership = ctx.memberships.get(booking.member_id, booking.membership_id)
    if membership is None:
        return []
    value = booking.membership_value
    if value is None:  # booked before bookings carried it
        days = credits_for(ctx.catalogue.resource(booking.resource_id), booking.unit)
        value = membership_usage_value(membership.amount, membership.days_per_period, days)
    return [(membership.operator_id, host, value, booking.id)]


def _bookings(ctx: Context, relay_id: str, first: str, last: str) -> list[Any]:
    found, cursor = [], None
    while True:
        page, cursor = ctx.bookings.page_for_relay(relay_id, (first, last), None, 100, cursor)
        found.extend(page)
        if cursor is None:
            return found


def clearing_csv(report: dict[str, Any]) -> str:
    rows = ["from_operator_id;to_operator_id;amount_eur"]
    for balance in report["balances"]:
        euros = f"{balance['amount'] / 100:.2f}".replace(".", ",")
        rows.append(f"{balance['from_operator_id']};{balance['to_operator_id']};{euros}")
    return "\r\n".join(rows) + "\r\n"
