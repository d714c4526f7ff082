"""Invoice maths, legal mentions and the hash chain (golden values)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.invoice import (
    B2B_MENTIONS,
    FRANCHISE_MENTION,
    GENESIS_HASH,
    VAT_ON_DEBITS_MENTION,
    Sale,
    buyer_category,
    chain_hash,
    document_line,
    document_lines,
    legal_mentions,
    negated_line,
    parse_document_id,
    spread_vat,
    totals,
    vat_breakdown,
)
from chalicelib.domain.money import price_from_incl_vat
from tests.support.properties import reproducible

DAY = date(2026, 12, 2)
PAID = {"status": "paid", "method": "card", "paid_at": "2026-12-02T10:15:00+01:00"}
NORMAL = {"name": "SCIC Relais 77", "vat_regime": "normal"}
PERSON = {"name": "Camille Martin", "siren": None}
BUSINESS = {"name": "Camille Martin", "company_name": "Atelier X", "siren": "552100554"}
EU_BUSINESS = {
    "name": "Jonas Weber",
    "email": "jonas.weber@example.de",
    "company_name": "Weber Consulting GmbH",
    "vat_number": "DE136695976",
    "address": {"city": "Berlin", "country": "DE"},
}


def line(amount: int, rate: str = "20.00", franchise: bool = False) -> dict:
    return document_line(Sale("Journée", amount, Decimal(rate), DAY), franchise)


def test_a_line_splits_its_vat_inclusive_price_half_up() -> None:
    assert line(1000) == {
        "description": "Journée",
        "quantity": "1",
        "unit_price_excl_vat": 833,
        "vat_rate": "20.00",
        "amount_excl_vat": 833,
        "vat_amount": 167,
        "amount_incl_vat": 1000,
        "service_date": "2026-12-02",
    }


def sales(*amounts: int, rate: str = "20.00") -> list[Sale]:
    return [Sale(f"Heure {n}", amount, Decimal(rate), DAY) for n, amount in enumerate(amounts)]


def test_the_vat_of_a_rate_is_rounded_once_then_spread_over_its_lines() -> None:
    # 3 x 1000 at 20 %: 500 of VAT in all (3000 x 20/120), not 3 x 167 = 501
    lines = document_lines([*sales(1000, 1000, 1000), *sales(2000, rate="5.50")], False)
    assert vat_breakdown(lines) == [
        {"rate": "20.00", "base": 2500, "vat": 500},
        {"rate": "5.50", "base": 1896, "vat": 104},
    ]
    assert totals(lines) == {"excl_vat": 4396, "vat": 604, "incl_vat": 5000}


def test_the_cents_left_go_to_the_first_lines_of_equal_remainders() -> None:
    lines = document_lines(sales(1000, 1000, 1000), False)
    assert [(ln["amount_excl_vat"], ln["vat_amount"]) for ln in lines] == [
        (833, 167),
        (833, 167),
        (834, 166),
    ]
    assert [ln["unit_price_excl_vat"] for ln in lines] == [833, 833, 834]


def test_the_cents_left_go_to_the_largest_remainders_first() -> None:
    # 3 x 1100 -> 183.33 each, 1000 -> 166.67: 716.67 in all, 717 of VAT; rounded down,
    # 715: the 0.67 remainder takes a cent, then the first of the 0.33 ones
    lines = document_lines(sales(1100, 1100, 1100, 1000), False)
    assert [ln["vat_amount"] for ln in lines] == [184, 183, 183, 167]


def test_a_long_invoice_states_per_rate_the_vat_of_its_base() -> None:
    # 301 hours at 4,00 €: rounded per line, 301 x 67 = 201,67 € of VAT on 1 002,33 €
    lines = document_lines(sales(*[400] * 301), False)
    assert vat_breakdown(lines) == [{"rate": "20.00", "base": 100333, "vat": 20067}]
    assert totals(lines) == {"excl_vat": 100333, "vat": 20067, "incl_vat": 120400}


def test_a_document_of_one_line_per_rate_is_split_as_its_lines_alone() -> None:
    sold = [*sales(1000), *sales(2000, rate="5.50"), *sales(1500, rate="10.00")]
    assert document_lines(sold, False) == [document_line(sale, False) for sale in sold]
    assert document_lines(sold, True) == [document_line(sale, True) for sale in sold]


AMOUNTS = st.lists(st.integers(min_value=0, max_value=1_000_000), min_size=1, max_size=40)
RATES = st.sampled_from(["20.00", "10.00", "8.50", "5.50", "2.10", "0.00"]).map(Decimal)


@reproducible
@given(amounts=AMOUNTS, rate=RATES)
def test_a_rate_s_vat_is_the_vat_of_its_sum_and_each_line_within_a_cent_of_its_own(
    amounts: list[int], rate: Decimal
) -> None:
    spread = spread_vat(amounts, rate)

    assert sum(spread) == price_from_incl_vat(sum(amounts), rate).vat_amount
    for amount, vat in zip(amounts, spread, strict=True):
        assert abs(vat - Decimal(amount) * rate / (100 + rate)) < 1
    assert spread_vat([-amount for amount in amounts], rate) == [-vat for vat in spread]


@reproducible
@given(amounts=AMOUNTS, rate=RATES)
def test_every_spread_line_adds_up_and_the_customer_pays_what_was_sold(
    amounts: list[int], rate: Decimal
) -> None:
    lines = document_lines(sales(*amounts, rate=format(rate, "f")), False)

    assert [ln["amount_incl_vat"] for ln in lines] == amounts
    assert all(ln["amount_excl_vat"] + ln["vat_amount"] == ln["amount_incl_vat"] for ln in lines)
    (breakdown,) = vat_breakdown(lines)
    assert breakdown["base"] + breakdown["vat"] == sum(amounts)
    assert abs(breakdown["vat"] - breakdown["base"] * rate / 100) <= 1


def test_a_quantity_shows_as_a_plain_decimal_and_divides_the_unit_price() -> None:
    ten_hours = document_line(Sale("Heures", 4000, Decimal("20.00"), DAY, Decimal(10)), False)
    assert ten_hours["quantity"] == "10"
    assert ten_hours["unit_price_excl_vat"] == 333


def test_a_credit_note_line_is_the_exact_negative_of_its_invoice_line() -> None:
    mirrored = negated_line(line(1500))
    assert (mirrored["amount_excl_vat"], mirrored["vat_amount"], mirrored["amount_incl_vat"]) == (
        -1250,
        -250,
        -1500,
    )
    assert totals([line(1500), mirrored]) == {"excl_vat": 0, "vat": 0, "incl_vat": 0}


def test_a_franchise_operator_charges_no_vat_and_says_why() -> None:
    assert line(1500, franchise=True)["vat_amount"] == 0
    assert line(1500, franchise=True)["vat_rate"] == "0.00"
    mentions = legal_mentions({"vat_regime": "franchise"}, PERSON, PAID, None)
    assert FRANCHISE_MENTION in mentions
    assert FRANCHISE_MENTION == "TVA non applicable, art. 293 B du CGI"


def test_a_private_buyer_gets_the_payment_mention_and_the_consumer_notes() -> None:
    mentions = legal_mentions(NORMAL, PERSON, PAID, None)
    assert mentions == [
        "Facture acquittée le 02/12/2026 par carte bancaire",
        "Escompte pour paiement anticipé : néant",
        "Pénalités de retard : sans objet, facture acquittée",
        "Indemnité forfaitaire pour frais de recouvrement : non applicable "
        "(client non professionnel)",
    ]


def test_a_business_buyer_gets_terms_penalties_and_the_40_euro_indemnity() -> None:
    due = {"status": "due", "method": "transfer", "paid_at": None, "due_date": "2027-01-31"}
    mentions = legal_mentions(NORMAL, BUSINESS, due, None)
    assert "Conditions de paiement : à réception, au plus tard le 31/01/2027" in mentions
    assert all(m in mentions for m in B2B_MENTIONS)
    assert any("40 €" in m for m in mentions)
    assert any("prestations de services" in m for m in mentions)


def test_a_business_of_another_eu_state_gets_the_business_mentions() -> None:
    mentions = legal_mentions(NORMAL, EU_BUSINESS, PAID, None)
    assert all(m in mentions for m in B2B_MENTIONS)
    assert not any("client non professionnel" in m for m in mentions)


@pytest.mark.parametrize(
    ("buyer", "category"),
    [
        (BUSINESS, "B2B"),
        (EU_BUSINESS, "B2BINT"),
        (PERSON, "B2C"),
        ({**EU_BUSINESS, "company_name": None}, "B2C"),  # a person with a VAT number
        ({**EU_BUSINESS, "address": {"country": "FR"}}, "B2C"),  # established in France
        ({**EU_BUSINESS, "vat_number": None}, "B2C"),  # no proof it is taxable
    ],
)
def test_the_buyer_category_is_that_of_br_fr_20(buyer: dict[str, Any], category: str) -> None:
    assert buyer_category(buyer) == category


def test_a_seller_taxed_on_debits_says_it_opted_for_it() -> None:
    on_debits = {**NORMAL, "vat_on_debits": True}
    assert legal_mentions(on_debits, PERSON, PAID, None)[0] == VAT_ON_DEBITS_MENTION
    assert VAT_ON_DEBITS_MENTION == "Option pour le paiement de la taxe d'après les débits"
    assert VAT_ON_DEBITS_MENTION not in legal_mentions(NORMAL, PERSON, PAID, None)
    assert VAT_ON_DEBITS_MENTION not in legal_mentions(
        {"vat_regime": "franchise", "vat_on_debits": True}, PERSON, PAID, None
    )


def test_a_credit_note_says_the_refund_went_back_the_way_it_was_paid() -> None:
    refund = {**PAID, "method": "sepa_debit"}
    mentions = legal_mentions(NORMAL, PERSON, refund, ("RL-2026-000001", "2026-12-02"))
    assert "Remboursé le 02/12/2026 par prélèvement SEPA" in mentions


def test_a_credit_note_refers_to_its_invoice_number_and_date() -> None:
    mentions = legal_mentions(NORMAL, PERSON, PAID, ("RL-2026-000001", "2026-12-02"))
    assert "Avoir se rapportant à la facture n° RL-2026-000001 du 02/12/2026" in mentions


def test_the_hash_covers_the_document_and_the_previous_hash() -> None:
    document = {"number": "RL-2026-000001", "totals": {"incl_vat": 1500}}
    first = chain_hash(document, GENESIS_HASH)
    assert first == chain_hash({**document, "hash": "ignored"}, GENESIS_HASH)
    assert first != chain_hash(document, "1" * 64)
    assert first != chain_hash({**document, "totals": {"incl_vat": 150}}, GENESIS_HASH)


def test_document_ids_name_operator_year_and_sequence() -> None:
    assert parse_document_id("inv-op_abc-2026-000042") == ("op_abc", 2026, 42)
    assert parse_document_id("bkg_123") is None
    assert parse_document_id("inv-garbage") is None
