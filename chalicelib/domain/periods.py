"""Accounting periods: calendar months of an operator's books, closed in order.

Pure rules: month arithmetic, which month may close, and where a late ledger entry is
booked. A closed month never receives an entry: an event dated in a closed month is
booked on the first day of the first open month and keeps its own date in its label
(and as its `PieceDate`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from chalicelib.domain.ledger import LedgerLine

MONTH_RE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
OPEN, CLOSING, CLOSED = "open", "closing", "closed"
ZERO_HASH = "0" * 64


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_day(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


def next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def months(first: str, last: str) -> list[str]:
    """Every month from `first` to `last`, both included (empty if last < first)."""
    found, month = [], first
    while month <= last:
        found.append(month)
        month = next_month(month)
    return found


def first_open(start: str, statuses: dict[str, str]) -> str:
    """The first month from `start` on that is neither closed nor being closed."""
    month = start
    while statuses.get(month, OPEN) != OPEN:
        month = next_month(month)
    return month


def refusal(
    month: str, start: str, current: str, statuses: dict[str, str], unreconciled: list[str]
) -> str | None:
    """Why `month` may not close now (None: it may). `unreconciled` lists the payouts of
    the month that are not reconciled (the caller leaves it empty when forcing)."""
    status = statuses.get(month, OPEN)
    if status == CLOSED:
        return f"The period {month} is already closed."
    if month >= current:
        return f"The period {month} is not over yet: only past months close."
    if month > start and statuses.get(previous_month(month), OPEN) != CLOSED:
        return f"The period {previous_month(month)} must be closed first."
    if unreconciled:
        return (
            f"Payouts of {month} are not reconciled: {', '.join(sorted(unreconciled))}. "
            "Reconcile them, or force the close with a reason."
        )
    return None


def place(lines: Iterable[LedgerLine], open_from: str) -> list[LedgerLine]:
    """The lines, each entry dated in `open_from` or later: an entry dated in an earlier
    (closed) month moves to the first day of `open_from`, its own date kept in its label."""
    placed = []
    target = first_day(open_from)
    for line in lines:
        if month_of(line.entry_date) >= open_from:
            placed.append(line)
            continue
        note = f" (du {line.entry_date.strftime('%d/%m/%Y')})"
        label = line.label[: 100 - len(note)] + note
        placed.append(replace(line, entry_date=target, label=label))
    return placed


def months_touched(lines: Iterable[LedgerLine]) -> set[str]:
    return {month_of(line.entry_date) for line in lines}
