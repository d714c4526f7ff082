"""Catalogue rules (domain/catalogue.py): what makes an operator, a relay, a resource and a
product valid, as the API accepts them."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, ValidationError

from chalicelib.domain.catalogue import (
    SINGLE_LINE_PATTERN,
    Model,
    NewOperator,
    NewProduct,
    NewRelay,
    NewResource,
    Operator,
    PriceIn,
    Product,
    Rates,
    Relay,
    SingleLine,
    VatRegime,
    product_as_sold,
    product_on_sale,
    relay_in_service,
    single_line_pattern,
    vat_rate_charged,
)
from tests.support.api import operator_body, relay_body, resource_body


def refusal(model: type[Any], body: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    """(location, message) of the single error a body gets."""
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    (error,) = refused.value.errors()
    return error["loc"], error["msg"]


def product_body(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "credit_pack",
        "name": "10 journées",
        "price": {"amount": 12000},
        "operator_id": "scic",
        "credits": 10,
        "validity_days": 365,
        **overrides,
    }


def test_a_valid_operator_is_accepted_with_its_siret() -> None:
    operator = NewOperator.model_validate(operator_body(siret="73282932000074"))

    assert (operator.siren, operator.siret) == ("732829320", "73282932000074")


def test_an_operator_siren_with_a_bad_check_digit_is_refused() -> None:
    assert refusal(NewOperator, operator_body(siren="732829321")) == (
        ("siren",),
        "Value error, must be 9 digits with a valid Luhn check digit",
    )


def test_an_operator_siret_with_a_bad_check_digit_is_refused() -> None:
    assert refusal(NewOperator, operator_body(siret="73282932000075")) == (
        ("siret",),
        "Value error, must be 14 digits with a valid Luhn check digit",
    )


def test_a_siret_of_another_company_is_refused() -> None:
    # 552100554 00011 is a valid SIRET, but of SIREN 552100554, not 732829320
    assert refusal(NewOperator, operator_body(siret="55210055400013")) == (
        (),
        "Value error, siret must start with the siren",
    )


@pytest.mark.parametrize("prefix", ["R", "rl", "RL-1", "ABCDEFGHIJK"])
def test_an_invoice_prefix_outside_2_to_10_capitals_or_digits_is_refused(prefix: str) -> None:
    assert refusal(NewOperator, operator_body(invoice_prefix=prefix)) == (
        ("invoice_prefix",),
        "Value error, must be 2 to 10 characters among A-Z and 0-9",
    )


def test_a_relay_in_an_unknown_time_zone_is_refused() -> None:
    assert refusal(NewRelay, relay_body("scic", timezone="Europe/Melun")) == (
        ("timezone",),
        "Value error, unknown IANA time zone",
    )


def test_a_relay_opening_hours_are_stored_in_their_canonical_form() -> None:
    # GIVEN Monday until midnight written "00:00", and no other day
    hours = {"mon": [["08:00", "00:00"]]}

    relay = NewRelay.model_validate(relay_body("scic", opening_hours=hours))

    # THEN every weekday is stored, and midnight as an end is "24:00"
    assert relay.opening_hours == {
        "mon": [["08:00", "24:00"]],
        **{day: [] for day in ("tue", "wed", "thu", "fri", "sat", "sun")},
    }


def test_a_relays_hours_are_parsed_once_and_an_edited_copy_gets_its_own() -> None:
    from datetime import date

    body = relay_body("scic", opening_hours={"mon": [["08:00", "12:00"]]})
    relay = Relay.model_validate({**body, "id": "rly_1", "created_at": "2026-12-01T00:00:00Z"})
    monday = date(2026, 12, 7)

    assert relay.hours() is relay.hours()  # kept: the same object, not parsed again
    edited = relay.model_copy(update={"opening_hours": {"mon": [["09:00", "10:00"]]}})
    assert edited.hours().labels_on(monday) != relay.hours().labels_on(monday)
    assert relay.hours().labels_on(monday) == [["08:00", "12:00"]]
    assert relay == relay.model_copy()  # the cache is not part of the relay's value


def test_a_resource_without_any_rate_is_refused() -> None:
    assert refusal(NewResource, resource_body(rates={})) == (
        (),
        "Value error, rates must offer at least one of day, half_day, hour",
    )


def test_a_resource_vat_rate_is_kept_with_two_decimals() -> None:
    assert NewResource.model_validate(resource_body(vat_rate="5.5")).vat_rate == "5.50"


@pytest.mark.parametrize(
    ("unit", "rate"), [("day", 1500), ("half_day_am", 900), ("half_day_pm", 900), ("hour", 400)]
)
def test_a_unit_is_priced_at_its_rate(unit: str, rate: int) -> None:
    assert Rates(day=1500, half_day=900, hour=400).for_unit(unit) == rate


def test_a_credit_pack_needs_credits_and_a_validity() -> None:
    assert refusal(NewProduct, product_body(validity_days=None)) == (
        (),
        "Value error, a credit_pack needs credits and validity_days",
    )


def test_a_membership_needs_a_period() -> None:
    body = product_body(kind="membership", credits=None, validity_days=None)

    assert refusal(NewProduct, body) == ((), "Value error, a membership needs period ('month')")


def test_a_monthly_membership_is_accepted() -> None:
    body = product_body(kind="membership", credits=None, validity_days=None, period="month")

    assert NewProduct.model_validate(body).period == "month"


def test_a_product_price_splits_its_vat() -> None:
    price = PriceIn(amount=12000, vat_rate="20").to_price()

    assert (price.amount_excl_vat, price.vat_amount, price.vat_rate) == (
        10000,
        2000,
        Decimal("20.00"),
    )


# -- what an inactive operator withdraws --------------------------------------------------

WHEN = "2026-12-01T08:00:00+01:00"


def operator(active: bool) -> Operator:
    return Operator.model_validate(
        {**operator_body(), "id": "op", "created_at": WHEN, "active": active}
    )


def relay(active: bool) -> Relay:
    return Relay.model_validate(
        {**relay_body("op"), "id": "rel", "created_at": WHEN, "active": active}
    )


def product(active: bool) -> Product:
    fields = {**product_body(operator_id="op"), "price": {"amount": 12000, "vat_rate": "20.00"}}
    return Product.model_validate({**fields, "id": "prd", "created_at": WHEN, "active": active})


@pytest.mark.parametrize(
    ("relay_active", "operator_active", "in_service"),
    [(True, True, True), (False, True, False), (True, False, False), (False, False, False)],
)
def test_a_relay_is_in_service_while_it_and_its_operator_are_active(
    relay_active: bool, operator_active: bool, in_service: bool
) -> None:
    assert relay_in_service(relay(relay_active), operator(operator_active)) is in_service
    assert product_on_sale(product(relay_active), operator(operator_active)) is in_service


def test_an_operator_not_loaded_yet_withdraws_nothing() -> None:
    assert relay_in_service(relay(True), None) and product_on_sale(product(True), None)


# -- the VAT a seller charges ---------------------------------------------------------------


def test_a_franchise_seller_charges_no_vat_whatever_rate_it_names() -> None:
    exempt = operator(True).model_copy(update={"vat_regime": VatRegime.franchise})
    assert vat_rate_charged("20.00", exempt) == Decimal(0)
    assert vat_rate_charged("5.50", operator(True)) == Decimal("5.50")
    assert vat_rate_charged("20.00", None) == Decimal("20.00")  # not loaded yet: as named
    sold = product_as_sold(product(True), exempt)
    assert sold.price == {
        "amount": 12000,
        "currency": "EUR",
        "amount_excl_vat": 12000,
        "vat_amount": 0,
        "vat_rate": "0.00",
    }
    assert product_as_sold(product(True), operator(True)) == product(True)


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (NewOperator, operator_body(name="Relais\nIDF"), "name"),
        (NewOperator, operator_body(legal_form="SAS\x00"), "legal_form"),
        (NewRelay, relay_body("op", name="Gare de Melun\nQuai 2"), "name"),
        (NewResource, resource_body(name="Open\tspace"), "name"),
        (NewProduct, product_body(name="Carnet\u202810"), "name"),
        (NewRelay, relay_body("op", name="Gare\ufffeMelun"), "name"),
        (NewResource, resource_body(name="Open\uffffspace"), "name"),
    ],
)
def test_a_name_with_a_control_character_is_refused(
    model: type[Any], body: dict[str, Any], field: str
) -> None:
    location, message = refusal(model, body)
    assert location == (field,) and "one line" in message


_AROUND = st.sampled_from(["", " ", "\t", "\n", "\r\n", "\x1c", "\x85", "\u2028", "\u3000"])


@settings(max_examples=900)
@given(
    st.sampled_from(
        [(0, None), (1, None), (2, None), (5, None), (0, 1), (1, 1), (0, 3), (1, 4), (2, 5)]
    ),
    st.tuples(_AROUND, st.text(max_size=6), _AROUND, st.text(" \xa0\u2009x\n", max_size=3)).map(
        lambda parts: parts[0] + parts[3] + parts[1] + parts[2]
    ),
)
def test_the_documented_pattern_accepts_exactly_what_the_model_accepts(
    lengths: tuple[int, int | None], text: str
) -> None:
    # GIVEN a one-line text of `min_length` to `max_length` characters, in a stripping
    # model, and any text: control characters and blanks at either end or inside
    min_length, max_length = lengths

    class OneLine(Model):
        text: Annotated[str, Field(min_length=min_length, max_length=max_length), SingleLine]

    # WHEN the model validates it and the documented pattern matches it
    try:
        OneLine(text=text)
        accepted = True
    except ValidationError:
        accepted = False
    # THEN both agree: a schema-valid text is never refused, a refused one is schema-invalid
    assert accepted == bool(re.match(single_line_pattern(min_length, max_length), text)), text
    assert OneLine.model_json_schema()["properties"]["text"]["pattern"] == SINGLE_LINE_PATTERN


def test_a_relay_stored_with_a_line_break_is_read_as_one_line() -> None:
    # GIVEN a relay stored before control characters were refused
    address = {"line1": "Place\r\nGallieni", "postcode": "77000", "city": "Melun"}
    stored = {
        **relay_body("op", name="Gare de Melun\nQuai 2", address=address),
        "id": "rel",
        "created_at": WHEN,
    }
    # WHEN it is read
    relay = Relay.model_validate(stored)
    # THEN each control character is a space: its mails and calendars can be built
    assert (relay.name, relay.address.line1) == ("Gare de Melun Quai 2", "Place  Gallieni")
