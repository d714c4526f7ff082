"""What a PATCH body of each catalogue object may carry (domain/catalogue_patches.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.catalogue_patches import (
    CompanyPatch,
    OperatorPatch,
    Patch,
    ProductPatch,
    RelayPatch,
    ResourcePatch,
)

IBAN = "FR7630006000011234567890189"


def refused_fields(model: type[Patch], body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(body)
    return [".".join(str(p) for p in e["loc"]) for e in raised.value.errors()]


def test_an_operator_iban_and_bic_are_checked_and_normalised() -> None:
    patch = OperatorPatch.model_validate(
        {"iban": "FR76 3000 6000 0112 3456 7890 189", "bic": "AGRIFRPP"}
    )
    assert (patch.iban, patch.bic) == (IBAN, "AGRIFRPP")


@pytest.mark.parametrize(
    ("field", "value"), [("iban", "FR7630006000011234567890188"), ("bic", "AGRI")]
)
def test_a_wrong_iban_or_bic_is_refused(field: str, value: str) -> None:
    assert refused_fields(OperatorPatch, {field: value}) == [field]


def test_iban_and_bic_may_be_cleared_but_the_name_may_not() -> None:
    patch = OperatorPatch.model_validate({"iban": None, "bic": None})
    assert patch.model_fields_set == {"iban", "bic"}
    assert refused_fields(OperatorPatch, {"name": None}) == ["name"]


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (RelayPatch, "opening_hours"),
        (RelayPatch, "opening_exceptions"),
        (RelayPatch, "active"),
        (ResourcePatch, "capacity"),
        (ResourcePatch, "rates"),
        (ProductPatch, "price"),
        (CompanyPatch, "billing_address"),
        (CompanyPatch, "public_body"),
    ],
)
def test_a_field_that_cannot_be_cleared_refuses_null(model: type[Patch], field: str) -> None:
    assert refused_fields(model, {field: None}) == [field]


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (OperatorPatch, "id"),
        (RelayPatch, "operator_id"),
        (ResourcePatch, "kind"),
        (ProductPatch, "version"),
        (CompanyPatch, "siren"),
        (CompanyPatch, "created_at"),
    ],
)
def test_read_only_and_unknown_fields_are_refused_by_name(model: type[Patch], field: str) -> None:
    assert refused_fields(model, {field: "x"}) == [field]


def test_resource_capacity_stays_within_bounds() -> None:
    assert ResourcePatch.model_validate({"capacity": 500}).capacity == 500
    assert refused_fields(ResourcePatch, {"capacity": 0}) == ["capacity"]
    assert refused_fields(ResourcePatch, {"capacity": 501}) == ["capacity"]


def test_strings_are_stripped_and_may_not_end_up_empty() -> None:
    assert ProductPatch.model_validate({"name": "  Pass 10 jours "}).name == "Pass 10 jours"
    assert refused_fields(ProductPatch, {"name": "   "}) == ["name"]


def test_a_public_body_siret_has_fourteen_digits() -> None:
    assert CompanyPatch.model_validate({"siret": "12345678901234"}).siret == "12345678901234"
    assert refused_fields(CompanyPatch, {"siret": "1234"}) == ["siret"]
