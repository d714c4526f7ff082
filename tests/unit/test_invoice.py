"""Invoice maths, legal mentions and the hash chain (golden values)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chalicelib.domain.invoice import (
    B2B_MENTIONS,
    FRANCHISE_MENTION,
    GENESIS_HASH,
    Sale,
    chain_hash,
    document_line,
    legal_mentions,
    negated_line,
    parse_document_id,
    totals,
    vat_breakdown,
)

DAY = date(2026, 12, 2)
PAID = {"status": "paid", "method": "card", "paid_at": "2026-12-02T10:15:00+01:00"}
NORMAL = {"name": "SCIC Relais 77", "vat_regime": "normal"}
PERSON = {"name": "Camille Martin", "siren": None}
BUSINESS = {"name": "Camille Martin", "company_name": "Atelier X", "siren": "552100554"}


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


def test_vat_is_rounded_per_line_then_summed_per_rate() -> None:
    # 3 x 1000 at 20 %: 167 VAT per line (166.67 rounded), 501 in all, not round(500.0)
    lines = [line(1000), line(1000), line(1000), line(2000, "5.50")]
    assert vat_breakdown(lines) == [
        {"rate": "20.00", "base": 2499, "vat": 501},
        {"rate": "5.50", "base": 1896, "vat": 104},
    ]
    assert totals(lines) == {"excl_vat": 4395, "vat": 605, "incl_vat": 5000}


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
