"""Lettering of customer accounts: an invoice's 411 line and the lines that settle it.

The lines of one document (its sales entry, its card payment or refund entry, the bank
transfers recorded for it) share the document id at the head of their `entry_id`; a
credit note no refund settles (a company's) joins its invoice's (`letter_with`). When
the customer-account lines of a document balance (debits = credits, not zero), they are
lettered together: the same `EcritureLet` (the document's sequence number written in
letters, A, B, …, Z, AA, …: unique within the document's year) and `DateLet`, the date
of the last of them (the day the invoice was settled). Pure and derived from immutable
lines, so the same lines always give the same letters. A fiscal year that does not start
in January holds documents of two numbering years: `by_year` then puts the document
year's last two digits before the letters (`26A`, `27A`), so no two documents of the
file share a code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from chalicelib.domain.ledger import LedgerLine

_DOCUMENT = re.compile(r"^(inv-.+-[0-9]{4}-([0-9]{6}))-")


def letter_code(sequence: int) -> str:
    """1 → A, 26 → Z, 27 → AA (bijective base 26)."""
    code = ""
    while sequence > 0:
        sequence, rest = divmod(sequence - 1, 26)
        code = chr(ord("A") + rest) + code
    return code


class Lettering:
    """The lettering of customer lines, fed one line at a time (a streamed FEC): keeps
    per document only its customer lines' totals, entry ids and last date."""

    def __init__(self, customers: str = "411", by_year: bool = False) -> None:
        self._customers = customers
        self._by_year = by_year
        # document -> ([debit, credit], [last date], its entry ids)
        self._groups: dict[str, tuple[list[int], list[date], set[str]]] = {}

    def add(self, line: LedgerLine) -> None:
        match = _DOCUMENT.match(line.entry_id)
        if not (match and line.aux_account and line.account.startswith(self._customers)):
            return
        group = line.letter_with or match.group(1)  # a credit note with its invoice
        sums, last, entries = self._groups.setdefault(group, ([0, 0], [line.entry_date], set()))
        sums[0] += line.debit
        sums[1] += line.credit
        last[0] = max(last[0], line.entry_date)
        entries.add(line.entry_id)

    def letters(self) -> dict[str, tuple[str, date]]:
        """`(EcritureLet, DateLet)` per entry id whose customer lines are settled."""
        found: dict[str, tuple[str, date]] = {}
        for document, (sums, last, entries) in self._groups.items():
            if sums[0] == 0 or sums[0] != sums[1] or len(entries) < 2:
                continue
            code = letter_code(int(document[-6:]))
            if self._by_year:
                code = document[-9:-7] + code
            for entry_id in entries:
                found[entry_id] = (code, last[0])
        return found


def letters(
    lines: Iterable[LedgerLine], customers: str = "411", by_year: bool = False
) -> dict[str, tuple[str, date]]:
    """`(EcritureLet, DateLet)` per entry id whose customer lines are settled."""
    lettering = Lettering(customers, by_year)
    for line in lines:
        lettering.add(line)
    return lettering.letters()
