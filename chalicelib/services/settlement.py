"""Settlement invoices between operators, at month end (domain/settlement.py says who
invoices whom and why): the month's clearing flows (services/clearing.py), one invoice
per (host, seller) issued by the host to the seller, and the seller's purchase entry."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import document_line
from chalicelib.domain.settlement import purchase_entry, settlement_sale, settlement_source
from chalicelib.domain.timezones import PARIS
from chalicelib.services import accounting_settings, invoicing, periods
from chalicelib.services.catalogue import get_operator
from chalicelib.services.clearing import clearing
from chalicelib.services.context import Context

PAYMENT_DAYS = 30  # the invoice is due 30 days after issue, by transfer


def settle_operators(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    """The job: the settlement invoices of the month just ended (Paris time) at `as_of`.
    Idempotent: an invoice already issued for a (month, host, seller) is not issued
    again, and its purchase entry is written once."""
    today = (as_of or ctx.clock.now()).astimezone(PARIS).date()
    ended = today.replace(day=1) - timedelta(days=1)
    return settle_month(ctx, ended.year, ended.month)


def settle_month(ctx: Context, year: int, month: int) -> dict[str, Any]:
    label = f"{year:04d}-{month:02d}"
    last_day = date(year, month, calendar.monthrange(year, month)[1])
    numbers = []
    for flow in clearing(ctx, year, month)["flows"]:
        document = issue_settlement(
            ctx,
            label,
            flow["host_operator_id"],
            flow["seller_operator_id"],
            int(flow["amount"]),
            int(flow["bookings"]),
            last_day,
        )
        numbers.append(Document.of(document).number)
    return {
        "job": "settle_operators",
        "processed": len(numbers),
        "month": label,
        "invoices": numbers,
    }


def issue_settlement(
    ctx: Context,
    month: str,
    host_id: str,
    seller_id: str,
    amount_incl_vat: int,
    bookings: int,
    last_day: date,
) -> dict[str, Any]:
    """The host's invoice to the seller for the month's usage, and the seller's entry."""
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
    due = ctx.clock.now().astimezone(PARIS).date() + timedelta(days=PAYMENT_DAYS)
    document = invoicing.issue(
        ctx,
        operator_id=host_id,
        source=settlement_source(month, host_id, seller_id),
        buyer=buyer,
        member_id=None,
        lines=[line],
        payment={"status": "due", "method": "transfer", "due_date": due.isoformat()},
    )
    books = accounting_settings.settings_for(ctx, seller_id, fresh=False)
    periods.book(ctx, purchase_entry(Document.of(document), seller_id, books))
    return document
