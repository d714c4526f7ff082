"""Pure rules of accounting periods, lettering and sealed archives."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

from chalicelib.domain import periods as rules
from chalicelib.domain.archive import broken_files, seal, unseal
from chalicelib.domain.ledger import Journal, LedgerLine
from chalicelib.domain.lettering import letter_code, letters


def line(entry_id: str, day: date, debit: int = 0, credit: int = 0, aux: str = "") -> LedgerLine:
    return LedgerLine(
        entry_id=entry_id,
        journal=Journal.bank,
        entry_date=day,
        account="411000" if aux else "512000",
        account_label="Clients",
        label="Paiement",
        piece_ref="RL-2026-000001",
        piece_date=day,
        debit=debit,
        credit=credit,
        aux_account=aux,
        aux_label=aux,
        recorded_at=datetime(2026, 12, 1, 8, 0),
        operator_id="op_1",
    )


def test_month_arithmetic_crosses_the_year() -> None:
    assert (rules.next_month("2026-12"), rules.previous_month("2027-01")) == ("2027-01", "2026-12")


def test_first_open_skips_closed_and_closing_months() -> None:
    known = {"2026-10": rules.CLOSED, "2026-11": rules.CLOSING}
    assert rules.first_open("2026-10", known) == "2026-12"


def test_refusal_of_the_current_month() -> None:
    assert "not over" in (rules.refusal("2026-12", "2026-10", "2026-12", {}, []) or "")


def test_refusal_when_the_month_before_is_open() -> None:
    assert "2026-10" in (rules.refusal("2026-11", "2026-10", "2026-12", {}, []) or "")


def test_refusal_names_unreconciled_payouts() -> None:
    assert "po_9" in (rules.refusal("2026-10", "2026-10", "2026-12", {}, ["po_9"]) or "")


def test_first_month_after_start_may_close() -> None:
    assert rules.refusal("2026-10", "2026-10", "2026-12", {}, []) is None


def test_place_moves_a_closed_month_entry_and_keeps_its_date_in_the_label() -> None:
    (placed,) = rules.place([line("fee-1", date(2026, 10, 20), debit=5)], "2026-11")
    assert (placed.entry_date, placed.label, placed.piece_date) == (
        date(2026, 11, 1),
        "Paiement (du 20/10/2026)",
        date(2026, 10, 20),
    )


def test_place_leaves_an_open_month_entry_alone() -> None:
    original = line("fee-1", date(2026, 11, 20), debit=5)
    assert rules.place([original], "2026-11") == [original]


def test_letter_codes_run_a_to_z_then_aa() -> None:
    assert [letter_code(n) for n in (1, 26, 27, 703)] == ["A", "Z", "AA", "AAA"]


def test_settled_customer_lines_of_a_document_share_a_letter_dated_at_settlement() -> None:
    doc = "inv-op_1-2026-000003"
    found = letters(
        [
            line(f"{doc}-VE", date(2026, 12, 1), debit=1500, aux="m1"),
            line(f"{doc}-cpay_1", date(2026, 12, 9), credit=1500, aux="m1"),
        ]
    )
    assert found == {
        f"{doc}-VE": ("C", date(2026, 12, 9)),
        f"{doc}-cpay_1": ("C", date(2026, 12, 9)),
    }


def test_a_company_credit_note_is_lettered_with_the_invoice_it_reduces() -> None:
    """Invoice 30.00, a credit note of 15.00 (a day cancelled in time), a transfer of 15.00:
    settled together, under the invoice's letter."""
    doc, note = "inv-op_1-2026-000003", "inv-op_1-2026-000004"
    credit_note = line(f"{note}-VE", date(2026, 12, 5), credit=1500, aux="cmp_1")
    found = letters(
        [
            line(f"{doc}-VE", date(2026, 12, 1), debit=3000, aux="cmp_1"),
            dataclasses.replace(credit_note, letter_with=doc),
            line(f"{doc}-cpay_1", date(2026, 12, 9), credit=1500, aux="cmp_1"),
        ]
    )
    settled = ("C", date(2026, 12, 9))
    assert found == {f"{doc}-VE": settled, f"{note}-VE": settled, f"{doc}-cpay_1": settled}


def test_a_partly_paid_document_is_not_lettered() -> None:
    doc = "inv-op_1-2026-000003"
    found = letters(
        [
            line(f"{doc}-VE", date(2026, 12, 1), debit=1500, aux="m1"),
            line(f"{doc}-cpay_1", date(2026, 12, 9), credit=1000, aux="m1"),
        ]
    )
    assert found == {}


def test_sealing_the_same_files_twice_gives_the_same_bytes() -> None:
    files = {"b.txt": b"2", "a.txt": b"1"}
    assert seal("op_1", "2026-10", "0" * 64, files) == seal("op_1", "2026-10", "0" * 64, files)


def test_an_altered_file_is_named_by_the_manifest_check() -> None:
    listing, files = unseal(seal("op_1", "2026-10", "0" * 64, {"a.txt": b"1"}))
    assert broken_files(listing, {**files, "a.txt": b"2"}) == ["a.txt"]
