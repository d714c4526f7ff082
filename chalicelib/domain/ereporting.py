"""B2C e-reporting (French reform, DGFiP external specifications v3.2, flux 10.3 and 10.4).

Sales to consumers are not e-invoiced: the seller reports them, aggregated, through its
accredited platform (PA). Two reports, one per file:

* transactions (flux 10.3): per day of issue, currency and category (`TPS1`: services
  subject to VAT), the amounts excluding VAT, the VAT, the number of documents and a
  subtotal per VAT rate. Credit notes count negatively on the day they are issued.
* payments (flux 10.4): per day of collection, the amount received (VAT included) per
  VAT rate. Only due when VAT on services is due on receipts (no `vat_on_debits` option).

A document is B2C when its buyer has no SIREN (a business buyer is e-invoiced instead).
A report already produced is never edited: if a period's figures change, a corrective
report (`RE`) replaces it with the complete figures of the period.

Periods (DSE table, réel normal): transactions by ten days (1-10, 11-20, 21-end of month),
payments by month.
"""

from __future__ import annotations

import calendar
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from chalicelib.domain.documents import Document, VatLine

ReportKind = Literal["transactions", "payments"]
SERVICES_CATEGORY = "TPS1"


@dataclass(frozen=True)
class RateTotal:
    rate: str  # "20.00"
    base: int  # cents, excluding VAT (transactions) or VAT included (payments)
    vat: int  # cents (0 in payments)


@dataclass(frozen=True)
class DayTotal:
    day: date
    currency: str
    rates: tuple[RateTotal, ...]
    count: int  # documents (transactions) or payments

    @property
    def base(self) -> int:
        return sum(r.base for r in self.rates)

    @property
    def vat(self) -> int:
        return sum(r.vat for r in self.rates)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def is_b2c(document: Document) -> bool:
    return not document.buyer.siren


def transaction_days(documents: list[Document], period: Period) -> list[DayTotal]:
    """Flux 10.3 aggregates: B2C documents issued in the period, per day and currency."""
    rows: list[tuple[date, str, tuple[VatLine, ...]]] = []
    for document in documents:
        day = date.fromisoformat(document.issued_on)
        if is_b2c(document) and period.contains(day):
            rows.append((day, document.currency or "EUR", document.vat_breakdown))
    return _aggregate(rows, vat_included=False)


def payment_days(documents: list[Document], period: Period) -> list[DayTotal]:
    """Flux 10.4 aggregates: money received (or refunded) on B2C documents in the period."""
    rows: list[tuple[date, str, tuple[VatLine, ...]]] = []
    for document in documents:
        payment = document.payment
        if not is_b2c(document) or payment.status != "paid" or not payment.paid_at:
            continue
        day = date.fromisoformat(payment.paid_at[:10])
        if period.contains(day):
            rows.append((day, document.currency or "EUR", document.vat_breakdown))
    return _aggregate(rows, vat_included=True)


def _aggregate(
    rows: list[tuple[date, str, tuple[VatLine, ...]]], vat_included: bool
) -> list[DayTotal]:
    bases: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    vats: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[tuple[date, str], int] = defaultdict(int)
    for day, currency, breakdown in rows:
        counts[day, currency] += 1
        for row in breakdown:
            base, vat = row.base, row.vat
            bases[day, currency][row.rate] += base + vat if vat_included else base
            vats[day, currency][row.rate] += 0 if vat_included else vat
    return [
        DayTotal(
            day=day,
            currency=currency,
            rates=tuple(
                RateTotal(rate, bases[day, currency][rate], vats[day, currency][rate])
                for rate in sorted(bases[day, currency], key=Decimal, reverse=True)
            ),
            count=counts[day, currency],
        )
        for day, currency in sorted(counts)
    ]


def ten_day_period(day: date) -> Period:
    """The décade holding `day`: 1-10, 11-20 or 21 to the end of the month."""
    last = calendar.monthrange(day.year, day.month)[1]
    if day.day <= 10:
        return Period(day.replace(day=1), day.replace(day=10))
    if day.day <= 20:
        return Period(day.replace(day=11), day.replace(day=20))
    return Period(day.replace(day=21), day.replace(day=last))


def month_period(day: date) -> Period:
    last = calendar.monthrange(day.year, day.month)[1]
    return Period(day.replace(day=1), day.replace(day=last))


def report_period(kind: ReportKind, day: date) -> Period:
    return ten_day_period(day) if kind == "transactions" else month_period(day)


def last_closed_period(kind: ReportKind, today: date) -> Period:
    """The latest period of `kind` that ended before `today`."""
    current = report_period(kind, today)
    return report_period(kind, date.fromordinal(current.start.toordinal() - 1))


def closed_periods(kind: ReportKind, today: date, back: timedelta) -> list[Period]:
    """The periods of `kind` ended before `today` that end on or after `today - back`."""
    periods: list[Period] = []
    period = last_closed_period(kind, today)
    while period.end >= today - back:
        periods.append(period)
        period = last_closed_period(kind, period.start)
    return periods[::-1]


def figures_digest(days: list[DayTotal]) -> str:
    """A fingerprint of a report's figures: a new report is due only when it changes."""
    text = ";".join(
        f"{d.day}|{d.currency}|{d.count}|" + ",".join(f"{r.rate}:{r.base}:{r.vat}" for r in d.rates)
        for d in days
    )
    return hashlib.sha256(text.encode()).hexdigest()


def next_type_code(previous_digests: list[str], digest: str) -> str | None:
    """IN for a period's first report, RE when its figures changed since, None if not."""
    if not previous_digests:
        return "IN"
    return None if previous_digests[-1] == digest else "RE"


def transmission_id(operator_siren: str, kind: ReportKind, period: Period, sequence: int) -> str:
    """A stable id of the n-th report of a kind and period (also the PA idempotency key)."""
    code = "TX" if kind == "transactions" else "PY"
    return f"{operator_siren}-{code}-{period.start:%Y%m%d}-{period.end:%Y%m%d}-{sequence:02d}"


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")
