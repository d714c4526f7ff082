"""The FEC checker, on a hand-written file (not produced by chalicelib.domain.fec)."""

from __future__ import annotations

import pytest

from tests.support.fec_checker import check_fec

FILENAME = "552100554FEC20261231.txt"
HEADER = (
    "JournalCode|JournalLib|EcritureNum|EcritureDate|CompteNum|CompteLib|CompAuxNum|"
    "CompAuxLib|PieceRef|PieceDate|EcritureLib|Debit|Credit|EcritureLet|DateLet|ValidDate|"
    "Montantdevise|Idevise"
)
GOOD = [
    HEADER,
    "VE|Ventes|1|20260302|411000|Clients|C0001|Atelier Dupont|F2026-0001|20260302|"
    "Facture F2026-0001|1500,00|0,00|||20260302||",
    "VE|Ventes|1|20260302|706000|Prestations de services|||F2026-0001|20260302|"
    "Facture F2026-0001|0,00|1250,00|||20260302||",
    "VE|Ventes|1|20260302|44571|TVA collectée|||F2026-0001|20260302|"
    "Facture F2026-0001|0,00|250,00|||20260302||",
    "BQ|Banque Stripe|2|20260303|467000|Stripe - attente|||pi_3Abc|20260303|"
    "Paiement F2026-0001|1500|0|||20260303||",
    "BQ|Banque Stripe|2|20260303|411000|Clients|C0001|Atelier Dupont|pi_3Abc|20260303|"
    "Paiement F2026-0001|0|1500|||20260303||",
    "BQ|Banque Stripe|3|20260303|627000|Frais bancaires|||txn_1|20260303|"
    "Frais Stripe|0,4|0,00|||20260304||",
    "BQ|Banque Stripe|3|20260303|467000|Stripe - attente|||txn_1|20260303|"
    "Frais Stripe|0,00|0,40|||20260304||",
    "BQ|Banque Stripe|4|20261231|512000|Banque|||po_1|20261231|"
    "Virement Stripe|1499,60|0,00|||20270102|1499,60|EUR",
    "BQ|Banque Stripe|4|20261231|467000|Stripe - attente|||po_1|20261231|"
    "Virement Stripe|0,00|1499,60|||20270102||",
]

# Column positions.
NUM, DATE, ACCOUNT, AUX, AUX_LIB, PIECE, PIECE_DATE, LABEL, DEBIT, CREDIT = (
    2, 3, 4, 6, 7, 8, 9, 10, 11, 12,
)  # fmt: skip
LET_DATE, VALID, CURRENCY_AMOUNT, CURRENCY = 14, 15, 16, 17


def text(records: list[str], end: str = "\r\n") -> str:
    return end.join(records) + end


def edited(*changes: tuple[int, int, str]) -> str:
    """The good file with (record index, field index) set to a value."""
    records = [record.split("|") for record in GOOD]
    for record, field, value in changes:
        records[record][field] = value
    return text(["|".join(fields) for fields in records])


def violations(content: str, filename: str | None = FILENAME) -> list[str]:
    return check_fec(content, filename)


def assert_only(found: list[str], *fragments: str) -> None:
    """Exactly one violation per fragment, each containing it."""
    assert len(found) == len(fragments), found
    for fragment in fragments:
        assert any(fragment in violation for violation in found), (fragment, found)


# --- accepted files -----------------------------------------------------------------


def test_the_good_file_passes() -> None:
    assert violations(text(GOOD)) == []


@pytest.mark.parametrize("end", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "cr"])
def test_any_record_separator_is_accepted_when_consistent(end: str) -> None:
    assert violations(text(GOOD, end)) == []
    assert violations(end.join(GOOD)) == []  # no line break after the last record


def test_a_tab_separated_file_passes_and_may_contain_a_pipe_in_a_label() -> None:
    records = [record.replace("|", "\t") for record in GOOD]
    records[1] = records[1].replace("Facture F2026-0001", "Facture | F2026-0001")

    assert violations(text(records)) == []


def test_a_utf8_byte_order_mark_is_tolerated() -> None:
    assert violations("\ufeff" + text(GOOD)) == []


def test_the_filename_is_optional() -> None:
    assert violations(text(GOOD), filename=None) == []


# --- file name and fiscal year ------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "fragment"),
    [
        ("55210055FEC20261231.txt", "does not match SIRENFECAAAAMMJJ.txt"),
        ("552100554FEC20261231.csv", "does not match SIRENFECAAAAMMJJ.txt"),
        ("552100554_FEC_2026.txt", "does not match SIRENFECAAAAMMJJ.txt"),
        ("552100554fec20261231.txt", "does not match SIRENFECAAAAMMJJ.txt"),
        ("552100554FEC2026123.txt", "does not match SIRENFECAAAAMMJJ.txt"),
        ("552100554FEC20261331.txt", "closing date 20261331 is not a calendar date"),
        ("552100555FEC20261231.txt", "SIREN 552100555 fails its check digit"),
    ],
)
def test_a_bad_filename_is_reported(filename: str, fragment: str) -> None:
    assert_only(violations(text(GOOD), filename), fragment)


def test_entries_outside_the_fiscal_year_of_the_filename_are_reported() -> None:
    found = violations(text(GOOD), "552100554FEC20251231.txt")

    assert len(found) == len(GOOD) - 1
    assert all("outside the fiscal year 20250101-20251231" in v for v in found)


def test_a_fiscal_year_closing_mid_year_runs_twelve_months() -> None:
    found = violations(text(GOOD), "552100554FEC20261130.txt")

    assert_only(
        found,
        "line 9: EcritureDate 20261231 outside the fiscal year 20251201-20261130",
        "line 10: EcritureDate 20261231 outside the fiscal year 20251201-20261130",
    )


# --- structure ----------------------------------------------------------------------


def test_an_empty_file_is_reported() -> None:
    assert_only(violations(""), "file: empty")


def test_a_header_without_entries_is_reported() -> None:
    assert_only(violations(text([HEADER])), "no entry line after the header")


def test_wrong_header_order_is_reported() -> None:
    records = list(GOOD)
    records[0] = HEADER.replace("Debit|Credit", "Credit|Debit")

    assert_only(violations(text(records)), "fields out of the legal order: ['Credit', 'Debit']")


@pytest.mark.parametrize(
    "header",
    [
        HEADER.replace("Montantdevise", "MontantDevise"),
        HEADER.replace("|Idevise", ""),
        HEADER + "|CodeEtablissement",
        HEADER.lower(),
    ],
    ids=["case", "missing", "extra", "lowercase"],
)
def test_a_header_without_exactly_the_18_names_is_reported(header: str) -> None:
    records = [header, *GOOD[1:]]

    found = violations(text(records))

    assert any(v.startswith("header: expected the 18 fields") for v in found), found


def test_a_semicolon_separated_file_is_refused() -> None:
    records = [record.replace("|", ";") for record in GOOD]

    assert_only(violations(text(records)), "header: no tab or '|' separator")


def test_a_header_using_both_separators_is_refused() -> None:
    records = [HEADER.replace("|Idevise", "\tIdevise"), *GOOD[1:]]

    assert_only(violations(text(records)), "both tab and '|' used")


def test_rows_using_another_separator_than_the_header_are_reported() -> None:
    records = [HEADER.replace("|", "\t"), *GOOD[1:]]

    found = violations(text(records))

    assert len(found) == len(GOOD) - 1
    assert all("1 fields instead of 18" in v for v in found)


def test_a_separator_inside_a_field_is_reported() -> None:
    records = list(GOOD)
    records[2] = records[2].replace("Prestations de services", "Prestations | services")

    found = violations(text(records))

    # The broken line is not read, so its entry is also short of 12,50 of credit.
    assert_only(found, "line 3: 19 fields instead of 18", "EcritureNum 1 is unbalanced")


def test_mixed_line_endings_are_reported() -> None:
    content = "\r\n".join(GOOD[:4]) + "\n" + "\r\n".join(GOOD[4:]) + "\r\n"

    assert_only(violations(content), "file: mixed line endings ('\\n', '\\r\\n')")


def test_an_empty_line_is_reported() -> None:
    records = [*GOOD[:4], "", *GOOD[4:]]

    assert_only(violations(text(records)), "line 5: empty line")


# --- fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount", ["1500.00", "1 500,00", "1.500,00", "1500,000", "1500,", "+1500,00", "1500,00 €"]
)
def test_amounts_need_a_decimal_comma_and_no_thousands_separator(amount: str) -> None:
    content = edited((1, DEBIT, amount))

    found = violations(content)

    assert any(f"line 2: Debit {amount!r} is not an amount" in v for v in found), found


def test_a_negative_amount_is_reported() -> None:
    # Balanced, but with signed amounts: the fee entry written the other way round.
    content = edited(
        (6, DEBIT, "0,00"), (6, CREDIT, "-0,40"), (7, DEBIT, "-0,40"), (7, CREDIT, "0")
    )

    assert_only(
        violations(content),
        "line 7: Credit '-0,40' is negative",
        "line 8: Debit '-0,40' is negative",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (DATE, "20260230"),
        (DATE, "2026-03-02"),
        (DATE, "02032026"),
        (PIECE_DATE, "20261301"),
        (VALID, "2026030"),
        (LET_DATE, "31/12/2026"),
    ],
)
def test_a_bad_date_is_reported(field: int, value: str) -> None:
    found = violations(edited((2, field, value)))

    assert any("line 3: " in v and f"{value!r} is not a valid AAAAMMJJ date" in v for v in found)


def test_an_entry_date_change_inside_an_entry_is_reported() -> None:
    found = violations(edited((2, DATE, "20260301")))

    assert_only(found, "EcritureNum 1 has several EcritureDate: ['20260301', '20260302']")


def test_an_entry_across_two_journals_is_reported() -> None:
    found = violations(edited((2, 0, "OD")))

    assert_only(found, "EcritureNum 1 has several JournalCode: ['OD', 'VE']")


@pytest.mark.parametrize("account", ["41", "4A1000", "C0001", " 411000"])
def test_an_account_without_three_leading_digits_is_reported(account: str) -> None:
    assert_only(
        violations(edited((1, ACCOUNT, account))),
        f"line 2: CompteNum {account!r} does not start with 3 digits",
    )


@pytest.mark.parametrize(
    ("field", "name"),
    [(0, "JournalCode"), (1, "JournalLib"), (5, "CompteLib"), (PIECE, "PieceRef"),
     (PIECE_DATE, "PieceDate"), (LABEL, "EcritureLib"), (VALID, "ValidDate"),
     (ACCOUNT, "CompteNum")],
)  # fmt: skip
def test_a_mandatory_field_left_blank_is_reported(field: int, name: str) -> None:
    found = violations(edited((4, field, "  ")))

    assert f"line 5: {name} is empty" in found, found


def test_empty_debit_or_credit_is_reported() -> None:
    found = violations(edited((4, CREDIT, "")))

    assert "line 5: Credit is empty" in found


def test_an_auxiliary_account_needs_its_label() -> None:
    assert_only(
        violations(edited((1, AUX_LIB, ""))), "line 2: CompAuxNum 'C0001' without CompAuxLib"
    )


def test_a_currency_amount_needs_its_currency() -> None:
    assert_only(violations(edited((8, CURRENCY, ""))), "line 9: Montantdevise without Idevise")


def test_debit_and_credit_on_one_line_are_reported() -> None:
    content = edited((6, CREDIT, "0,40"), (7, DEBIT, "0,40"))

    assert_only(
        violations(content),
        "line 7: both Debit and Credit are non-zero",
        "line 8: both Debit and Credit are non-zero",
    )


# --- entries ------------------------------------------------------------------------


def test_an_unbalanced_entry_is_reported() -> None:
    found = violations(edited((3, CREDIT, "249,99")))

    assert_only(found, "line 2: EcritureNum 1 is unbalanced: debit 1500,00 != credit 1499,99")


def test_a_gap_in_the_numbering_is_reported() -> None:
    content = edited((6, NUM, "4"), (7, NUM, "4"), (8, NUM, "5"), (9, NUM, "5"))

    assert_only(violations(content), "file: EcritureNum sequence 1..5 has gaps, missing 3")


def test_numbering_must_start_at_1() -> None:
    renumbered = [(index, NUM, str(int(GOOD[index].split("|")[NUM]) + 1)) for index in range(1, 10)]

    assert_only(violations(edited(*renumbered)), "sequence 1..5 has gaps, missing 1")


def test_an_inversion_in_the_numbering_is_reported() -> None:
    content = edited((4, NUM, "3"), (5, NUM, "3"), (6, NUM, "2"), (7, NUM, "2"))

    found = violations(content)

    assert_only(found, "line 7: EcritureNum 2 after 3: numbers must increase (inversion)")


def test_an_entry_booked_late_may_be_dated_before_the_previous_one() -> None:
    """Numbers follow the recording: an entry booked late keeps the next number."""
    content = edited((4, DATE, "20260301"), (5, DATE, "20260301"))

    assert violations(content) == []


def test_the_lines_of_an_entry_must_be_contiguous() -> None:
    records = list(GOOD)
    records[3], records[4] = records[4], records[3]

    found = violations(text(records))

    assert any("line 5: EcritureNum 1 resumes after another entry" in v for v in found), found


def test_many_missing_numbers_are_listed_briefly() -> None:
    content = edited((8, NUM, "99999999999"), (9, NUM, "99999999999"))

    assert_only(
        violations(content),
        "file: EcritureNum sequence 1..99999999999 has gaps, missing 4, 5, 6, 7, 8, 9, 10, 11,"
        " 12, 13, ...",
    )


def test_a_non_integer_entry_number_is_reported() -> None:
    content = edited((8, NUM, "BQ4"), (9, NUM, "BQ4"))

    assert_only(violations(content), "line 9: EcritureNum 'BQ4' is not an integer")
