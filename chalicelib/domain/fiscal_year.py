"""An operator's fiscal year (exercice comptable): twelve months from its first month.

A fiscal year is named by the calendar year in which it ENDS, as French practice names
an exercise by its closing date (the FEC's file name carries that date, A47 A-1 IX): with
a start in July, fiscal year 2027 runs from 1 July 2026 to 30 June 2027. With the default
start (January) a fiscal year is the calendar year of the same number. Pure.
"""

from __future__ import annotations

import calendar
from datetime import date


def _check(start_month: int) -> None:
    if not 1 <= start_month <= 12:
        raise ValueError(f"a fiscal year starts in month 1 to 12, not {start_month!r}")


def fiscal_year_of(day: date, start_month: int = 1) -> int:
    """The fiscal year `day` (or the month of `day`) belongs to."""
    _check(start_month)
    if start_month == 1 or day.month < start_month:
        return day.year
    return day.year + 1


def fiscal_year_of_month(month: str, start_month: int = 1) -> int:
    """The fiscal year of a `YYYY-MM` month."""
    return fiscal_year_of(date(int(month[:4]), int(month[5:7]), 1), start_month)


def first_month(year: int, start_month: int = 1) -> str:
    """`YYYY-MM` of the first month of fiscal year `year`."""
    _check(start_month)
    first_year = year if start_month == 1 else year - 1
    return f"{first_year:04d}-{start_month:02d}"


def months_of(year: int, start_month: int = 1) -> list[str]:
    """The twelve `YYYY-MM` months of fiscal year `year`, in order."""
    first = first_month(year, start_month)
    y, m = int(first[:4]), int(first[5:7])
    found = []
    for _ in range(12):
        found.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return found


def bounds(year: int, start_month: int = 1) -> tuple[date, date]:
    """(first day, last day) of fiscal year `year`: the last day is its closing date."""
    months = months_of(year, start_month)
    first = date(int(months[0][:4]), int(months[0][5:7]), 1)
    last_y, last_m = int(months[-1][:4]), int(months[-1][5:7])
    return first, date(last_y, last_m, calendar.monthrange(last_y, last_m)[1])


def calendar_years(year: int, start_month: int = 1) -> list[int]:
    """The calendar years fiscal year `year` has days in (one, or two)."""
    first, last = bounds(year, start_month)
    return list(range(first.year, last.year + 1))


def is_first_month(month: str, start_month: int = 1) -> bool:
    return int(month[5:7]) == start_month


def is_last_month(month: str, start_month: int = 1) -> bool:
    return int(month[5:7]) == (start_month - 2) % 12 + 1
