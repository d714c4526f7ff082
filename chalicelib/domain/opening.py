"""Opening entries (`AN`, à-nouveaux) of a new fiscal year.

At the close of a fiscal year (its last month; `domain/fiscal_year.py`), the balance of
every balance-sheet account (classes 1 to 5 of the Plan comptable général: here customers
411, VAT 445, Stripe clearing 467, bank 512...) is carried into the next year, dated its
first day, in the `AN` journal: one line per account and auxiliary account (each
customer keeps its own balance), a debit for a debit balance, a credit for a credit
balance. Income and expense accounts
(classes 6 and 7) start again from zero: their net is the year's result, carried on
120000 (profit, a credit) or 129000 (loss, a debit), which balances the entry. The
journal code and the result accounts are the operator's (`AccountingSettings`). Pure:
the year's ledger lines in, the entry's lines out (none when nothing is left to carry).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from chalicelib.domain.fiscal_year import bounds, fiscal_year_of
from chalicelib.domain.ledger import AccountingSettings, Journal, LedgerLine

BALANCE_SHEET_CLASSES = ("1", "2", "3", "4", "5")


def opening_entry_id(operator_id: str, year: int) -> str:
    """The one opening entry of `year` (the new year) for an operator."""
    return f"an-{operator_id}-{year:04d}"


def is_opening_entry(entry_id: str, operator_id: str) -> bool:
    """Whether `entry_id` is an opening entry of `operator_id` (of any year); cheap for
    the others (the FEC asks it of every line)."""
    if not entry_id.startswith("an-"):
        return False
    prefix = f"an-{operator_id}-"
    year = entry_id[len(prefix) :]
    return entry_id.startswith(prefix) and len(year) == 4 and year.isdigit()


def opening_entry(
    lines: Iterable[LedgerLine],
    operator_id: str,
    closed_year: int,
    recorded_at: datetime,
    books: AccountingSettings | None = None,
) -> list[LedgerLine]:
    """The `AN` entry opening fiscal year `closed_year + 1` from the lines of fiscal year
    `closed_year` (named by the year it ends in), dated the new year's first day."""
    books = books or AccountingSettings()
    start, chart, journals = books.fiscal_year_start_month, books.chart, books.journals
    balances: dict[tuple[str, str], int] = {}
    labels: dict[tuple[str, str], tuple[str, str]] = {}
    result = 0  # debits - credits of classes 6 and 7: > 0 is a loss
    for each in lines:
        if fiscal_year_of(each.entry_date, start) != closed_year:
            continue
        moved = each.debit - each.credit
        if each.account[:1] in BALANCE_SHEET_CLASSES:
            key = (each.account, each.aux_account)
            balances[key] = balances.get(key, 0) + moved
            labels.setdefault(key, (each.account_label, each.aux_label))
        else:
            result += moved
    year = closed_year + 1
    first_day: date = bounds(year, start)[0]
    closing_day = bounds(closed_year, start)[1]
    entry_id = opening_entry_id(operator_id, year)
    label = f"À-nouveaux {year} (soldes au {closing_day:%d/%m/%Y})"

    def line(account: str, account_label: str, amount: int, aux: tuple[str, str]) -> LedgerLine:
        return LedgerLine(
            entry_id=entry_id,
            journal=journals.code(Journal.opening),
            journal_label=journals.label(Journal.opening),
            entry_date=first_day,
            account=account,
            account_label=account_label,
            label=label,
            piece_ref=f"AN{year}",
            piece_date=first_day,
            debit=max(amount, 0),
            credit=max(-amount, 0),
            aux_account=aux[0],
            aux_label=aux[1],
            recorded_at=recorded_at,
            operator_id=operator_id,
        )

    found = [
        line(account, labels[(account, aux)][0], amount, (aux, labels[(account, aux)][1]))
        for (account, aux), amount in sorted(balances.items())
        if amount != 0
    ]
    if found and result != 0:
        account = chart.loss if result > 0 else chart.profit
        account_label = chart.label_of(account)
        found.append(line(account, account_label, result, ("", "")))
    return found
