"""A partial refund's credit note lines: cumulative shares of the invoice's lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chalicelib.domain.invoice import (
    Sale,
    document_line,
    document_lines,
    negated_line,
    partial_credit_lines,
    rest_credit_lines,
    totals,
    vat_breakdown,
)
from chalicelib.domain.money import round_half_up

DAY = date(2026, 12, 4)


def line(description: str, amount: int, rate: str = "20.00", day: date = DAY) -> dict:
    return document_line(Sale(description, amount, Decimal(rate), day), franchise=False)


def refunded_in(invoice: list[dict], amounts: list[int]) -> list[list[dict]]:
    notes, credited = [], 0
    for amount in amounts:
        notes.append(partial_credit_lines(invoice, amount, credited))
        credited -= totals(notes[-1])["incl_vat"]
    return notes


def test_a_partial_refund_credits_the_invoice_line_for_its_service_date() -> None:
    assert partial_credit_lines([line("Journée", 1500)], 500) == [
        {
            "description": "Remboursement partiel — Journée",
            "quantity": "1",
            "unit_price_excl_vat": -417,
            "vat_rate": "20.00",
            "amount_excl_vat": -417,
            "vat_amount": -83,
            "amount_incl_vat": -500,
            "service_date": "2026-12-04",
        }
    ]


def test_refunds_adding_up_to_the_invoice_negate_its_vat_exactly() -> None:
    invoice = [line("Journée", 1500)]
    notes = refunded_in(invoice, [500, 500, 500])
    assert [totals(n)["vat"] for n in notes] == [-83, -84, -83]
    assert totals([c for n in notes for c in n]) == {
        "excl_vat": -1250,
        "vat": -250,
        "incl_vat": -1500,
    }


def test_each_line_and_rate_of_a_multi_rate_invoice_is_credited_pro_rata() -> None:
    invoice = [
        line("Journée", 3333),
        line("Repas", 4444, "5.50"),
        line("Salle", 2223, day=date(2026, 12, 8)),
    ]
    notes = refunded_in(invoice, [1, 2999, 17, 5000, 1983])
    assert [totals(n)["incl_vat"] for n in notes] == [-1, -2999, -17, -5000, -1983]
    credited = [c for n in notes for c in n]
    assert vat_breakdown(credited) == [
        {"rate": r["rate"], "base": -r["base"], "vat": -r["vat"]} for r in vat_breakdown(invoice)
    ]
    for index, invoiced in enumerate(invoice):
        mine = [c for c in credited if c["description"].endswith(invoiced["description"])]
        assert {c["service_date"] for c in mine} == {invoiced["service_date"]}
        assert sum(c["vat_amount"] for c in mine) == -invoiced["vat_amount"], index
        assert sum(c["amount_incl_vat"] for c in mine) == -invoiced["amount_incl_vat"]


def test_lines_credited_nothing_are_left_out_but_a_note_keeps_one() -> None:
    invoice = [line("Journée", 10000), line("Café", 10, "5.50")]
    assert [c["description"] for c in partial_credit_lines(invoice, 1)] == [
        "Remboursement partiel — Journée"
    ]
    assert len(partial_credit_lines(invoice, 0)) == 1


def test_a_refund_beyond_what_is_left_is_credited_on_its_own() -> None:
    invoice = [line("Journée", 1500)]
    alone = partial_credit_lines(invoice, 500)
    assert partial_credit_lines(invoice, 500, credited_before=1200) == alone


def test_partial_refunds_of_a_long_invoice_state_per_rate_the_vat_of_their_base() -> None:
    # GIVEN 301 hours at 4,00 € and 40 coffees at 1,10 € (5.5 %), its VAT spread per rate
    hours = [Sale(f"Heure {n}", 400, Decimal("20.00"), DAY) for n in range(301)]
    coffees = [Sale(f"Café {n}", 110, Decimal("5.50"), DAY) for n in range(40)]
    invoice = document_lines([*hours, *coffees], franchise=False)

    # WHEN it is refunded in three parts
    notes = refunded_in(invoice, [50000, 30001, 44799])

    # THEN each note states per rate the VAT of its base (EN 16931 BR-CO-17) ...
    for note in notes:
        for rate in vat_breakdown(note):
            expected = round_half_up(Decimal(rate["base"]) * Decimal(rate["rate"]) / 100)
            assert abs(rate["vat"] - expected) <= 1, rate
    # ... and together they negate the invoice exactly, line by line
    credited = [c for n in notes for c in n]
    assert vat_breakdown(credited) == [
        {"rate": r["rate"], "base": -r["base"], "vat": -r["vat"]} for r in vat_breakdown(invoice)
    ]
    for invoiced in invoice:
        mine = [c for c in credited if c["description"].endswith(f"— {invoiced['description']}")]
        assert sum(c["vat_amount"] for c in mine) == -invoiced["vat_amount"]
        assert sum(c["amount_incl_vat"] for c in mine) == -invoiced["amount_incl_vat"]


# -- what earlier credit notes left: each line less what they credited of it ---------------


def with_booking(invoice_line: dict, booking_id: str) -> dict:
    return {**invoice_line, "booking_id": booking_id}


def test_what_is_left_after_a_whole_line_was_credited_is_the_other_lines() -> None:
    desk = with_booking(line("Bureau partagé", 1500), "bkg_desk")
    office = with_booking(line("Bureau", 4400, "10.00"), "bkg_office")
    rest = rest_credit_lines([desk, office], [negated_line(desk)])
    assert rest == [negated_line(office)]
    assert vat_breakdown(rest) == [{"rate": "10.00", "base": -4000, "vat": -400}]


def test_what_is_left_after_pro_rata_refunds_is_each_lines_balance_to_the_cent() -> None:
    invoice = [line("Journée", 1500), line("Salle", 4400, "10.00")]
    earlier = refunded_in(invoice, [1000, 333])
    rest = rest_credit_lines(invoice, [c for note in earlier for c in note])
    assert rest is not None
    assert all(c["description"].startswith("Solde — ") for c in rest)
    every = [c for note in [*earlier, rest] for c in note]
    assert vat_breakdown(every) == [
        {"rate": "20.00", "base": -1250, "vat": -250},
        {"rate": "10.00", "base": -4000, "vat": -400},
    ]


def test_nothing_credited_before_leaves_every_line_as_issued() -> None:
    invoice = [line("Journée", 1500), line("Journée", 1500)]  # one key for two lines
    assert rest_credit_lines(invoice, []) == [negated_line(c) for c in invoice]
    # a whole line credited: the key's credit goes to its first line
    assert rest_credit_lines(invoice, [negated_line(invoice[0])]) == [negated_line(invoice[1])]


def test_a_credited_line_matching_no_invoice_line_leaves_it_to_the_pro_rata_rule() -> None:
    invoice = [line("Journée", 1500)]
    assert rest_credit_lines(invoice, [negated_line(line("Autre chose", 500))]) is None
