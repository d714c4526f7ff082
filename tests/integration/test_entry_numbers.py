"""`EcritureNum` is handed out once, by the first FEC holding the entry, and kept
(API.md: "assigned once and never changes: an entry keeps its number in every later
download, and downloading twice with no new entry in between gives byte-identical files").
"""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.adapters import keys
from chalicelib.adapters.period_store import NumbersMoved
from chalicelib.domain.fec import FecIndex
from chalicelib.domain.ledger import LedgerLine
from chalicelib.services import accounting, entry_numbers, exports, periods
from chalicelib.services.context import Context
from tests.integration.test_exports import ask, stored_file
from tests.integration.test_periods import close, fee_lines, issue_paid
from tests.support.api import Api, operator_body
from tests.support.fec_checker import check_fec

# The conftest clock is 2026-12-01: October and November are past months.


@pytest.fixture
def operator_id(api: Api, admin: str) -> str:
    answer = api.post("/v1/operators", operator_body(accounting_start="2026-10"), token=admin)
    assert answer.status == 201, answer.json
    return str(answer.json["id"])


def download(api: Api, token: str, operator_id: str) -> str:
    answer = api.get(f"/v1/accounting/fec?operator_id={operator_id}&year=2026", token=token)
    assert answer.status == 200, answer.json
    return answer.body.decode() if isinstance(answer.body, bytes) else str(answer.body)


def numbers_of(text: str) -> dict[str, tuple[int, str]]:
    """(EcritureNum, EcritureDate) per PieceRef and journal of each entry's first line."""
    found: dict[str, tuple[int, str]] = {}
    for record in text.split("\r\n")[1:-1]:
        fields = record.split("|")
        found.setdefault(f"{fields[0]} {fields[8]}", (int(fields[2]), fields[3]))
    return found


def test_an_entry_booked_late_takes_the_next_number_and_moves_none(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    issue_paid(ctx, operator_id, "pi_3", "2026-11-03T10:00:00+01:00")
    issue_paid(ctx, operator_id, "pi_4", "2026-11-04T10:00:00+01:00")
    first = download(api, accountant, operator_id)
    before = numbers_of(first)
    assert sorted(n for n, _ in before.values()) == list(range(1, len(before) + 1))
    # A Stripe fee of 2 November, booked after the sales of the 3rd and 4th were read.
    periods.book(ctx, fee_lines(operator_id, date(2026, 11, 2), "txn_late"))
    second = download(api, accountant, operator_id)
    after = numbers_of(second)
    assert {key: after[key] for key in before} == before
    assert after["BQ txn_late"] == (len(before) + 1, "20261102")
    siren = accounting.get_operator(ctx, operator_id).siren
    assert check_fec(second, f"{siren}FEC20261231.txt") == []
    assert download(api, accountant, operator_id) == second  # nothing new: the same bytes


def test_a_first_download_numbers_in_date_order(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    """Entries no FEC has read yet are numbered in date order among themselves."""
    periods.book(ctx, fee_lines(operator_id, date(2026, 11, 20), "txn_20"))
    periods.book(ctx, fee_lines(operator_id, date(2026, 11, 2), "txn_2"))
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 9), "txn_9"))
    found = numbers_of(download(api, accountant, operator_id))
    assert [found[f"BQ {ref}"][0] for ref in ("txn_9", "txn_2", "txn_20")] == [1, 2, 3]


def test_a_close_keeps_the_numbers_downloads_gave_and_its_archive_verifies(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20), "txn_oct"))
    periods.book(ctx, fee_lines(operator_id, date(2026, 11, 5), "txn_nov"))
    download(api, accountant, operator_id)
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 2), "txn_oct_late"))
    assert close(api, accountant, operator_id, "2026-10").status == 200
    after = numbers_of(download(api, accountant, operator_id))
    assert [after[f"BQ {ref}"][0] for ref in ("txn_oct", "txn_nov", "txn_oct_late")] == [1, 2, 3]
    assert ctx.periods.numbers(operator_id, "2026-10") == {"fee-txn_oct": 1, "fee-txn_oct_late": 3}
    verified = api.get(f"/v1/operators/{operator_id}/periods/verify", token=accountant).json
    assert verified["ok"] is True, verified


def test_an_export_and_a_download_give_the_same_numbers_whichever_comes_first(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    issue_paid(ctx, operator_id, "pi_oct", "2026-10-30T10:00:00+01:00")
    asked = ask(api, accountant, {"kind": "fec", "operator_id": operator_id, "year": 2026})
    exports.run_exports(ctx)
    exported = stored_file(ctx, asked.json["id"]).decode()
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 1), "txn_first"))
    downloaded = download(api, accountant, operator_id)
    assert downloaded.startswith(exported)  # the new entry is the last one
    assert numbers_of(downloaded)["BQ txn_first"][0] == len(numbers_of(exported)) + 1


def test_numbers_of_closed_months_from_before_the_counter_are_kept(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    """Books closed when numbers were fixed only at a month's close (no counter)."""
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20), "txn_a"))
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 21), "txn_b"))
    ctx.periods._table.table.put_item(  # the numbers an earlier close wrote, in date order
        Item={**keys.key(keys.entry_numbers_pk(operator_id, "2026-10"), "fee-txn_b"), "num": 2}
    )
    ctx.periods._table.table.put_item(
        Item={**keys.key(keys.entry_numbers_pk(operator_id, "2026-10"), "fee-txn_a"), "num": 1}
    )
    periods.book(ctx, fee_lines(operator_id, date(2026, 11, 2), "txn_c"))
    found = numbers_of(download(api, accountant, operator_id))
    assert [found[f"BQ {ref}"][0] for ref in ("txn_a", "txn_b", "txn_c")] == [1, 2, 3]
    assert ctx.periods.last_number(operator_id, 2026) == 3


def index_of(*entries: list[LedgerLine]) -> FecIndex:
    index = FecIndex(2026)
    for lines in entries:
        for line in lines:
            index.add(line)
    return index


def test_two_fecs_made_at_once_never_give_a_number_twice(
    ctx: Context, operator_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FEC that read the counter before another one handed numbers out finds it moved,
    reads again and numbers only what is left, after the other's numbers; also when the
    two read different entries (a read that missed one the other saw)."""
    late, early = (
        fee_lines(operator_id, date(2026, 11, 20), "txn_20"),
        fee_lines(operator_id, date(2026, 11, 2), "txn_2"),
    )
    periods.book(ctx, late)
    periods.book(ctx, early)
    real = ctx.periods.last_number
    reads: list[int | None] = []

    def last_number_then_the_other_hands_out(operator: str, year: int) -> int | None:
        value = real(operator, year)
        reads.append(value)
        if len(reads) == 1:  # between this FEC's read and its write, another one numbers
            other = index_of(early)
            assert entry_numbers.numbered(ctx, operator_id, 2026, 1, other) == {"fee-txn_2": 1}
        return value

    monkeypatch.setattr(ctx.periods, "last_number", last_number_then_the_other_hands_out)
    assert entry_numbers.numbered(ctx, operator_id, 2026, 1, index_of(late)) == {"fee-txn_20": 2}
    assert reads == [None, None, 1]  # its read; the other's; its second read
    assert entry_numbers.stored_numbers(ctx, operator_id, 2026, 1) == {
        "fee-txn_2": 1,
        "fee-txn_20": 2,
    }


def test_a_stale_counter_writes_nothing(ctx: Context, operator_id: str) -> None:
    store = ctx.periods
    store.hand_out_numbers(operator_id, 2026, None, [("e1", "2026-11", 1)])
    with pytest.raises(NumbersMoved):
        store.hand_out_numbers(operator_id, 2026, None, [("e2", "2026-11", 1)])
    with pytest.raises(NumbersMoved):  # the counter is right but e1 has its number
        store.hand_out_numbers(operator_id, 2026, 1, [("e1", "2026-11", 2)])
    assert store.numbers(operator_id, "2026-11") == {"e1": 1}
    assert store.last_number(operator_id, 2026) == 1


def test_numbers_are_handed_out_in_whole_transactions_of_97(ctx: Context, operator_id: str) -> None:
    many: list[tuple[str, str, int]] = [(f"e{n:03d}", "2026-11", n) for n in range(1, 251)]
    ctx.periods.hand_out_numbers(operator_id, 2026, None, many)
    assert ctx.periods.last_number(operator_id, 2026) == 250
    assert sorted(ctx.periods.numbers(operator_id, "2026-11").values()) == list(range(1, 251))


def test_books_that_cannot_be_exported_number_nothing(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    periods.book(ctx, fee_lines(operator_id, date(2026, 11, 3), "txn_ok"))
    periods.book(ctx, fee_lines(operator_id, date(2026, 11, 2), "txn_bad")[:1])  # unbalanced
    asked = ask(api, accountant, {"kind": "fec", "operator_id": operator_id, "year": 2026})
    assert exports.run_export(ctx, asked.json["id"]) == "failed"
    assert ctx.periods.last_number(operator_id, 2026) is None
    assert entry_numbers.stored_numbers(ctx, operator_id, 2026, 1) == {}


def test_a_close_numbers_after_closes_made_before_the_counter(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    """The first FEC after the counter came may be a close, which reads its month only:
    it still numbers after every number stored in the year (found by review R1)."""
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20), "txn_a"))
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 21), "txn_b"))
    assert close(api, accountant, operator_id, "2026-10").status == 200
    ctx.periods._table.table.delete_item(Key=keys.entry_number_counter(operator_id, 2026))
    periods.book(ctx, fee_lines(operator_id, date(2026, 11, 2), "txn_c"))
    assert close(api, accountant, operator_id, "2026-11").status == 200
    assert ctx.periods.numbers(operator_id, "2026-11") == {"fee-txn_c": 3}
    found = numbers_of(download(api, accountant, operator_id))
    assert [found[f"BQ {ref}"][0] for ref in ("txn_a", "txn_b", "txn_c")] == [1, 2, 3]
