"""E-reporting (French reform, DGFiP external specifications v3.2, flux 10.1, 10.3, 10.4).

Sales to consumers are not e-invoiced: the seller reports them, aggregated, through its
accredited platform (PA). Two reports, one per file:

* transactions (flux 10.3): per day of issue, currency and category (`TPS1`: services
  subject to VAT), the amounts excluding VAT, the VAT, the number of documents and a
  subtotal per VAT rate. Credit notes count negatively on the day they are issued.
* payments (flux 10.4): per day of collection, the amount received (VAT included) per
  VAT rate. Only due when VAT on services is due on receipts (no `vat_on_debits` option).
  See `payment_days` for refunds.

A document is B2C when its buyer is a consumer (`domain.invoice.buyer_category`): a
French business is e-invoiced instead. A business of another EU state (B2BINT) is
reported invoice by invoice (flux 10.1, `international_sales`), in the same transactions
file and period as the B2C aggregates, and so is the money received for those sales
(flux 10.2, `international_payments`) in the payments file.
A report already produced is never edited: if a period's figures change, a corrective
report (`RE`) replaces it with the complete figures of the period.

Periods and deadlines depend on how the operator files its VAT returns: see `CALENDAR`.
"""

from __future__ import annotations

import calendar
import hashlib
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from chalicelib.domain.documents import Document, VatLine, business_process, vat_point
from chalicelib.domain.identifiers import fr_vat_number
from chalicelib.domain.invoice import buyer_category, buyer_country

ReportKind = Literal["transactions", "payments"]
SERVICES_CATEGORY = "TPS1"
# The operator's VAT situation as the e-reporting calendar distinguishes it.
Regime = Literal["normal_monthly", "normal_quarterly", "simplified", "franchise"]
Frequency = Literal["ten_days", "month", "two_months"]

# The e-reporting calendar: DGFiP external specifications (DSE) v3.2, table of the
# transmission frequencies of e-reporting data per VAT regime, which applies CGI annex II
# art. 242 nonies M/N as set by decree n° 2022-1299 of 7 October 2022. The table itself
# is not among the copies in einvoicing/ (only the flux 10 XSDs and schematron are);
# transcribed here:
#
#   VAT regime                      | transactions (10.1/10.3)         | payments (10.2/10.4)
#   réel normal mensuel             | by ten days (décade): 1-10,      | monthly, by the 10th
#                                   | 11-20, 21-end; due the 20th,     | of the next month
#                                   | the month's end, the 10th of M+1 |
#   réel normal trimestriel (opt.)  | monthly, by the 10th of M+1      | monthly, by the 10th of M+1
#   réel simplifié                  | monthly, between the 25th and    | monthly, same
#                                   | the 30th of M+1                  |
#   franchise en base               | every two months, between the    | every two months, same
#                                   | 25th and 30th of the month after |
#
# Deadlines "between the 25th and the 30th" vary per company: the earliest (25th) is
# shown. The job sends each period as soon as it has ended, well before its deadline.
CALENDAR: dict[Regime, dict[ReportKind, Frequency]] = {
    "normal_monthly": {"transactions": "ten_days", "payments": "month"},
    "normal_quarterly": {"transactions": "month", "payments": "month"},
    "simplified": {"transactions": "month", "payments": "month"},
    "franchise": {"transactions": "two_months", "payments": "two_months"},
}


@dataclass(frozen=True)
class RateTotal:
    rate: str  # "20.00"
    base: int  # cents, excluding VAT (transactions) or VAT included (payments)
    vat: int  # cents (0 in payments)


class _PerRate:
    """Amounts told per VAT rate (`rates`), and their totals."""

    rates: tuple[RateTotal, ...]

    @property
    def base(self) -> int:
        return sum(r.base for r in self.rates)

    @property
    def vat(self) -> int:
        return sum(r.vat for r in self.rates)


@dataclass(frozen=True)
class DayTotal(_PerRate):
    day: date
    currency: str
    rates: tuple[RateTotal, ...]
    count: int  # documents (transactions) or payments


@dataclass(frozen=True)
class InternationalSale(_PerRate):
    """Flux 10.1: one document issued to a business of another EU state, its amounts as
    the document states them (a credit note's positive, as its type says it credits)."""

    number: str
    issued_on: date
    type_code: str  # 380 invoice, 381 credit note
    currency: str
    business_process: str  # the document's own cadre de facturation: S2 paid, S1 due
    vat_due: str | None  # when its VAT is due, as the document says (5 debits, 72 receipt)
    refers_to: tuple[str, date] | None  # a credit note's invoice: number and date
    seller_siren: str
    seller_vat: str
    franchise: bool  # the seller is under art. 293 B CGI: no VAT (category E)
    buyer_vat: str
    buyer_country: str
    rates: tuple[RateTotal, ...]


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def is_b2c(document: Document) -> bool:
    return buyer_category(document.buyer.canonical()) == "B2C"


def international_sales(documents: list[Document], period: Period) -> list[InternationalSale]:
    """Flux 10.1: the documents issued in the period to a business of another EU state
    (`B2BINT`), one by one, in the order of their numbers."""
    sales = []
    for document in sorted(documents, key=lambda d: d.number):
        day = date.fromisoformat(document.issued_on)
        buyer = document.buyer.canonical()
        if buyer_category(buyer) != "B2BINT" or not period.contains(day):
            continue
        sign = -1 if document.is_credit_note else 1
        refers_to = None
        if document.is_credit_note and document.refers_to_number and document.refers_to_date:
            refers_to = (
                document.refers_to_number,
                date.fromisoformat(document.refers_to_date[:10]),
            )
        seller = document.seller
        siren = str(seller.siren or "")
        sales.append(
            InternationalSale(
                number=document.number,
                issued_on=day,
                type_code="381" if document.is_credit_note else "380",
                currency=document.currency or "EUR",
                business_process=business_process(document),
                vat_due=vat_point(seller),
                refers_to=refers_to,
                seller_siren=siren,
                seller_vat=seller.vat_number or (fr_vat_number(siren) if siren else ""),
                franchise=seller.vat_regime == "franchise",
                buyer_vat=str(buyer.get("vat_number") or "").upper(),
                buyer_country=buyer_country(buyer),
                rates=tuple(
                    RateTotal(row.rate, sign * row.base, sign * row.vat)
                    for row in sorted(document.vat_breakdown, key=lambda r: Decimal(r.rate))
                ),
            )
        )
    return sales


@dataclass(frozen=True)
class InternationalPayment(_PerRate):
    """Flux 10.2: what was received for one sale to a business of another EU state, per
    VAT rate, VAT included."""

    number: str
    issued_on: date
    paid_on: date
    currency: str
    rates: tuple[RateTotal, ...]  # base: received, VAT included; vat: 0


def international_payments(documents: list[Document], period: Period) -> list[InternationalPayment]:
    """Flux 10.2: the invoices to businesses of other EU states paid in the period, net of
    what was refunded (their credit notes paid back) in the period, per rate: only what
    was received and kept is reported (an invoice refunded in full is not). A refund
    beyond that, or of an invoice paid in an earlier period, cannot be told here (the
    schematron wants unsigned amounts, G1.16): `international_refunds_left_out`."""
    return _international_receipts(documents, period)[0]


def international_refunds_left_out(
    documents: list[Document], period: Period
) -> list[InternationalPayment]:
    """The refunds of the period that `international_payments` could not deduct (per
    credited invoice and rate, positive), for the VAT return."""
    return _international_receipts(documents, period)[1]


def _international_receipts(
    documents: list[Document], period: Period
) -> tuple[list[InternationalPayment], list[InternationalPayment]]:
    received: dict[str, InternationalPayment] = {}
    refunded: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for document in sorted(documents, key=lambda d: d.number):
        payment = document.payment
        if buyer_category(document.buyer.canonical()) != "B2BINT" or payment.status != "paid":
            continue
        paid_on = date.fromisoformat(payment.paid_at[:10]) if payment.paid_at else None
        if paid_on is None or not period.contains(paid_on):
            continue
        if document.is_credit_note:
            for row in document.vat_breakdown:
                refunded[str(document.refers_to_number)][row.rate] -= row.base + row.vat
            continue
        received[document.number] = InternationalPayment(
            number=document.number,
            issued_on=date.fromisoformat(document.issued_on),
            paid_on=paid_on,
            currency=document.currency or "EUR",
            rates=tuple(
                RateTotal(row.rate, row.base + row.vat, 0)
                for row in sorted(document.vat_breakdown, key=lambda r: Decimal(r.rate))
            ),
        )
    kept, left_out = [], []
    for number, paid in received.items():
        back = refunded.pop(number, {})
        rates = tuple(
            RateTotal(r.rate, r.base - back.get(r.rate, 0), 0)
            for r in paid.rates
            if r.base - back.get(r.rate, 0) > 0
        )
        beyond = {rate: amount - _paid_rate(paid, rate) for rate, amount in back.items()}
        if any(amount > 0 for amount in beyond.values()):
            left_out.append(_refund_of(paid.number, paid.issued_on, paid.paid_on, beyond))
        if rates:
            kept.append(replace(paid, rates=rates))
    for number, back in refunded.items():  # invoices paid before the period
        left_out.append(_refund_of(number, period.start, period.start, back))
    return kept, left_out


def _paid_rate(paid: InternationalPayment, rate: str) -> int:
    return sum(r.base for r in paid.rates if r.rate == rate)


def _refund_of(
    number: str, issued_on: date, day: date, amounts: dict[str, int]
) -> InternationalPayment:
    rates = tuple(RateTotal(rate, amount, 0) for rate, amount in amounts.items() if amount > 0)
    return InternationalPayment(number, issued_on, day, "EUR", rates)


def transaction_days(documents: list[Document], period: Period) -> list[DayTotal]:
    """Flux 10.3 aggregates: B2C documents issued in the period, per day and currency. A
    credit note (a refund) counts negatively on its day of issue: these amounts may be
    signed ("Le signe « - » devant le montant compte comme un caractère", G1.14)."""
    rows: list[tuple[date, str, tuple[VatLine, ...]]] = []
    for document in documents:
        day = date.fromisoformat(document.issued_on)
        if is_b2c(document) and period.contains(day):
            rows.append((day, document.currency or "EUR", document.vat_breakdown))
    return _aggregate(rows, vat_included=False)


def payment_days(documents: list[Document], period: Period) -> list[DayTotal]:
    """Flux 10.4 aggregates: per day and VAT rate, the money received on B2C documents,
    net of the refunds made that day at that rate (a refund is its credit note, paid on
    the day the money went back).

    The block carries "l'ensemble des encaissements perçus au titre d'une journée" (DSE
    v3.2 § 3.7.6), an amount the PPF schematron wants unsigned (G1.16 on TT-99, Annexe 7
    v1.8): a day whose refunds at a rate exceed what it received at that rate received
    nothing at it, and is reported so (the rate, or the day, left out). That refund is
    still reported: its credit note counts negatively in the day's transactions (flux
    10.3); `refunds_beyond_receipts` tells how much 10.4 leaves out."""
    return [
        DayTotal(day.day, day.currency, received, day.count)
        for day in _net_payment_days(documents, period)
        if (received := tuple(rate for rate in day.rates if rate.base > 0))
    ]


def refunds_beyond_receipts(documents: list[Document], period: Period) -> list[DayTotal]:
    """The days and rates whose refunds exceed their receipts, by how much (positive):
    what `payment_days` cannot report in flux 10.4."""
    return [
        DayTotal(day.day, day.currency, beyond, day.count)
        for day in _net_payment_days(documents, period)
        if (beyond := tuple(RateTotal(r.rate, -r.base, 0) for r in day.rates if r.base < 0))
    ]


def _net_payment_days(documents: list[Document], period: Period) -> list[DayTotal]:
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


def regime_of(vat_regime: str, vat_filing: str) -> Regime:
    """The calendar row of an operator: franchise, else how it files its VAT returns."""
    if vat_regime == "franchise":
        return "franchise"
    if vat_filing in ("normal_quarterly", "simplified"):
        return "normal_quarterly" if vat_filing == "normal_quarterly" else "simplified"
    return "normal_monthly"


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


def two_month_period(day: date) -> Period:
    """January-February, March-April, ... November-December."""
    first = day.month - (day.month - 1) % 2
    last = calendar.monthrange(day.year, first + 1)[1]
    return Period(date(day.year, first, 1), date(day.year, first + 1, last))


_PERIOD_OF = {"ten_days": ten_day_period, "month": month_period, "two_months": two_month_period}


def report_period(kind: ReportKind, day: date, regime: Regime = "normal_monthly") -> Period:
    return _PERIOD_OF[CALENDAR[regime][kind]](day)


def last_closed_period(kind: ReportKind, today: date, regime: Regime = "normal_monthly") -> Period:
    """The latest period of `kind` that ended before `today`."""
    current = report_period(kind, today, regime)
    return report_period(kind, current.start - timedelta(days=1), regime)


def closed_periods(
    kind: ReportKind, today: date, back: timedelta, regime: Regime = "normal_monthly"
) -> list[Period]:
    """The periods of `kind` ended before `today` that end on or after `today - back`."""
    periods: list[Period] = []
    period = last_closed_period(kind, today, regime)
    while period.end >= today - back:
        periods.append(period)
        period = last_closed_period(kind, period.start, regime)
    return periods[::-1]


def due_by(kind: ReportKind, period: Period, regime: Regime) -> date:
    """The last day to transmit the report of `period` (CALENDAR's table)."""
    after = period.end + timedelta(days=1)  # the 1st of the next month, or the 11th/21st
    if regime == "normal_monthly" and kind == "transactions" and period.end.day in (10, 20):
        # décades 1-10 and 11-20: ten days after, i.e. the 20th and the month's end
        return month_period(period.end).end if period.end.day == 20 else period.end.replace(day=20)
    if regime in ("normal_monthly", "normal_quarterly"):
        return after.replace(day=10)
    return after.replace(day=25)


def periods_to_report(candidates: list[Period], reported: set[Period]) -> list[Period]:
    """The calendar's closed periods (`candidates`), adjusted to what was already
    reported, perhaps under another frequency (the operator changed its VAT regime or
    filing): every reported period of the span keeps its bounds (a correction is of the
    same period); a candidate partly covered by reports starts the day after them (the
    rest of it, never a day twice); one covered to its end is left out."""
    if not candidates:
        return []
    since = min(period.start for period in candidates)
    chosen = {period for period in reported if period.end >= since}
    for period in candidates:
        overlapping = [r for r in reported if r.start <= period.end and r.end >= period.start]
        if not overlapping:
            chosen.add(period)
        elif max(r.end for r in overlapping) < period.end:
            chosen.add(Period(max(r.end for r in overlapping) + timedelta(days=1), period.end))
    return sorted(chosen, key=lambda period: period.start)


def figures_digest(
    days: list[DayTotal],
    sales: list[InternationalSale] | None = None,
    payments: list[InternationalPayment] | None = None,
) -> str:
    """A fingerprint of a report's figures: a new report is due only when it changes (a
    file without international sales keeps the fingerprint it had before they were)."""
    text = ";".join(
        f"{d.day}|{d.currency}|{d.count}|" + ",".join(f"{r.rate}:{r.base}:{r.vat}" for r in d.rates)
        for d in days
    )
    if sales:
        text += "#" + ";".join(
            f"{s.number}|{s.issued_on}|{s.type_code}|{s.buyer_vat}|"
            + ",".join(f"{r.rate}:{r.base}:{r.vat}" for r in s.rates)
            for s in sales
        )
    if payments:
        text += "$" + ";".join(
            f"{p.number}|{p.paid_on}|" + ",".join(f"{r.rate}:{r.base}" for r in p.rates)
            for p in payments
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
