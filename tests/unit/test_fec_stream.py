"""The streamed FEC (month by month, two passes) is byte for byte the rendered one."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.fec import render_fec, stream_fec
from chalicelib.domain.ledger import Journal, LedgerLine
from chalicelib.domain.lettering import letters
from tests.support.fec_checker import check_fec

PARIS = ZoneInfo("Europe/Paris")
OPERATOR = "op_1"


def line(entry_id: str, journal: Journal, day: date, account: str, **amounts: int) -> LedgerLine:
    aux = ("C0001", "Atelier Dupont") if account.startswith("411") else ("", "")
    return LedgerLine(
        entry_id=entry_id,
        journal=journal,
        entry_date=day,
        account=account,
        account_label=f"Compte {account}",
        label=f"Ecriture {entry_id}",
        piece_ref=entry_id[:20],
        piece_date=day,
        debit=amounts.get("debit", 0),
        credit=amounts.get("credit", 0),
        aux_account=aux[0],
        aux_label=aux[1],
        recorded_at=datetime.combine(day, datetime.min.time(), PARIS)
        + timedelta(hours=8, minutes=len(entry_id) % 7),
        operator_id=OPERATOR,
    )


def invoice_and_payment(sequence: int, day: date, paid: bool) -> list[LedgerLine]:
    """A sales entry and, when paid, its payment: their 411 lines letter together."""
    document = f"inv-{OPERATOR}-2026-{sequence:06d}"
    lines = [
        line(f"{document}-sale", Journal.sales, day, "411000", debit=1200),
        line(f"{document}-sale", Journal.sales, day, "706000", credit=1000),
        line(f"{document}-sale", Journal.sales, day, "445710", credit=200),
    ]
    if paid:
        lines += [
            line(f"{document}-pay", Journal.bank, day, "467000", debit=1200),
            line(f"{document}-pay", Journal.bank, day, "411000", credit=1200),
        ]
    return lines


def year_of_lines(seed: int = 7) -> list[LedgerLine]:
    rng = random.Random(seed)
    lines: list[LedgerLine] = []
    for sequence in range(1, 120):
        day = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
        lines += invoice_and_payment(sequence, day, paid=rng.random() < 0.7)
        if rng.random() < 0.3:
            fee = f"fee-{sequence}"
            lines += [
                line(fee, Journal.bank, day, "627000", debit=35),
                line(fee, Journal.bank, day, "467000", credit=35),
            ]
    lines.append(line("zero", Journal.misc, date(2026, 5, 5), "471000"))  # moves nothing
    return lines


def by_month(lines: list[LedgerLine]) -> list[list[LedgerLine]]:
    """The lines as the store reads them: month by month, in key order (date, entry)."""
    ordered = sorted(lines, key=lambda each: (each.entry_date, each.entry_id))
    return [[x for x in ordered if x.entry_date.month == month] for month in range(1, 13)]


def streamed(lines: list[LedgerLine], **options: object) -> str:
    months = by_month(lines)

    def read() -> Iterator[list[LedgerLine]]:
        return iter(months)

    return "".join(stream_fec(read, 2026, **options))  # type: ignore[arg-type]


def rendered(lines: list[LedgerLine], **options: object) -> str:
    flat = [each for month in by_month(lines) for each in month]
    return render_fec(flat, 2026, letters=letters(flat), **options)  # type: ignore[arg-type]


def test_the_streamed_fec_is_the_rendered_one_byte_for_byte() -> None:
    lines = year_of_lines()
    text = streamed(lines)
    assert text == rendered(lines)
    assert check_fec(text, "552100554FEC20261231.txt") == []


def test_numbers_given_before_are_kept_and_validation_is_the_recording_day() -> None:
    lines = year_of_lines(seed=11)
    january = sorted({x.entry_id for x in lines if x.entry_date.month == 1})
    numbers = {entry_id: n for n, entry_id in enumerate(january, start=1)}
    text = streamed(lines, numbers=numbers)
    assert text == rendered(lines, numbers=numbers)
    for record in text.split("\r\n")[1:-1]:  # recorded at 8:0x on each entry's own day
        fields = record.split("|")
        assert fields[15] == fields[3]


def test_months_closed_under_the_old_rule_keep_their_close_day_as_validation() -> None:
    lines = year_of_lines(seed=11)
    validated_on = {"2026-01": date(2026, 2, 3)}
    text = streamed(lines, validated_on=validated_on)
    assert text == rendered(lines, validated_on=validated_on)
    for record in text.split("\r\n")[1:-1]:
        fields = record.split("|")
        assert fields[15] == ("20260203" if fields[3][4:6] == "01" else fields[3])


def test_a_payout_recorded_before_it_arrives_is_validated_on_its_date() -> None:
    """ValidDate is never before EcritureDate: the later of the recording day and it."""
    early = datetime(2026, 3, 2, 22, 30, tzinfo=PARIS)  # recorded 2 March, dated 4 March
    lines = [
        replace(x, recorded_at=early)
        for x in (
            line("po_1", Journal.bank, date(2026, 3, 4), "512000", debit=900),
            line("po_1", Journal.bank, date(2026, 3, 4), "467000", credit=900),
        )
    ]
    assert {r.split("|")[15] for r in rendered(lines).split("\r\n")[1:-1]} == {"20260304"}
    late = [replace(x, recorded_at=early.replace(day=9)) for x in lines]
    assert {r.split("|")[15] for r in rendered(late).split("\r\n")[1:-1]} == {"20260309"}


def test_settled_invoices_are_lettered_in_the_stream() -> None:
    lines = invoice_and_payment(1, date(2026, 3, 2), paid=True)
    records = streamed(lines).split("\r\n")
    customer = [r for r in records if "|411000|" in r]
    assert {tuple(r.split("|")[13:15]) for r in customer} == {("A", "20260302")}


def test_an_unbalanced_entry_is_refused_before_the_first_record() -> None:
    lines = invoice_and_payment(1, date(2026, 3, 2), paid=False)[:2]
    with pytest.raises(ValueError, match="unbalanced"):
        next(stream_fec(lambda: iter(by_month(lines)), 2026))


def test_an_entry_over_two_dates_is_refused() -> None:
    first = line("e1", Journal.misc, date(2026, 3, 2), "471000", debit=5)
    second = line("e1", Journal.misc, date(2026, 4, 2), "471000", credit=5)
    with pytest.raises(ValueError, match="dated"):
        next(stream_fec(lambda: iter(by_month([first, second])), 2026))


def test_numbers_that_go_back_a_month_are_written_in_number_order() -> None:
    """An entry numbered after later-dated ones (booked late) is written at its number."""
    march = invoice_and_payment(1, date(2026, 3, 2), paid=False)
    april = invoice_and_payment(2, date(2026, 4, 2), paid=False)
    numbers = {march[0].entry_id: 2, april[0].entry_id: 1}
    text = streamed(march + april, numbers=numbers)
    assert text == rendered(march + april, numbers=numbers)
    records = text.split("\r\n")[1:-1]
    assert [r.split("|")[2] for r in records] == ["1"] * 3 + ["2"] * 3
    assert records[0].split("|")[3] == "20260402"


def test_a_year_numbered_in_several_downloads_streams_as_it_renders() -> None:
    """Numbers handed out over the year: each download numbered what was new, in date
    order after the last number, so late entries sit beyond later months' numbers."""
    lines = year_of_lines(seed=5)
    rng = random.Random(3)
    entries = sorted({x.entry_id: x.entry_date for x in lines if x.debit or x.credit}.items())
    numbers: dict[str, int] = {}
    pending = list(entries)
    rng.shuffle(pending)
    while pending:  # a download sees some of what is left, numbers it in date order
        size = rng.randrange(1, 40)
        seen, pending = pending[:size], pending[size:]
        for entry_id, _ in sorted(seen, key=lambda item: (item[1], item[0])):
            numbers[entry_id] = len(numbers) + 1
    text = streamed(lines, numbers=numbers)
    assert text == rendered(lines, numbers=numbers)
    assert check_fec(text, "552100554FEC20261231.txt") == []


def test_a_year_without_lines_is_the_header_alone() -> None:
    assert streamed([]) == rendered([])
