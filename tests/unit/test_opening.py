"""Opening entries (AN): balance-sheet balances carried, the result balancing them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from chalicelib.domain.fec import render_fec
from chalicelib.domain.ledger import Journal, LedgerLine
from chalicelib.domain.opening import is_opening_entry, opening_entry, opening_entry_id
from tests.support.fec_checker import check_fec

AT = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)


def line(entry: str, account: str, debit: int = 0, credit: int = 0, aux: str = "") -> LedgerLine:
    return LedgerLine(
        entry_id=entry,
        journal=Journal.sales,
        entry_date=date(2026, 11, 3),
        account=account,
        account_label=f"Compte {account}",
        label=f"Ecriture {entry}",
        piece_ref=entry,
        piece_date=date(2026, 11, 3),
        debit=debit,
        credit=credit,
        aux_account=aux,
        aux_label=f"Client {aux}" if aux else "",
        operator_id="op_1",
    )


def a_year() -> list[LedgerLine]:
    return [
        # an invoice of 15,00 paid by card, another of 30,00 still due
        line("s1", "411000", debit=1500, aux="C1"),
        line("s1", "706000", credit=1250),
        line("s1", "445710", credit=250),
        line("p1", "467000", debit=1500),
        line("p1", "411000", credit=1500, aux="C1"),
        line("s2", "411000", debit=3000, aux="C2"),
        line("s2", "706000", credit=2500),
        line("s2", "445710", credit=500),
        line("f1", "627000", debit=35),
        line("f1", "467000", credit=35),
    ]


def amounts(lines: list[LedgerLine]) -> dict[tuple[str, str], int]:
    return {(x.account, x.aux_account): x.debit - x.credit for x in lines}


def test_balance_sheet_accounts_are_carried_and_the_profit_balances_them() -> None:
    entry = opening_entry(a_year(), "op_1", 2026, AT)
    assert amounts(entry) == {
        ("411000", "C2"): 3000,  # C1 is settled: nothing to carry
        ("445710", ""): -750,
        ("467000", ""): 1465,
        ("120000", ""): -3715,  # 3750 of sales less 35 of fees
    }
    assert sum(x.debit for x in entry) == sum(x.credit for x in entry)
    assert {(x.journal, x.entry_date, x.entry_id) for x in entry} == {
        (Journal.opening, date(2027, 1, 1), opening_entry_id("op_1", 2027))
    }
    assert entry[0].aux_label == "Client C2"


def test_a_loss_is_a_debit_on_129() -> None:
    lines = [line("f1", "627000", debit=35), line("f1", "467000", credit=35)]
    assert amounts(opening_entry(lines, "op_1", 2026, AT)) == {
        ("467000", ""): -35,
        ("129000", ""): 35,
    }


def test_nothing_to_carry_is_no_entry() -> None:
    settled = [*a_year()[:5], line("x", "706000", debit=1250), line("x", "467000", credit=1250)]
    settled += [line("v", "445710", debit=250), line("v", "467000", credit=250)]
    assert opening_entry(settled, "op_1", 2026, AT) == []
    assert opening_entry(a_year(), "op_1", 2025, AT) == []  # lines of another year


def test_the_opening_entry_is_a_valid_fec_entry() -> None:
    text = render_fec(opening_entry(a_year(), "op_1", 2026, AT), 2027)
    assert check_fec(text, "552100554FEC20271231.txt") == []
    assert text.splitlines()[1].startswith("AN|À-nouveaux|1|20270101|411000|")


def test_the_opening_entry_comes_first_of_the_new_year_though_booked_after_its_first_day() -> None:
    """Booked when December closed (10 January), it is numbered before the entries of
    1 January recorded that day, when no FEC of the new year numbered them before."""
    new_year_fee = [
        LedgerLine(
            entry_id="fee-txn_1",
            journal=Journal.bank,
            entry_date=date(2027, 1, 1),
            account=account,
            account_label=f"Compte {account}",
            label="Frais Stripe txn_1",
            piece_ref="txn_1",
            piece_date=date(2027, 1, 1),
            debit=debit,
            credit=35 - debit,
            recorded_at=datetime(2027, 1, 1, 6, 0, tzinfo=UTC),
            operator_id="op_1",
        )
        for account, debit in (("627000", 35), ("467000", 0))
    ]
    text = render_fec(new_year_fee + opening_entry(a_year(), "op_1", 2026, AT), 2027)
    numbers = {r.split("|")[0]: r.split("|")[2] for r in text.splitlines()[1:]}
    assert numbers == {"AN": "1", "BQ": "2"}


def test_only_an_operators_opening_entries_are_opening_entries() -> None:
    assert is_opening_entry(opening_entry_id("op_1", 2027), "op_1")
    assert not is_opening_entry(opening_entry_id("op_1", 2027), "op_2")
    assert not is_opening_entry("an-op_1-2027-x", "op_1")
    assert not is_opening_entry("fee-an-op_1-2027", "op_1")
