"""`EcritureNum`: handed out once, by the first FEC that holds an entry, then kept.

API.md: "The FEC's `EcritureNum` is assigned once and never changes: an entry keeps its
number in every later download". A download (`GET /v1/accounting/fec`), an export
(`POST /v1/exports`) or a month's close numbers every entry of the fiscal year it reads
that has no number yet, after the last number handed out, in date order among
themselves (`domain/fec.FecIndex.numbers`), and stores them (`PeriodStore`: one item per
entry, and the year's last number, moved by the same transactions). So an entry booked
later but dated earlier (a Stripe fee of the 2nd booked after the sales of the 3rd were
downloaded) takes the next number rather than moving the numbers after it, and a FEC read
twice with nothing new between is the same file, byte for byte.

Two FECs made at once read the same counter; the one whose transaction lands second finds
it moved, reads the numbers again and numbers only what is still unnumbered.
"""

from __future__ import annotations

from chalicelib.adapters.period_store import NumbersMoved
from chalicelib.domain.fec import FecIndex
from chalicelib.domain.fiscal_year import months_of
from chalicelib.errors import ConcurrentUpdate
from chalicelib.services.context import Context

NUMBERING_ATTEMPTS = 5


def numbered(
    ctx: Context, operator_id: str, year: int, start: int, index: FecIndex
) -> dict[str, int]:
    """The `EcritureNum` of every entry of `index` (fiscal year `year`, starting in month
    `start`): those handed out before, and the next ones for entries without, stored
    before they are answered. ValueError (from the index) when an entry is unbalanced:
    nothing is numbered then."""
    for _ in range(NUMBERING_ATTEMPTS):
        stored = stored_numbers(ctx, operator_id, year, start)
        last = ctx.periods.last_number(operator_id, year)
        # After the counter; without one (numbers fixed by closes before it existed),
        # after every number stored in the year, not only those of the entries read.
        numbers = index.numbers(stored, after=max([last or 0, *stored.values()]))
        new = sorted((number, entry) for entry, number in numbers.items() if entry not in stored)
        if not new:
            return numbers
        try:
            ctx.periods.hand_out_numbers(
                operator_id,
                year,
                last,
                [(entry, index.month_of(entry), number) for number, entry in new],
                guard=ctx.accounting_settings.start_month_check(operator_id, start),
            )
        except NumbersMoved:
            continue
        return numbers
    raise ConcurrentUpdate(
        f"The {year} entry numbers of {operator_id} were being handed out meanwhile; retry."
    )


def stored_numbers(ctx: Context, operator_id: str, year: int, start: int) -> dict[str, int]:
    """The numbers handed out to entries dated in fiscal year `year`."""
    numbers: dict[str, int] = {}
    for month in months_of(year, start):
        numbers.update(ctx.periods.numbers(operator_id, month))
    return numbers
