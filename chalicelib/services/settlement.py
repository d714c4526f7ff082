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
    """The job: the settlement invoices of the month just ended (Paris time) at `as_of`,
    and those of usage the month before gained after it was settled (a month settled
    early by a run with a future `as_of`). Idempotent: what is settled is not settled
    again, and each invoice's purchase entry is written once."""
    today = (as_of or ctx.clock.now()).astimezone(PARIS).date()
    ended = today.replace(day=1) - timedelta(days=1)
    before = ended.replace(day=1) - timedelta(days=1)
    late = settle_month(ctx, before.year, before.month)["invoices"]
    report = settle_month(ctx, ended.year, ended.month)
    return {**report, "processed": report["processed"] + len(late), "late_invoices": late}


def settle_month(ctx: Context, year: int, month: int) -> dict[str, Any]:
    """Settle each (host, seller) flow of the month: what its invoices so far leave
    unsettled (all of it at first) on one more invoice. A flow that shrank since (a
    booking cancelled in time after the month was settled) is not credited."""
    label = f"{year:04d}-{month:02d}"
    last_day = date(year, month, calendar.monthrange(year, month)[1])
    numbers = []
    for flow in clearing(ctx, year, month)["flows"]:
        host_id, seller_id = flow["host_operator_id"], flow["seller_operator_id"]
        issued = _settlements(ctx, label, host_id, seller_id)
        for document in issued:  # a crashed run's purchase entry, written once
            _book_purchase(ctx, document, seller_id)
        settled = sum(Document.of(d).totals.incl_vat for d in issued)
        counted = sum(int(d.get("settled_bookings") or 0) for d in issued)
        if int(flow["amount"]) <= settled:
            continue
        document = issue_settlement(
            ctx,
            label,
            host_id,
            seller_id,
            int(flow["amount"]) - settled,
            max(int(flow["bookings"]) - counted, 0),
            last_day,
            number=len(issued) + 1,
        )
        numbers.append(Document.of(document).number)
    return {
        "job": "settle_operators",
        "processed": len(numbers),
        "month": label,
        "invoices": numbers,
    }


def _settlements(ctx: Context, month: str, host_id: str, seller_id: str) -> list[dict[str, Any]]:
    return invoicing.documents_in_series(
        ctx, lambda number: settlement_source(month, host_id, seller_id, number)
    )


def _book_purchase(ctx: Context, document: dict[str, Any], seller_id: str) -> None:
    books = accounting_settings.settings_for(ctx, seller_id, fresh=False)
    periods.book(ctx, purchase_entry(Document.of(document), seller_id, books))


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
    due = ctx.clock.now().astimezone(PARIS).date() + timedelta(days=PAYMENT_DAYS)
    document = invoicing.issue(
        ctx,
        operator_id=host_id,
        source=settlement_source(month, host_id, seller_id, number),
        buyer=buyer,
        member_id=None,
        lines=[line],
        payment={"status": "due", "method": "transfer", "due_date": due.isoformat()},
        extra={"settled_bookings": bookings},
    )
    _book_purchase(ctx, document, seller_id)
    return document
