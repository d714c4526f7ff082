"""What a PATCH of each catalogue object may carry (API.md, "Network catalogue").

Every field is optional; a field that cannot be cleared refuses `null`. Anything else in
the body (unknown fields, and read-only ones such as `id`, `version`, `created_at`,
`operator_id`, `kind`) is refused by `extra="forbid"`, each named in `errors[].field`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as NumberInvalid

from chalicelib.domain.catalogue import (
    Address,
    Amenities,
    Location,
    NonEmpty,
    OpeningException,
    PriceIn,
    Rates,
    SingleLine,
    VatFiling,
    VatNumberIn,
    VatRegime,
)
from chalicelib.domain.identifiers import EMAIL_PATTERN


class Patch(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", str_strip_whitespace=True)

    @classmethod
    def refuse_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be changed but not cleared (null)")
        return value


class OperatorPatch(Patch):
    name: NonEmpty | None = None
    legal_form: NonEmpty | None = None
    address: Address | None = None
    email: Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)] | None = None
    vat_number: VatNumberIn | None = None  # an FR one must be the operator's SIREN's
    vat_regime: VatRegime | None = None
    vat_filing: VatFiling | None = None
    iban: str | None = None
    bic: str | None = None
    active: bool | None = None
    # Only while the operator has issued no document (409 immutable_field after).
    siren: str | None = None
    siret: str | None = None
    invoice_prefix: str | None = None

    @field_validator(
        "name",
        "legal_form",
        "address",
        "email",
        "vat_regime",
        "vat_filing",
        "active",
        "siren",
        "invoice_prefix",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return cls.refuse_null(value)

    @field_validator("iban")
    @classmethod
    def _iban(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(stdnum_iban.validate(value))
        except NumberInvalid as exc:
            raise ValueError("is not a valid IBAN") from exc

    @field_validator("bic")
    @classmethod
    def _bic(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(stdnum_bic.validate(value))
        except NumberInvalid as exc:
            raise ValueError("is not a valid BIC") from exc


class RelayPatch(Patch):
    name: NonEmpty | None = None
    address: Address | None = None
    location: Location | None = None
    opening_hours: dict[str, list[list[str]]] | None = None
    # Replaces the whole list of dated exceptions (`[]` removes them all).
    opening_exceptions: list[OpeningException] | None = None
    amenities: Amenities | None = None
    active: bool | None = None

    @field_validator(
        "name",
        "address",
        "location",
        "opening_hours",
        "opening_exceptions",
        "amenities",
        "active",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return cls.refuse_null(value)


class ResourcePatch(Patch):
    name: NonEmpty | None = None
    capacity: Annotated[int, Field(ge=1, le=500)] | None = None
    rates: Rates | None = None
    vat_rate: str | None = None
    active: bool | None = None

    @field_validator("name", "capacity", "rates", "vat_rate", "active")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return cls.refuse_null(value)


class ProductPatch(Patch):
    name: NonEmpty | None = None
    price: PriceIn | None = None
    active: bool | None = None

    @field_validator("name", "price", "active")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return cls.refuse_null(value)


class CompanyPatch(Patch):
    """Billing fields and `active`; `siren` and `operator_id` never change."""

    name: NonEmpty | None = None
    vat_number: VatNumberIn | None = None  # an FR one must be the company's SIREN's
    billing_address: Address | None = None
    billing_email: Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)] | None = None
    active: bool | None = None
    # Chorus Pro (public buyers); checked again with the whole company (domain/company.py).
    public_body: bool | None = None
    siret: Annotated[str, Field(pattern=r"^[0-9]{14}$")] | None = None
    service_code: Annotated[str, Field(min_length=1, max_length=100), SingleLine] | None = None
    engagement_number: Annotated[str, Field(min_length=1, max_length=50), SingleLine] | None = None

    @field_validator("name", "billing_address", "billing_email", "active", "public_body")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return cls.refuse_null(value)
