from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.fec import FEC_COLUMNS, fec_filename, number_entries, render_fec
from chalicelib.domain.ledger import ACCOUNT_LABELS, Journal, LedgerLine
from tests.support.fec_checker import check_fec

PARIS = ZoneInfo("Europe/Paris")
SIREN = "552100554"
HEADER = (
    "JournalCode|JournalLib|EcritureNum|EcritureDate|CompteNum|CompteLib|CompAuxNum|"
    "CompAuxLib|PieceRef|PieceDate|EcritureLib|Debit|Credit|EcritureLet|DateLet|ValidDate|"
    "Montantdevise|Idevise"
)


class Entry(NamedTuple):
    """What the lines of one entry share."""

    entry_id: str
    journal: Journal
    day: date
    label: str
    piece: str
    recorded_at: datetime | None

    def line(
        self, account: str, *, debit: int = 0, credit: int = 0, aux: tuple[str, str] = ("", "")
    ) -> LedgerLine:
        return LedgerLine(
            entry_id=self.entry_id,
            journal=self.journal,
            entry_date=self.day,
            account=account,
            account_label=ACCOUNT_LABELS[account],
            label=self.label,
            piece_ref=self.piece,
            piece_date=self.day,
            debit=debit,
            credit=credit,
            aux_account=aux[0],
            aux_label=aux[1],
            recorded_at=self.recorded_at,
        )


CUSTOMER = ("C0001", "Atelier Dupont")
MARCH_2 = date(2026, 3, 2)
MARCH_4 = date(2026, 3, 4)
MARCH_9 = date(2026, 3, 9)


def invoice() -> list[LedgerLine]:
    at = datetime(2026, 3, 2, 9, 15, tzinfo=PARIS)
    entry = Entry("inv1", Journal.sales, MARCH_2, "Facture F2026-0001", "F2026-0001", at)
    return [
        entry.line("411000", debit=1500, aux=CUSTOMER),
        entry.line("706000", credit=1250),
        entry.line("445710", credit=250),
    ]


def payment() -> list[LedgerLine]:
    at = datetime(2026, 3, 2, 9, 16, tzinfo=PARIS)
    entry = Entry("pay1", Journal.bank, MARCH_2, "Paiement carte F2026-0001", "pi_3Abc", at)
    return [
        entry.line("467000", debit=1500),
        entry.line("411000", credit=1500, aux=CUSTOMER),
    ]


def fee() -> list[LedgerLine]:
    at = datetime(2026, 3, 2, 9, 16, 30, tzinfo=PARIS)
    entry = Entry("fee1", Journal.bank, MARCH_2, "Frais Stripe pi_3Abc", "txn_3Abc", at)
    return [entry.line("627000", debit=46), entry.line("467000", credit=46)]


def payout() -> list[LedgerLine]:
    # Recorded late in the evening UTC: already the next day in Paris.
    at = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)
    entry = Entry("po1", Journal.bank, MARCH_4, "Virement Stripe po_1Xyz", "po_1Xyz", at)
    return [entry.line("512000", debit=1454), entry.line("467000", credit=1454)]


def credit_note() -> list[LedgerLine]:
    at = datetime(2026, 3, 9, 14, 0, tzinfo=PARIS)
    entry = Entry("cn1", Journal.sales, MARCH_9, "Avoir A2026-0001", "A2026-0001", at)
    return [
        entry.line("706000", debit=1250),
        entry.line("445710", debit=250),
        entry.line("411000", credit=1500, aux=CUSTOMER),
    ]


def ledger() -> list[LedgerLine]:
    return invoice() + payment() + fee() + payout() + credit_note()


EXPECTED = [
    HEADER,
    "VE|Ventes|1|20260302|411000|Clients|C0001|Atelier Dupont|F2026-0001|20260302|"
    "Facture F2026-0001|15,00|0,00|||20260302||",
    "VE|Ventes|1|20260302|706000|Prestations de services|||F2026-0001|20260302|"
    "Facture F2026-0001|0,00|12,50|||20260302||",
    "VE|Ventes|1|20260302|445710|TVA collectée|||F2026-0001|20260302|"
    "Facture F2026-0001|0,00|2,50|||20260302||",
    "BQ|Banque Stripe|2|20260302|467000|Stripe - compte d'attente|||pi_3Abc|20260302|"
    "Paiement carte F2026-0001|15,00|0,00|||20260302||",
    "BQ|Banque Stripe|2|20260302|411000|Clients|C0001|Atelier Dupont|pi_3Abc|20260302|"
    "Paiement carte F2026-0001|0,00|15,00|||20260302||",
    "BQ|Banque Stripe|3|20260302|627000|Services bancaires (frais Stripe)|||txn_3Abc|20260302|"
    "Frais Stripe pi_3Abc|0,46|0,00|||20260302||",
    "BQ|Banque Stripe|3|20260302|467000|Stripe - compte d'attente|||txn_3Abc|20260302|"
    "Frais Stripe pi_3Abc|0,00|0,46|||20260302||",
    "BQ|Banque Stripe|4|20260304|512000|Banque|||po_1Xyz|20260304|"
    "Virement Stripe po_1Xyz|14,54|0,00|||20260305||",
    "BQ|Banque Stripe|4|20260304|467000|Stripe - compte d'attente|||po_1Xyz|20260304|"
    "Virement Stripe po_1Xyz|0,00|14,54|||20260305||",
    "VE|Ventes|5|20260309|706000|Prestations de services|||A2026-0001|20260309|"
    "Avoir A2026-0001|12,50|0,00|||20260309||",
    "VE|Ventes|5|20260309|445710|TVA collectée|||A2026-0001|20260309|"
    "Avoir A2026-0001|2,50|0,00|||20260309||",
    "VE|Ventes|5|20260309|411000|Clients|C0001|Atelier Dupont|A2026-0001|20260309|"
    "Avoir A2026-0001|0,00|15,00|||20260309||",
]


def records(text: str) -> list[str]:
    assert text.endswith("\r\n")
    return text.removesuffix("\r\n").split("\r\n")


def test_columns_are_the_18_legal_names_in_order() -> None:
    assert "|".join(FEC_COLUMNS) == HEADER
    assert len(FEC_COLUMNS) == 18


def test_renders_every_line_of_a_realistic_month_exactly() -> None:
    text = render_fec(ledger(), 2026)

    assert records(text) == EXPECTED
    assert "\n" not in text.replace("\r\n", "")  # CR LF everywhere, nothing else


def test_the_rendered_file_passes_the_independent_checker() -> None:
    text = render_fec(ledger(), 2026)

    assert check_fec(text, fec_filename(SIREN, 2026)) == []


def test_amounts_use_a_decimal_comma_and_no_thousands_separator() -> None:
    entry = Entry("big", Journal.misc, MARCH_2, "Virement", "p1", None)
    big = [entry.line("512000", debit=123456789), entry.line("467000", credit=123456789)]

    fields = records(render_fec(big, 2026))[1].split("|")

    assert (fields[11], fields[12]) == ("1234567,89", "0,00")
    assert fields[1] == "Opérations diverses"
    # No recorded_at: the entry is validated on its own date.
    assert fields[15] == "20260302"


def test_numbering_is_continuous_in_date_order_whatever_the_input_order() -> None:
    shuffled = list(reversed(credit_note() + payout() + fee() + invoice() + payment()))

    numbered = number_entries(shuffled)

    assert [(n, ln.entry_id) for n, ln in numbered] == [
        (1, "inv1"), (1, "inv1"), (1, "inv1"),
        (2, "pay1"), (2, "pay1"),
        (3, "fee1"), (3, "fee1"),
        (4, "po1"), (4, "po1"),
        (5, "cn1"), (5, "cn1"), (5, "cn1"),
    ]  # fmt: skip
    # Within an entry the lines keep their input order (here reversed).
    assert [ln.account for n, ln in numbered if n == 1] == ["445710", "706000", "411000"]
    # The file holds the same records as when the lines come in order.
    assert sorted(records(render_fec(shuffled, 2026))) == sorted(EXPECTED)


def test_same_day_entries_are_ordered_by_recording_time_then_id() -> None:
    morning = datetime(2026, 3, 2, 8, 0, tzinfo=PARIS)
    # Same instant, written in UTC: ties are broken by entry id.
    same_instant = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    entries = (
        [replace(ln, entry_id="b", recorded_at=morning) for ln in fee()]
        + [replace(ln, entry_id="a", recorded_at=same_instant) for ln in fee()]
        + [replace(ln, entry_id="0-unknown-time", recorded_at=None) for ln in fee()]
        + [replace(ln, entry_id="z-early", recorded_at=morning.replace(hour=6)) for ln in fee()]
    )

    order = [ln.entry_id for _, ln in number_entries(entries)][::2]

    assert order == ["z-early", "a", "b", "0-unknown-time"]


def test_only_the_entries_of_the_year_are_exported_and_numbered_from_1() -> None:
    before = [replace(ln, entry_id="old", entry_date=date(2025, 12, 31)) for ln in fee()]
    after = [replace(ln, entry_id="new", entry_date=date(2027, 1, 1)) for ln in fee()]

    text = render_fec(before + payout() + after, 2026)

    rows = [r.split("|") for r in records(text)[1:]]
    assert [(r[2], r[3]) for r in rows] == [("1", "20260304"), ("1", "20260304")]
    assert check_fec(text, fec_filename(SIREN, 2026)) == []


def test_a_year_without_entries_is_the_header_alone() -> None:
    assert render_fec(ledger(), 2025) == HEADER + "\r\n"


def test_an_unbalanced_entry_is_refused() -> None:
    broken = invoice()
    broken[2] = replace(broken[2], credit=249)

    with pytest.raises(ValueError, match="inv1 is unbalanced: debit 15,00 != credit 14,99"):
        render_fec(broken, 2026)


@pytest.mark.parametrize("account", ["41", "4A1000", "", " 41 "])
def test_an_account_without_three_leading_digits_is_refused(account: str) -> None:
    broken = fee()
    broken[0] = replace(broken[0], account=account)

    with pytest.raises(ValueError, match="fee1"):
        render_fec(broken, 2026)


@pytest.mark.parametrize(
    ("debit", "credit", "message"),
    [
        (46, 46, "fee1: a line carries both a debit and a credit"),
        (-46, 0, "fee1: negative amount on account 627000"),
        (0, -46, "fee1: negative amount on account 627000"),
    ],
    ids=["both", "negative-debit", "negative-credit"],
)
def test_a_line_must_carry_one_positive_side(debit: int, credit: int, message: str) -> None:
    broken = fee()
    broken[0] = replace(broken[0], debit=debit, credit=credit)

    with pytest.raises(ValueError, match=message):
        render_fec(broken, 2026)


def test_lines_of_zero_are_left_out_and_a_zero_entry_takes_no_number() -> None:
    free_invoice = [replace(ln, entry_id="inv0", debit=0, credit=0) for ln in invoice()]
    no_vat = invoice()
    no_vat[0] = replace(no_vat[0], debit=1250)
    no_vat[2] = replace(no_vat[2], credit=0)

    text = render_fec(free_invoice + no_vat + payout(), 2026)

    rows = [r.split("|") for r in records(text)[1:]]
    assert [(r[2], r[4], r[11], r[12]) for r in rows] == [
        ("1", "411000", "12,50", "0,00"),
        ("1", "706000", "0,00", "12,50"),
        ("2", "512000", "14,54", "0,00"),
        ("2", "467000", "0,00", "14,54"),
    ]
    assert check_fec(text, fec_filename(SIREN, 2026)) == []


def test_the_books_of_two_operators_are_never_mixed() -> None:
    mixed = [replace(ln, operator_id="op-a") for ln in fee()] + [
        replace(ln, operator_id="op-b") for ln in payout()
    ]

    with pytest.raises(ValueError, match=r"several operators in one FEC: \['op-a', 'op-b'\]"):
        render_fec(mixed, 2026)
    one = [replace(ln, operator_id="op-a") for ln in fee() + payout()]
    assert len(records(render_fec(one, 2026))) == 5


def test_lines_of_one_entry_must_share_journal_and_date() -> None:
    split_date = fee()
    split_date[1] = replace(split_date[1], entry_date=MARCH_4)
    split_journal = fee()
    split_journal[1] = replace(split_journal[1], journal=Journal.misc)

    with pytest.raises(ValueError, match="fee1: lines dated"):
        number_entries(split_date)
    with pytest.raises(ValueError, match="fee1: lines in journals"):
        render_fec(split_journal, 2026)


def test_text_fields_lose_separators_line_breaks_and_tabs() -> None:
    dirty = [
        replace(ln, label="  Facture | Dupont\r\nSARL\t2026 ", aux_label="Dupont | Fils\n")
        for ln in payment()
    ]

    text = render_fec(dirty, 2026)

    rows = [r.split("|") for r in records(text)[1:]]
    assert all(len(r) == 18 for r in rows)
    assert rows[0][10] == "Facture   Dupont  SARL 2026"
    assert rows[1][7] == "Dupont   Fils"
    assert check_fec(text, fec_filename(SIREN, 2026)) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("label", " | "), ("piece_ref", ""), ("account_label", "\t"), ("aux_label", "")],
)
def test_a_mandatory_field_left_empty_is_refused(field: str, value: str) -> None:
    broken = payment()
    changes: dict[str, Any] = {field: value}
    broken[1] = replace(broken[1], **changes)

    with pytest.raises(ValueError, match="pay1"):
        render_fec(broken, 2026)


def test_filename_is_siren_fec_and_the_closing_date() -> None:
    assert fec_filename(SIREN, 2026) == "552100554FEC20261231.txt"


@pytest.mark.parametrize("siren", ["552100555", "55210055", "552 100 554", ""])
def test_filename_refuses_an_invalid_siren(siren: str) -> None:
    with pytest.raises(ValueError, match="SIREN"):
        fec_filename(siren, 2026)
