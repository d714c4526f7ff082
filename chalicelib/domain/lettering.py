"""Lettering of customer accounts: an invoice's 411 line and the lines that settle it.

The lines of one document (its sales entry, its card payment or refund entry, the bank
transfers recorded for it) share the document id at the head of their `entry_id`. When
the customer-account lines of a document balance (debits = credits, not zero), they are
lettered together: the same `EcritureLet` (the document's sequence number written in
letters, A, B, …, Z, AA, …: unique within the document's year) and `DateLet`, the date
of the last of them (the day the invoice was settled). Pure and derived from immutable
lines, so the same lines always give the same letters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from chalicelib.domain.ledger import LedgerLine

_DOCUMENT = re.compile(r"^(inv-.+-\d{4}-(\d{6}))-")


def letter_code(sequence: int) -> str:
    """1 → A, 26 → Z, 27 → AA (bijective base 26)."""
    code = ""
    while sequence > 0:
        sequence, rest = divmod(sequence - 1, 26)
        code = chr(ord("A") + rest) + code
    return code


def letters(lines: Iterable[LedgerLine], customers: str = "411") -> dict[str, tuple[str, date]]:
    """`(EcritureLet, DateLet)` per entry id whose customer lines are settled."""
    groups: dict[str, list[LedgerLine]] = {}
    for line in lines:
        match = _DOCUMENT.match(line.entry_id)
        if match and line.aux_account and line.account.startswith(customers):
            groups.setdefault(match.group(1), []).append(line)
    found: dict[str, tuple[str, date]] = {}
    for document, group in groups.items():
        debit = sum(line.debit for line in group)
        credit = sum(line.credit for line in group)
        if debit == 0 or debit != credit or len({line.entry_id for line in group}) < 2:
            continue
        code = letter_code(int(document[-6:]))
        settled = max(line.entry_date for line in group)
        for line in group:
            found[line.entry_id] = (code, settled)
    return found
