from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.invoice import Sale, document_line, totals, vat_breakdown
from chalicelib.domain.money import (
    Price,
    format_vat_rate,
    parse_vat_rate,
    price_from_incl_vat,
    prorate,
    round_half_up,
)
from chalicelib.errors import ValidationFailed
from tests.support.properties import reproducible


@pytest.mark.parametrize(
    ("amount", "rate", "excl", "vat"),
    [
        (1500, "20.00", 1250, 250),
        (1000, "20.00", 833, 167),  # 166.666... rounds up
        (900, "20.00", 750, 150),
        (2000, "5.50", 1896, 104),  # 104.265... rounds down
        (0, "20.00", 0, 0),
        (1000, "0.00", 1000, 0),
    ],
)
def test_vat_inclusive_amount_splits_into_net_and_vat(
    amount: int, rate: str, excl: int, vat: int
) -> None:
    price = price_from_incl_vat(amount, rate)

    assert (price.amount, price.amount_excl_vat, price.vat_amount) == (amount, excl, vat)


def test_negative_amount_mirrors_the_positive_split() -> None:
    # GIVEN a credit note for a 10.00 EUR booking
    credit = price_from_incl_vat(-1000, "20.00")

    # THEN every figure is the exact opposite of the original invoice line
    assert (credit.amount_excl_vat, credit.vat_amount) == (-833, -167)
    assert credit == price_from_incl_vat(1000, "20.00").negated()


def test_price_serialises_to_the_contract_shape() -> None:
    assert price_from_incl_vat(1500, Decimal(20)).to_dict() == {
        "amount": 1500,
        "currency": "EUR",
        "amount_excl_vat": 1250,
        "vat_amount": 250,
        "vat_rate": "20.00",
    }


def test_vat_rate_is_shown_with_two_decimals() -> None:
    assert price_from_incl_vat(2000, "5.5").to_dict()["vat_rate"] == "5.50"
    assert format_vat_rate(Decimal(0)) == "0.00"


def test_price_round_trips_through_dict_with_dynamodb_decimals() -> None:
    price = price_from_incl_vat(1000, "10.00")
    stored = {k: Decimal(v) if isinstance(v, int) else v for k, v in price.to_dict().items()}

    assert Price.from_dict(stored) == price


def test_price_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(ValueError):
        Price(amount=1000, amount_excl_vat=800, vat_amount=100, vat_rate=Decimal("20.00"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.5", 1), ("1.5", 2), ("2.5", 3), ("-0.5", -1), ("-2.5", -3), ("2.4999", 2)],
)
def test_round_half_up_rounds_exact_halves_away_from_zero(value: str, expected: int) -> None:
    assert round_half_up(Decimal(value)) == expected


def test_prorate_charges_the_share_of_the_rate() -> None:
    assert prorate(2000, 90) == 3000
    assert prorate(1500, 30) == 750


def test_prorate_rounds_half_up() -> None:
    # 1001 cents for half an hour is 500.5 cents
    assert prorate(1001, 30) == 501


def test_prorate_with_a_custom_period() -> None:
    assert prorate(900, 240, per_minutes=300) == 720


def test_prorate_refuses_an_empty_period() -> None:
    with pytest.raises(ValueError):
        prorate(900, 30, per_minutes=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20.00", "20.00"), ("20", "20.00"), ("5.5", "5.50"), ("0", "0.00"), ("100", "100.00")],
)
def test_vat_rate_parses_to_a_two_decimal_value(text: str, expected: str) -> None:
    assert parse_vat_rate(text) == Decimal(expected)
    assert str(parse_vat_rate(text)) == expected


@pytest.mark.parametrize(
    "text", ["abc", "-1", "101", "20.001", "", " 20", "1e1", "NaN", "20,00", "100.01"]
)
def test_bad_vat_rate_is_a_validation_error_on_vat_rate(text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_vat_rate(text)

    assert info.value.errors[0]["field"] == "vat_rate"


@pytest.mark.parametrize("rate", [Decimal("20.001"), Decimal(-1), Decimal("NaN")])
def test_bad_decimal_vat_rate_is_refused_when_pricing(rate: Decimal) -> None:
    with pytest.raises(ValidationFailed):
        price_from_incl_vat(1000, rate)


# --- properties of the VAT split ------------------------------------------------------------

AMOUNTS = st.integers(min_value=-10_000_000, max_value=10_000_000)
RATES = st.integers(min_value=0, max_value=10_000).map(lambda n: Decimal(n) / 100)


@reproducible
@given(amount=AMOUNTS, rate=RATES)
def test_the_vat_is_the_exact_share_rounded_to_the_nearest_cent(amount: int, rate: Decimal) -> None:
    price = price_from_incl_vat(amount, rate)

    exact = Decimal(amount) * rate / (100 + rate)
    assert abs(price.vat_amount - exact) <= Decimal("0.5")
    assert price.amount_excl_vat + price.vat_amount == amount


@reproducible
@given(amount=AMOUNTS, rate=RATES)
def test_a_negated_amount_splits_into_the_negated_parts(amount: int, rate: Decimal) -> None:
    assert price_from_incl_vat(-amount, rate) == price_from_incl_vat(amount, rate).negated()


@reproducible
@given(amount=st.integers(min_value=0, max_value=10_000_000), rate=RATES)
def test_the_vat_never_exceeds_the_price_nor_goes_negative(amount: int, rate: Decimal) -> None:
    price = price_from_incl_vat(amount, rate)

    assert 0 <= price.vat_amount <= price.amount


@reproducible
@given(
    sales=st.lists(
        st.tuples(AMOUNTS, st.sampled_from(["20.00", "10.00", "5.50", "2.10", "0.00"])),
        min_size=1,
    )
)
def test_the_vat_breakdown_adds_up_to_the_document_totals(sales: list[tuple[int, str]]) -> None:
    lines = [document_line(Sale("x", a, Decimal(r), date(2026, 12, 2)), False) for a, r in sales]

    breakdown, total = vat_breakdown(lines), totals(lines)

    assert sum(r["base"] for r in breakdown) == total["excl_vat"]
    assert sum(r["vat"] for r in breakdown) == total["vat"]
    assert total["incl_vat"] == sum(a for a, _ in sales) == total["excl_vat"] + total["vat"]
