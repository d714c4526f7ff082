"""The network catalogue: operators (legal entities), relays, resources, products.

These pydantic models are both what the API accepts (`New*`) and what is stored
and answered (the entities). Validation rules that are business rules (SIREN,
invoice prefix, opening hours, rates) live here.

Names, address lines and other one-line texts refuse control characters (a line break
in a relay's name would go into mail subjects and calendar properties); an entity
stored before that rule is read with each of them turned into a space (`one_line`).
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from chalicelib.domain.identifiers import (
    COUNTRY_CODES,
    EMAIL_PATTERN,
    VAT_NUMBER_RULE,
    country_code,
    is_valid_siren,
    is_valid_siret,
    vat_number,
)
from chalicelib.domain.money import Price, parse_vat_rate, price_from_incl_vat
from chalicelib.domain.schedule import OpeningHours, day_labels, parse_day_hours
from chalicelib.errors import ValidationFailed

MAX_OPENING_EXCEPTIONS = 400
# The days a relay's calendar (exceptions, closures) may name: as dates in queries, 2000
# to 2100 (the calendar's own ends overflow date arithmetic: 422, not 500).
YEARS_2000_2100 = "^(20[0-9]{2}|2100)-"
CalendarDay = Annotated[
    dt.date,
    Field(
        ge=dt.date(2000, 1, 1),
        le=dt.date(2100, 12, 31),
        description="A day, `YYYY-MM-DD`, from 2000-01-01 to 2100-12-31.",
        # The bounds as the document states them (a `format: date` alone allows year 0083).
        json_schema_extra={"pattern": YEARS_2000_2100},
    ),
]


def _years_2000_2100(value: dt.date) -> dt.date:
    if not 2000 <= value.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return value


# When money moved (a transfer, a debit): a day, or an RFC 3339 moment with its offset,
# in the years 2000 to 2100 (a moment at the calendar's ends overflows once moved to
# Paris's time: 422, not 500).
MoneyMoment = Annotated[
    AwareDatetime | dt.date,
    AfterValidator(_years_2000_2100),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time", "pattern": YEARS_2000_2100},
                {"type": "string", "format": "date", "pattern": YEARS_2000_2100},
            ]
        }
    ),
]
# "HH:MM" on a 30-minute mark, "24:00" as an end (the schedule checks the order).
ClockTime = Annotated[str, Field(pattern=r"^(([01][0-9]|2[0-3]):[03]0|24:00)$")]

_PREFIX = re.compile(r"^[A-Z0-9]{2,10}$")


def _checked_vat_number(value: str, info: ValidationInfo) -> str:
    """`identifiers.vat_number`: compact, valid, and an FR one of the SIREN given before
    it in the same body (if any)."""
    siren = (info.data or {}).get("siren")
    return vat_number(value, siren if isinstance(siren, str) else None)


def check_vat_number_of(vat: str | None, siren: str, changed: dict[str, Any] | Any) -> None:
    """After an edit that changed `vat_number` or `siren` (`changed`: the changed fields):
    an FR VAT number must be the SIREN's, else 422 naming `vat_number`."""
    if not vat or not ({"vat_number", "siren"} & set(changed)):
        return
    try:
        vat_number(vat, siren)
    except ValueError as exc:
        raise ValidationFailed(f"vat_number {exc}", field="vat_number") from exc


# A VAT number as it enters (bodies of creations, edits, billing profiles); stored
# entities keep a plain string, so a number stored before this check still reads.
VatNumberIn = Annotated[
    str,
    Field(max_length=20, description=VAT_NUMBER_RULE, examples=["FR96552100554"]),
    AfterValidator(_checked_vat_number),
]


class Model(BaseModel):
    model_config = ConfigDict(
        defer_build=True, extra="ignore", frozen=True, str_strip_whitespace=True
    )


# C0 and C1 control characters (line breaks, tabs, NUL...), the Unicode line and
# paragraph separators, and the non-characters U+FFFE and U+FFFF (not XML 1.0 characters:
# a name holding one would break its invoice's CII and PDF): none belongs in a one-line text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be one line, without control characters (line breaks, tabs)")
    return value


# What `str_strip_whitespace` strips at either end (Rust's `char::is_whitespace`, the
# Unicode White_Space set), as a regex class body: a line break there is accepted.
BLANKS = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff"


def single_line_pattern(min_length: int = 0, max_length: int | None = None) -> str:
    """`_single_line` after the stripping, as a JSON Schema pattern, for a text of at least
    `min_length` and at most `max_length` characters once stripped (a schema's own
    `minLength`/`maxLength` would count the blanks the server strips): blanks at either
    end, no control character between, the first and last kept characters neither blank
    nor control."""
    blank, kept, edge = f"[{BLANKS}]*", f"[^{_CONTROLS}]", f"[^{_CONTROLS}{BLANKS}]"
    if max_length is None:
        if min_length <= 0:
            return f"^{blank}{kept}*{blank}$"
        if min_length == 1:
            return f"^{blank}{edge}(?:{kept}*{edge})?{blank}$"
        return f"^{blank}{edge}{kept}{{{min_length - 2},}}{edge}{blank}$"
    if max_length <= 1:
        core = edge if min_length >= 1 else f"{edge}?"
        return f"^{blank}{core}{blank}$"
    inner = f"{kept}{{{max(min_length - 2, 0)},{max_length - 2}}}"
    if min_length >= 2:
        return f"^{blank}{edge}{inner}{edge}{blank}$"
    text = f"{edge}(?:{inner}{edge})?"
    return f"^{blank}{text}{blank}$" if min_length == 1 else f"^{blank}(?:{text})?{blank}$"


SINGLE_LINE_PATTERN = single_line_pattern()


class _SingleLineText:
    """A one-line text as it enters: refused (422) with a control character in it; its
    schema carries `SINGLE_LINE_PATTERN`."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_single_line, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = SINGLE_LINE_PATTERN
        return json_schema


SingleLine = _SingleLineText()
NonEmpty = Annotated[str, Field(min_length=1, max_length=200), SingleLine]


def one_line(value: Any) -> Any:
    """A stored text (or the texts of a stored address, list) as one line: each control
    character a space. For entities stored before control characters were refused."""
    if isinstance(value, str):
        return _CONTROL.sub(" ", value).strip() if _CONTROL.search(value) else value
    if isinstance(value, dict):
        return {key: one_line(item) for key, item in value.items()}
    if isinstance(value, list):
        return [one_line(item) for item in value]
    return value


class _Nested(Model):
    """A value inside an object (address, location, rates): an unknown key in it is
    refused (422 naming it), never dropped — `rates.hours` must not remove the hour rate."""

    model_config = ConfigDict(extra="forbid")


class Address(_Nested):
    line1: NonEmpty
    line2: Annotated[str, Field(max_length=200), SingleLine] | None = None
    postcode: Annotated[str, Field(min_length=2, max_length=12), SingleLine]
    city: NonEmpty
    country: Annotated[
        str,
        AfterValidator(country_code),
        Field(json_schema_extra={"enum": sorted(COUNTRY_CODES)}),  # lower case accepted too
    ] = "FR"


class Location(_Nested):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)

    @field_validator("lat", "lon")
    @classmethod
    def _centimetre(cls, value: float) -> float:
        # 1e-7 degree is about a centimetre; DynamoDB cannot store numbers below 1e-130.
        return round(value, 7)


class VatRegime(StrEnum):
    normal = "normal"
    franchise = "franchise"


class VatFiling(StrEnum):
    """How an operator under the normal VAT regime files its VAT returns; it sets the
    e-reporting periods (domain/ereporting.py). Ignored under `franchise`."""

    normal_monthly = "normal_monthly"  # réel normal, CA3 each month
    normal_quarterly = "normal_quarterly"  # réel normal, quarterly CA3 (option)
    simplified = "simplified"  # réel simplifié (CA12)


class NewOperator(Model):
    name: NonEmpty
    legal_form: NonEmpty
    siren: str
    siret: str | None = None
    vat_number: VatNumberIn | None = None
    vat_regime: VatRegime
    # Option for VAT on debits (art. 269-2-c CGI): VAT on services is then due when
    # invoiced (BT-8 code 5), not when paid (code 72, the default for services).
    vat_on_debits: bool = False
    # Sets the e-reporting periods and deadlines (DSE table, see domain/ereporting.py).
    vat_filing: VatFiling = VatFiling.normal_monthly
    address: Address
    invoice_prefix: str
    email: Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)]
    # The first accounting period (YYYY-MM); unset: the month the operator was created.
    accounting_start: str | None = Field(
        default=None,
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        description="First accounting period (YYYY-MM); default: the month of creation.",
        examples=["2026-01"],
    )

    @field_validator("siren")
    @classmethod
    def _siren(cls, value: str) -> str:
        if not is_valid_siren(value):
            raise ValueError("must be 9 digits with a valid Luhn check digit")
        return value

    @field_validator("siret")
    @classmethod
    def _siret(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_siret(value):
            raise ValueError("must be 14 digits with a valid Luhn check digit")
        return value

    @field_validator("invoice_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value):
            raise ValueError("must be 2 to 10 characters among A-Z and 0-9")
        return value

    @model_validator(mode="after")
    def _siret_matches_siren(self) -> NewOperator:
        if self.siret and not self.siret.startswith(self.siren):
            raise ValueError("siret must start with the siren")
        return self


class Operator(NewOperator):
    id: str
    vat_number: str | None = Field(default=None, max_length=20)  # checked as it entered
    email: str = Field(max_length=254)  # checked as it entered (the rule tightened since)
    created_at: datetime
    iban: str | None = None
    bic: str | None = None
    active: bool = True
    version: int = 1  # items stored before versions existed read as version 1

    @field_validator("name", "legal_form", "address", mode="before")
    @classmethod
    def _stored_one_line(cls, value: Any) -> Any:
        return one_line(value)  # stored before control characters were refused


class RelayCategory(StrEnum):
    station = "station"
    town = "town"


# A relay's amenities: a short list of short labels (a relay item must stay far below
# DynamoDB's 400 KB, and it is loaded with the whole catalogue).
Amenities = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100), SingleLine]], Field(max_length=50)
]


class NewRelay(Model):
    name: NonEmpty
    operator_id: NonEmpty
    category: RelayCategory
    address: Address
    location: Location
    timezone: str = "Europe/Paris"
    opening_hours: dict[str, list[list[str]]]
    amenities: Amenities = []

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown IANA time zone") from exc
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        return OpeningHours.parse(value).to_dict()

    def hours(self) -> OpeningHours:
        return OpeningHours.parse(self.opening_hours)


class OpeningException(Model):
    """Different hours on one date: `hours` `[["08:00", "13:00"]]`, or null (or `[]`):
    closed all day. It replaces the weekly hours of that date."""

    model_config = ConfigDict(
        defer_build=True, extra="forbid", frozen=True, str_strip_whitespace=True
    )

    date: CalendarDay
    hours: list[Annotated[list[ClockTime], Field(min_length=2, max_length=2)]] | None = None


class Relay(NewRelay):
    id: str
    created_at: datetime
    active: bool = True
    version: int = 1
    opening_exceptions: list[OpeningException] = []

    @field_validator("name", "address", "amenities", mode="before")
    @classmethod
    def _stored_one_line(cls, value: Any) -> Any:
        return one_line(value)  # stored before control characters were refused

    @field_validator("opening_exceptions")
    @classmethod
    def _exceptions(cls, value: list[OpeningException]) -> list[OpeningException]:
        """One exception per date, hours checked as weekly ones are, kept in date order in
        their canonical form (a closed day is `null`)."""
        field = "opening_exceptions"
        if len(value) > MAX_OPENING_EXCEPTIONS:
            raise ValueError(f"at most {MAX_OPENING_EXCEPTIONS} exceptions")
        seen: set[dt.date] = set()
        canonical = []
        for i, exception in enumerate(value):
            if exception.date in seen:
                raise ValidationFailed(
                    f"{field}[{i}].date: {exception.date} is given twice", f"{field}[{i}].date"
                )
            seen.add(exception.date)
            intervals = parse_day_hours(exception.hours, f"{field}[{i}].hours")
            hours = day_labels(intervals) if intervals else None
            canonical.append(OpeningException(date=exception.date, hours=hours))
        return sorted(canonical, key=lambda e: e.date)

    def hours(self) -> OpeningHours:
        """The weekly hours with the exceptions (parsed once per content: every booking
        and availability request reads them; an edited relay has another content). The
        relay is frozen, so its hours are also kept by the object itself, which the
        cached catalogue hands to every request: no key to spell for those."""
        seen = _HOURS_OF_OBJECT.get(id(self))
        if seen is not None and seen[0] is self:
            return seen[1]
        key = repr((self.opening_hours, [(e.date, e.hours) for e in self.opening_exceptions]))
        hours = _PARSED_HOURS.get(key)
        if hours is None:
            exceptions = {
                e.date: parse_day_hours(e.hours, "opening_exceptions")
                for e in self.opening_exceptions
            }
            hours = OpeningHours.parse(self.opening_hours).with_exceptions(exceptions)
            if len(_PARSED_HOURS) >= PARSED_HOURS_KEPT:
                _PARSED_HOURS.clear()
            _PARSED_HOURS[key] = hours
        if len(_HOURS_OF_OBJECT) >= PARSED_HOURS_KEPT:
            _HOURS_OF_OBJECT.clear()
        _HOURS_OF_OBJECT[id(self)] = (self, hours)
        return hours


# Relays' parsed hours by their text (a frozen result, shared: never mutated by readers).
PARSED_HOURS_KEPT = 512
_PARSED_HOURS: dict[str, OpeningHours] = {}
# The same by relay object (it is held here, so its id is not another's while kept).
_HOURS_OF_OBJECT: dict[int, tuple[Relay, OpeningHours]] = {}


class ResourceKind(StrEnum):
    hot_desk = "hot_desk"
    dedicated_desk = "dedicated_desk"
    meeting_room = "meeting_room"
    office = "office"
    phone_booth = "phone_booth"


Cents = Annotated[int, Field(ge=0, le=10_000_000)]


class Rates(_Nested):
    day: Cents | None = None
    half_day: Cents | None = None
    hour: Cents | None = None

    def for_unit(self, unit: str) -> int | None:
        return {"day": self.day, "hour": self.hour}.get(unit, self.half_day)


class NewResource(Model):
    name: NonEmpty
    kind: ResourceKind
    capacity: int = Field(ge=1, le=500)
    rates: Rates
    vat_rate: str = "20.00"

    @field_validator("vat_rate")
    @classmethod
    def _vat(cls, value: str) -> str:
        return f"{parse_vat_rate(value):.2f}"

    @model_validator(mode="after")
    def _bookable(self) -> NewResource:
        if self.rates.day is None and self.rates.half_day is None and self.rates.hour is None:
            raise ValueError("rates must offer at least one of day, half_day, hour")
        return self


class Resource(NewResource):
    id: str
    relay_id: str
    created_at: datetime
    active: bool = True
    version: int = 1

    @field_validator("name", mode="before")
    @classmethod
    def _stored_one_line(cls, value: Any) -> Any:
        return one_line(value)  # stored before control characters were refused


MAX_CLOSURE_DAYS = 366


class NewClosure(Model):
    """One of: `{date, reason}`; `{from, to, reason}` (inclusive, at most 366 days);
    `{public_holidays: YYYY, reason?}` (the French national holidays of that year)."""

    model_config = ConfigDict(
        defer_build=True,
        extra="ignore",
        frozen=True,
        str_strip_whitespace=True,
        populate_by_name=True,
    )

    date: CalendarDay | None = None
    from_: CalendarDay | None = Field(default=None, alias="from")
    to: CalendarDay | None = None
    public_holidays: int | None = Field(default=None, ge=2000, le=2100)
    reason: Annotated[str, Field(min_length=1, max_length=500), SingleLine] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> NewClosure:
        forms = [self.date is not None, self.from_ is not None or self.to is not None]
        forms.append(self.public_holidays is not None)
        if sum(forms) != 1:
            raise ValueError("give either date, or from and to, or public_holidays")
        if self.public_holidays is None and self.reason is None:
            raise ValueError("reason is required")
        if forms[1]:
            if self.from_ is None or self.to is None:
                raise ValueError("a range needs both from and to")
            if self.to < self.from_:
                raise ValueError("to must not be before from")
            if (self.to - self.from_).days + 1 > MAX_CLOSURE_DAYS:
                raise ValueError(f"a range covers at most {MAX_CLOSURE_DAYS} days")
        return self

    @property
    def is_single(self) -> bool:
        return self.date is not None


def closure_id(day: dt.date) -> str:
    """A closure's id: one closure per relay and day, so the day names it."""
    return f"clo_{day.strftime('%Y%m%d')}"


def closure_day(closure_id_text: str) -> dt.date | None:
    """The day a closure id names, or None if it names none."""
    if not re.fullmatch(r"clo_[0-9]{8}", closure_id_text):
        return None
    try:
        return dt.datetime.strptime(closure_id_text[4:], "%Y%m%d").date()
    except ValueError:
        return None


class Closure(Model):
    id: str = ""
    relay_id: str
    date: dt.date
    reason: str
    created_at: datetime
    cancelled_bookings: int = 0
    version: int = 1

    @model_validator(mode="after")
    def _id(self) -> Closure:
        if not self.id:  # closures stored before ids existed
            object.__setattr__(self, "id", closure_id(self.date))
        return self


class ProductKind(StrEnum):
    credit_pack = "credit_pack"
    membership = "membership"


# Products are sold by card (or SEPA debit): no payment can be below the provider's
# minimum charge in euros (50 cents), so neither can a product's price.
MIN_CARD_CHARGE = 50


class PriceIn(Model):
    amount: Annotated[int, Field(ge=MIN_CARD_CHARGE, le=10_000_000)]
    vat_rate: str = "20.00"

    @field_validator("vat_rate")
    @classmethod
    def _vat(cls, value: str) -> str:
        return f"{parse_vat_rate(value):.2f}"

    def to_price(self) -> Price:
        return price_from_incl_vat(self.amount, Decimal(self.vat_rate))


_HUGE = Decimal(10**6)  # beyond any product's credits or days, far below what fails


class NewProduct(Model):
    kind: ProductKind
    name: NonEmpty
    price: PriceIn
    operator_id: NonEmpty
    credits: Decimal | None = Field(default=None, gt=0, le=1000, multiple_of=0.5)
    validity_days: int | None = Field(default=None, ge=1, le=3660)
    period: Literal["month"] | None = None
    days_per_period: Decimal | None = Field(default=None, gt=0, le=31, multiple_of=0.5)

    @field_validator("credits", "days_per_period", mode="before")
    @classmethod
    def _json_number(cls, value: Any) -> Any:
        if isinstance(value, str):  # a JSON number, as the API documents it
            raise ValueError("must be a number")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = Decimal(str(value))  # what strict validation then expects
        # Checked before `multiple_of`, whose decimal division fails past ~10^28 (a 500).
        if isinstance(value, Decimal) and value.is_finite() and abs(value) > _HUGE:
            raise ValueError("is far too large")
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> NewProduct:
        if self.kind is ProductKind.credit_pack:
            if self.credits is None or self.validity_days is None:
                raise ValueError("a credit_pack needs credits and validity_days")
        elif self.period is None:
            raise ValueError("a membership needs period ('month')")
        return self


class Product(Model):
    id: str
    kind: ProductKind
    name: str
    price: dict[str, Any]
    operator_id: str
    credits: Decimal | None = None
    validity_days: int | None = None
    period: Literal["month"] | None = None
    days_per_period: Decimal | None = None
    created_at: datetime
    active: bool = True
    version: int = 1

    @field_validator("name", mode="before")
    @classmethod
    def _stored_one_line(cls, value: Any) -> Any:
        return one_line(value)  # stored before control characters were refused


def relay_in_service(relay: Relay, operator: Operator | None) -> bool:
    """A relay is listed, shows availability and takes new bookings while it and the
    operator running it are both active (existing bookings stay either way). An operator
    not known here (not loaded yet) does not withdraw its relay."""
    return relay.active and (operator is None or operator.active)


def product_on_sale(product: Product, operator: Operator | None) -> bool:
    """A product is listed and sold while it and its seller are both active."""
    return product.active and (operator is None or operator.active)


def vat_rate_charged(vat_rate: Decimal | str, seller: Operator | None) -> Decimal:
    """The VAT rate a sale carries: none when the seller is under the franchise (art. 293 B
    du CGI), whatever rate its product or resource names (kept for the day it leaves the
    franchise); an invoice says the same (domain/invoice.document_line)."""
    if seller is not None and seller.vat_regime is VatRegime.franchise:
        return Decimal(0)
    return Decimal(vat_rate)


def product_as_sold(product: Product, seller: Operator | None) -> Product:
    """The product with the price object its buyer is charged: the VAT split follows the
    seller's regime (the stored price keeps the rate it was given)."""
    rate = vat_rate_charged(str(product.price["vat_rate"]), seller)
    if rate == Decimal(str(product.price["vat_rate"])):
        return product
    price = price_from_incl_vat(int(product.price["amount"]), rate).to_dict()
    return product.model_copy(update={"price": price})
