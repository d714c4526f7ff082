"""Company accounts: a company (a SIREN) pays for its employees' bookings, invoiced monthly.

Pure rules, no I/O: the models the API accepts and answers, which month a run bills,
when a company invoice falls due, its lines, how a bank payment is booked, and which
share of an invoice's VAT a partial payment carries (VAT on services is due on receipt).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.bookkeeping import bank_entry, customer_account
from chalicelib.domain.catalogue import (
    Address,
    Model,
    MoneyMoment,
    NonEmpty,
    SingleLine,
    VatNumberIn,
    one_line,
)
from chalicelib.domain.documents import Document, VatLine
from chalicelib.domain.identifiers import EMAIL_PATTERN, is_valid_siren, is_valid_siret
from chalicelib.domain.invoice import Sale
from chalicelib.domain.ledger import Chart, JournalCodes, LedgerLine
from chalicelib.domain.money import price_from_incl_vat, round_half_up
from chalicelib.domain.timezones import PARIS

Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)]

# Company bookings that are billed: the seat was given (used or not), whatever happened next.
BILLABLE = frozenset(
    {
        BookingStatus.confirmed,
        BookingStatus.checked_in,
        BookingStatus.completed,
        BookingStatus.no_show,
    }
)
# Days a company has to pay when the invoice comes late (a catch-up run), and at most
# (article L441-10 of the Code de commerce: 60 days from the invoice date).
MIN_TERM_DAYS = 30
MAX_TERM_DAYS = 60

UNIT_LABELS = {
    "day": "Journée",
    "half_day_am": "Demi-journée (matin)",
    "half_day_pm": "Demi-journée (après-midi)",
}


class NewCompany(Model):
    name: NonEmpty
    siren: str
    vat_number: VatNumberIn | None = None
    billing_address: Address
    billing_email: Email
    operator_id: NonEmpty  # the operator that invoices the company
    # A public body (a commune, a public establishment): its invoices go through Chorus
    # Pro, which finds it by `siret` and routes them to `service_code` (BT-10), with the
    # commitment number `engagement_number` (BT-13) when its buyer gave one.
    public_body: bool = False
    siret: str | None = Field(default=None, validate_default=True)
    service_code: Annotated[str, SingleLine] | None = Field(
        default=None, min_length=1, max_length=100
    )
    engagement_number: Annotated[str, SingleLine] | None = Field(
        default=None, min_length=1, max_length=50
    )

    @field_validator("siren")
    @classmethod
    def _siren(cls, value: str) -> str:
        if not is_valid_siren(value):
            raise ValueError("must be 9 digits with a valid Luhn check digit")
        return value

    @field_validator("siret")
    @classmethod
    def _siret(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not is_valid_siret(value):
            raise ValueError("must be 14 digits with a valid Luhn check digit")
        check_public_buyer(bool(info.data.get("public_body")), info.data.get("siren"), value)
        return value


class Company(NewCompany):
    id: str
    vat_number: str | None = Field(default=None, max_length=20)  # checked as it entered
    billing_email: str = Field(max_length=254)  # checked as it entered (the rule tightened since)
    created_at: datetime
    active: bool = True  # inactive: its employees can no longer book with payment "company"
    version: int = 1

    @field_validator("name", "billing_address", "service_code", "engagement_number", mode="before")
    @classmethod
    def _stored_one_line(cls, value: Any) -> Any:
        return one_line(value)  # stored before control characters were refused

    def buyer(self) -> dict[str, Any]:
        """The buyer block of its invoices, frozen at issue time."""
        return {
            "name": self.name,
            "company_name": self.name,
            "siren": self.siren,
            "vat_number": self.vat_number,
            "address": self.billing_address.model_dump(mode="json"),
            "email": self.billing_email,
            **public_buyer_fields(self),
        }


def check_public_buyer(public_body: bool, siren: str | None, siret: str | None) -> None:
    """A public body needs its SIRET (Chorus Pro's key), and a SIRET is of the SIREN."""
    if public_body and not siret:
        raise ValueError("a public body needs its SIRET (Chorus Pro finds it by it)")
    if siret and siren and not siret.startswith(siren):
        raise ValueError("the SIRET must start with the SIREN")


def public_buyer_fields(company: Any) -> dict[str, Any]:
    """The buyer fields Chorus Pro needs, only when set (older invoices keep their shape)."""
    fields = {
        "public_body": True if company.public_body else None,
        "siret": company.siret,
        "service_code": company.service_code,
        "engagement_number": company.engagement_number,
    }
    return {name: value for name, value in fields.items() if value is not None}


class NewCompanyMember(Model):
    member_id: Annotated[str, Field(min_length=1, max_length=200)]


class CompanyMember(Model):
    company_id: str
    member_id: str
    added_at: datetime


class CompanyDetail(Company):
    members: list[CompanyMember] = []


class StatementQuery(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    month: str = Field(pattern=r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$")

    def year_month(self) -> tuple[int, int]:
        return int(self.month[:4]), int(self.month[5:])


class NewInvoicePayment(Model):
    """A bank transfer received, or a SEPA debit collected, for a company invoice."""

    amount: int = Field(gt=0, le=1_000_000_000)
    method: Literal["transfer", "sepa_debit"]
    paid_at: MoneyMoment
    reference: Annotated[str, Field(min_length=1, max_length=140), SingleLine]


class InvoicePaymentState(Model):
    invoice_id: str
    number: str
    company_id: str | None = None  # none on a settlement invoice between operators
    operator_id: str
    issued_at: str
    due_date: str | None = None
    amount_due: int
    amount_paid: int
    amount_remaining: int
    status: Literal["due", "partially_paid", "paid"]


class CompanyPayment(Model):
    id: str
    invoice_id: str
    number: str
    company_id: str | None = None  # none on a settlement invoice between operators
    operator_id: str
    amount: int
    currency: str = "EUR"
    method: Literal["transfer", "sepa_debit"]
    paid_at: str
    paid_on: date
    reference: str
    recorded_at: datetime
    recorded_by: str


class RecordedPayment(Model):
    payment: CompanyPayment
    invoice: InvoicePaymentState


class CompanyStatement(Model):
    company_id: str
    month: str
    bookings: list[dict[str, Any]]
    invoice: dict[str, Any] | None = None
    invoice_payment: InvoicePaymentState | None = None
    # Invoices of bookings the month gained after its invoice, oldest first.
    later_invoices: list[dict[str, Any]] = []


# -- months and terms ---------------------------------------------------------------


def previous_month(as_of: datetime) -> tuple[int, int]:
    """The month before `as_of`'s month, in Paris: what a run at `as_of` bills."""
    first = as_of.astimezone(PARIS).date().replace(day=1)
    last_of_previous = first - timedelta(days=1)
    return last_of_previous.year, last_of_previous.month


def month_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def invoice_source(company_id: str, year: int, month: int, number: int = 1) -> str:
    """The source that makes a company-month's invoice unique: its first, then `-2`, `-3`…
    for bookings the month gained after it was invoiced (a run with a future `as_of`, a
    relay whose month ends after Paris's)."""
    source = f"company-{company_id}-{month_key(year, month)}"
    return source if number == 1 else f"{source}-{number}"


def end_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def payment_due_date(year: int, month: int, issued_on: date) -> date:
    """The end of the month after the billed one; at least `MIN_TERM_DAYS` after a late
    (catch-up) invoice, and never more than the legal 60 days after the invoice date."""
    following = (year + month // 12, month % 12 + 1)
    due = max(end_of_month(*following), issued_on + timedelta(days=MIN_TERM_DAYS))
    return min(due, issued_on + timedelta(days=MAX_TERM_DAYS))


# -- invoice lines ------------------------------------------------------------------


def booking_sale(booking: Booking, relay: str, resource: str, employee: str, tz: str) -> Sale:
    """One invoice line per booking: its date, what and where, who; its price VAT incl."""
    zone = ZoneInfo(tz)
    when = UNIT_LABELS.get(booking.unit) or (
        f"{booking.start.astimezone(zone):%H:%M}–{booking.end.astimezone(zone):%H:%M}"
    )
    day = f"{booking.date:%d/%m/%Y}"
    return Sale(
        description=f"{day} — {when} — {resource}, {relay} — {employee}"[:300],
        amount_incl_vat=int(booking.price["amount"]),
        vat_rate=Decimal(str(booking.price["vat_rate"])),
        service_date=booking.date,
    )


def billable(bookings: list[Booking], company_id: str) -> list[Booking]:
    """The company's bookings that go on its invoice, in date and time order."""
    chosen = [b for b in bookings if b.company_id == company_id and b.status in BILLABLE]
    return sorted(chosen, key=lambda b: (b.date, b.start, b.id))


# -- payments -----------------------------------------------------------------------


def payment_status(amount_due: int, amount_paid: int) -> Literal["due", "partially_paid", "paid"]:
    if amount_paid >= amount_due:
        return "paid"
    return "partially_paid" if amount_paid > 0 else "due"


def payment_entry(
    invoice: Document,
    *,
    payment_id: str,
    amount: int,
    paid_on: date,
    reference: str,
    method: str,
    recorded_at: datetime,
    chart: Chart | None = None,
    journals: JournalCodes | None = None,
) -> list[LedgerLine]:
    """BQ: D 512 bank / C 411 customer — a transfer or a SEPA debit lands in the bank
    account itself, not in the Stripe clearing account."""
    chart = chart or Chart()
    codes = journals or JournalCodes()
    customer, buyer = customer_account(invoice)
    how = "Prélèvement" if method == "sepa_debit" else "Virement"
    return bank_entry(
        chart,
        codes,
        invoice.operator_id,
        f"{invoice.id}-{payment_id}",
        paid_on,
        f"{how} {invoice.number} {buyer}"[:100],
        chart.bank,
        chart.customers,
        amount,
        reference[:100],
        recorded_at,
        aux=(chart.customers, customer, buyer[:100]),
    )


def vat_share(
    invoice: Document,
    amount: int,
    paid_before: int = 0,
    credited: Sequence[VatLine] = (),
    received: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The bases and VAT a payment of `amount` carries: pro rata of what the invoice asks
    for at each rate once its credit notes (`credited`: their VAT breakdowns, negative)
    took theirs (a company's cancelled booking: its own line's rate only).

    Computed as the difference of cumulative shares; the payment that settles the invoice
    carries exactly what the earlier ones (`received`: their shares as recorded) left of
    each rate, so that the payments add up to what was due, per rate, whatever the
    rounding of each and whenever a credit note came."""
    due = _due_per_rate(invoice, credited)
    total = sum(base + vat for base, vat in due.values())
    if paid_before + amount >= total:
        left = {rate: list(pair) for rate, pair in due.items()}
        for share in received:
            pair = left.setdefault(str(share["rate"]), [0, 0])
            pair[0] -= int(share["base"])
            pair[1] -= int(share["vat"])
        return [
            {"rate": rate, "base": base, "vat": vat}
            for rate, (base, vat) in left.items()
            if rate in due or base or vat
        ]
    after = _cumulative_share(due, total, paid_before + amount)
    before = _cumulative_share(due, total, paid_before)
    return [
        {"rate": rate, "base": base - before[rate][0], "vat": vat - before[rate][1]}
        for rate, (base, vat) in after.items()
    ]


def _due_per_rate(invoice: Document, credited: Sequence[VatLine]) -> dict[str, tuple[int, int]]:
    """(base, VAT) the invoice asks for at each rate, less its credit notes'; a rate they
    credited in full is left out."""
    due = {line.rate: [line.base, line.vat] for line in invoice.vat_breakdown}
    for line in credited:  # a note credits the invoice's own lines: its rates
        pair = due.setdefault(line.rate, [0, 0])
        pair[0] += line.base
        pair[1] += line.vat
    return {rate: (base, vat) for rate, (base, vat) in due.items() if base or vat}


def _cumulative_share(
    due: Mapping[str, tuple[int, int]], total: int, paid: int
) -> dict[str, tuple[int, int]]:
    """The share of `paid` (less than `total`) in each rate of `due`, pro rata."""
    shares: dict[str, tuple[int, int]] = {}
    left = max(paid, 0)
    for index, (rate, (base, vat)) in enumerate(due.items()):
        last = index == len(due) - 1
        part = left if last else min(left, round_half_up(Decimal(paid) * (base + vat) / total))
        left -= part
        price = price_from_incl_vat(part, Decimal(rate))
        shares[rate] = (price.amount_excl_vat, price.vat_amount)
    return shares
