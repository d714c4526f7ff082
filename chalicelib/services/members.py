"""Members' billing profiles, copied onto invoices at issue time."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.auth import Principal
from chalicelib.domain.catalogue import Address, SingleLine, VatNumberIn
from chalicelib.domain.identifiers import EMAIL_PATTERN, is_valid_siren, siren_in_fr_vat_number
from chalicelib.services.context import Context


class BillingProfile(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", str_strip_whitespace=True)
    name: Annotated[str, SingleLine] = Field(min_length=1, max_length=200)
    email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    billing_address: Address | None = None
    company_name: Annotated[str, SingleLine] | None = Field(default=None, max_length=200)
    siren: str | None = Field(default=None, pattern=r"^[0-9]{9}$")
    vat_number: VatNumberIn | None = None  # an FR one must be the SIREN's, when given
    language: str = Field(default="fr", pattern=r"^(fr|en)$")

    @field_validator("company_name", "siren", "vat_number", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        """A form's empty field ("" or spaces) is no value: never an empty company name on
        an invoice, nor a 422 for a SIREN left blank."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("siren")
    @classmethod
    def _siren(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_siren(value):
            raise ValueError("must be 9 digits with a valid Luhn check digit")
        return value

    @model_validator(mode="after")
    def _siren_of_a_french_vat_number(self) -> BillingProfile:
        """A French VAT number is FR, a key and the SIREN: a business giving only it is
        a French business, whose invoices are e-invoiced (B2B), never e-reported as a
        consumer's; its SIREN is taken from it."""
        if self.siren is None:
            self.siren = siren_in_fr_vat_number(self.vat_number)
        return self


class ProfileOut(BillingProfile):
    """The profile as `GET` and `PUT /v1/me` answer it: every field, null when unset (an
    erased member's keeps its name, "Membre supprimé", its language and `erased_at`)."""

    email: str | None = Field(default=None, pattern=EMAIL_PATTERN, max_length=254)  # type: ignore[assignment]
    erased_at: str | None = None


PUBLIC_FIELDS = tuple(ProfileOut.model_fields)


def public_profile(stored: dict[str, Any]) -> dict[str, Any]:
    """The same fields whatever was stored (the store leaves null attributes out)."""
    shown = {field: stored.get(field) for field in PUBLIC_FIELDS}
    shown["email"] = shown["email"] or None  # a token without an email claim
    shown["language"] = shown["language"] or "fr"
    shown["siren"] = shown["siren"] or siren_in_fr_vat_number(shown["vat_number"])
    if isinstance(shown["billing_address"], dict):  # its fields too, null when unset
        address = shown["billing_address"]
        shown["billing_address"] = {name: address.get(name) for name in Address.model_fields}
    return shown


def profile(ctx: Context, member_id: str) -> dict[str, Any] | None:
    return ctx.profiles.get(member_id)


def get_profile(ctx: Context, principal: Principal) -> dict[str, Any]:
    return public_profile(profile(ctx, principal.sub) or ensure_profile(ctx, principal))


def ensure_profile(ctx: Context, principal: Principal) -> dict[str, Any]:
    """A profile from the token's claims, written once (never over the member's own)."""
    existing = profile(ctx, principal.sub)
    if existing:
        return existing
    data = {
        "name": principal.name or principal.sub,
        "email": principal.email or "",
        "billing_address": None,
        "company_name": None,
        "siren": None,
        "vat_number": None,
        "language": "fr",
    }
    if ctx.profiles.create(principal.sub, data):
        return data
    return profile(ctx, principal.sub) or data  # written meanwhile by a concurrent request


def update_profile(ctx: Context, principal: Principal, new: BillingProfile) -> dict[str, Any]:
    data = new.model_dump(mode="json")
    ctx.profiles.put(principal.sub, data)
    return public_profile(data)


def buyer_snapshot(ctx: Context, member_id: str) -> dict[str, Any]:
    """The buyer block of an invoice, frozen from the profile as it is now."""
    found = profile(ctx, member_id) or {}
    return {
        "name": found.get("name") or member_id,
        "email": found.get("email"),
        "address": found.get("billing_address"),
        "company_name": found.get("company_name"),
        # a profile saved before its SIREN was taken from its French VAT number too
        "siren": found.get("siren") or siren_in_fr_vat_number(found.get("vat_number")),
        "vat_number": found.get("vat_number"),
    }
