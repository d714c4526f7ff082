"""Accounting periods of an operator: listing them, and booking writes in open ones.

Every ledger writer goes through `placement` (documents) or `book` (entries without a
document): each entry dated in a closed month is moved to the first open month, and the
write carries a check, in its own transaction, that every month it lands in is still
open. A close racing the write makes the write fail; it is placed again and retried.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.adapters.invoice_store import BookedPeriods
from chalicelib.adapters.period_store import PeriodMoved
from chalicelib.domain import periods as rules
from chalicelib.domain.catalogue import Operator
from chalicelib.domain.fiscal_year import calendar_years, fiscal_year_of, months_of
from chalicelib.domain.ledger import LedgerLine
from chalicelib.errors import ConcurrentUpdate
from chalicelib.services.context import Context

PARIS = ZoneInfo("Europe/Paris")
BOOK_ATTEMPTS = 6


def start_month(operator: Operator) -> str:
    """The operator's first period: `accounting_start`, else the month it was created."""
    if operator.accounting_start:
        return operator.accounting_start
    return operator.created_at.astimezone(PARIS).strftime("%Y-%m")


def current_month(ctx: Context) -> str:
    return ctx.clock.now().astimezone(PARIS).strftime("%Y-%m")


def statuses(ctx: Context, operator_id: str) -> dict[str, str]:
    return {month: str(item["status"]) for month, item in ctx.periods.periods(operator_id).items()}


def open_from(ctx: Context, operator_id: str) -> str:
    """The first month of the operator's books that is neither closed nor closing."""
    known = statuses(ctx, operator_id)
    if not known:
        return "0001-01"  # nothing closed: every month is open
    return rules.first_open(min(known), known)


def placement(
    ctx: Context,
    operator_id: str,
    lines: list[LedgerLine],
    paid_on: date | None,
    issued: date,
    first: str,
) -> tuple[list[LedgerLine], BookedPeriods]:
    """A document's ledger lines placed in open months (`first`: the first one, as
    `open_from` read it; the checks returned fail the write if one closed since), and
    where the document is booked: `period` (its sales entry's month) and `vat_period`
    (the month its VAT is declared in: the month it was paid, or the first open month
    after it)."""
    placed = rules.place(lines, first)
    period = max(rules.month_of(issued), first)
    vat_period = max(rules.month_of(paid_on), first) if paid_on else None
    months = rules.months_touched(placed) | {period} | ({vat_period} if vat_period else set())
    periods = ctx.periods
    checks = [periods.open_check(operator_id, month) for month in sorted(months)]
    return placed, BookedPeriods(period=period, vat_period=vat_period, checks=checks)


def book(ctx: Context, lines: list[LedgerLine]) -> bool:
    """Write entries that come without a document (fees, payouts, transfers) into open
    months, once. False: they were already written."""
    if not lines:
        return True
    operators = {line.operator_id for line in lines}
    if len(operators) != 1:
        raise ValueError(f"entries of several operators in one write: {sorted(operators)}")
    operator_id = lines[0].operator_id
    ledger, periods = ctx.invoices, ctx.periods
    for _attempt in range(BOOK_ATTEMPTS):
        placed = rules.place(lines, open_from(ctx, operator_id))
        checks = [periods.open_check(operator_id, m) for m in sorted(rules.months_touched(placed))]
        try:
            return ledger.add_ledger(placed, checks)
        except PeriodMoved:
            continue  # a month closed meanwhile: place the entries again
    raise ConcurrentUpdate("The accounting periods kept closing; please retry.")


def period_view(operator_id: str, month: str, item: dict[str, Any] | None) -> dict[str, Any]:
    item = item or {}
    view: dict[str, Any] = {
        "operator_id": operator_id,
        "period": month,
        "status": "closed" if item.get("status") == rules.CLOSED else "open",
    }
    if view["status"] == "closed":
        for key in ("closed_at", "closed_by", "archive_sha256", "previous_archive_sha256"):
            view[key] = item.get(key)
        view["forced"] = bool(item.get("forced"))
        if item.get("force_reason"):
            view["force_reason"] = item["force_reason"]
    return view


def list_periods(
    ctx: Context, operator: Operator, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Oldest first, from the first period to the current month; the cursor is the
    month to start from."""
    known = ctx.periods.periods(operator.id)
    first = max(start_month(operator), cursor) if cursor else start_month(operator)
    every = rules.months(first, current_month(ctx))
    page, rest = every[:limit], every[limit:]
    return {
        "items": [period_view(operator.id, m, known.get(m)) for m in page],
        "next_cursor": rest[0] if rest else None,
    }


def paris_day(value: str | datetime) -> date:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        return when.date()
    return when.astimezone(PARIS).date()


def fiscal_lines(ctx: Context, operator_id: str, year: int, start_month: int) -> list[LedgerLine]:
    """The ledger lines of fiscal year `year` (named by the year it ends in), in date
    order: one calendar year of the ledger, or the two it spans."""
    found: list[LedgerLine] = []
    for each in calendar_years(year, start_month):
        found.extend(ctx.invoices.ledger(operator_id, each))
    if start_month == 1:
        return found
    return [line for line in found if fiscal_year_of(line.entry_date, start_month) == year]


# On a period closed since the FEC's `ValidDate` is the recording day (domain/fec.py).
VALID_DATES = "fec_valid_dates"
RECORDING_DAY = "recording_day"


def legacy_validation_days(
    ctx: Context, operator_id: str, year: int, start_month: int
) -> dict[str, date]:
    """The close day of each month of fiscal year `year` closed while a closed month's
    entries showed it as their `ValidDate` (no `VALID_DATES` on its item): kept, so the
    FEC lines of a closed month never change."""
    months = set(months_of(year, start_month))
    return {
        month: day
        for month, item in ctx.periods.periods(operator_id).items()
        if month in months and (day := legacy_validation_day(item)) is not None
    }


def legacy_validation_day(item: dict[str, Any]) -> date | None:
    """A closed period's close day when it was closed under the old `ValidDate` rule."""
    if item.get("status") != rules.CLOSED or item.get(VALID_DATES) == RECORDING_DAY:
        return None
    return paris_day(str(item["closed_at"]))
