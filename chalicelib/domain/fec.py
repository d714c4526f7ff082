"""The FEC (fichier des écritures comptables) of one operator for one fiscal year.

A fiscal year is named by the year it ends in and starts in the operator's
`start_month` (`domain/fiscal_year.py`; January by default: the calendar year).

Pure: ledger lines in, the text of the file out. The format is the flat-file one of
article A47 A-1 of the Livre des procédures fiscales (LPF), commented by BOFiP
BOI-CF-IOR-60-40-20:

- one record per ledger line, the first record naming the 18 fields in the legal order
  (A47 A-1, VII 1° and 4°);
- fields separated by ``|`` (A47 A-1, VI 1° c: a tab or ``|``); records separated by
  CR LF (VI 1° a: "Retour chariot et/ou Fin de ligne", so CR LF, LF or CR are all
  accepted; the DGFiP's own checker, Test Compta Demat, detects whichever is used);
- dates ``AAAAMMJJ`` without separator (XII 4°);
- amounts with a decimal comma, no thousands separator (XII 2°), always two decimals:
  ``1250,00``, ``0,00``; Debit and Credit are both written on every line;
- entries numbered 1..n with no gap (``EcritureNum``, "séquence continue"), every entry
  balanced, records in number order. A number is handed out once and kept: the numbers
  already given (`numbers`, kept by the caller) stay, and entries without one are
  numbered on after the last number given, in date order among themselves. An entry
  booked later but dated earlier therefore takes a later number than entries dated after
  it ("toutes les écritures nouvelles, même rétroactives, suivent la dernière
  numérotation"), the continuity an auditor follows, rather than moving theirs;
- ``ValidDate``: the day the entry was recorded (Paris), or its ``EcritureDate`` when
  later (a payout recorded before it arrives): our entries are definitive as they are
  written (never changed, corrected only by new entries), which is what validation
  means (BOFiP BOI-CF-IOR-60-40-20); so a record never changes, a month's close
  included, and two FECs with no new entry between are the same file. Months closed
  before this rule (their lines showed their close date) keep it (``validated_on``), so
  the lines of a closed month never change either;
- ``EcritureLet``/``DateLet`` given for customer lines that are lettered;
  Montantdevise/Idevise (EUR accounts) left blank ("à blanc si non utilisé").

Encoding: the functions return ``str``; the caller encodes it. A47 A-1 XII 1° accepts
ASCII, ISO 8859-15 or Unicode ISO/IEC 10646 as UTF-8, so UTF-8 (without a byte-order
mark) is the encoding to use: labels keep their accents and the euro sign.

Nothing is exported silently wrong: an unbalanced entry, an account whose first three
characters are not digits, a negative amount, a line with both a debit and a credit, an
entry whose lines disagree on journal or date, or a mandatory field left empty raises
``ValueError`` naming the entry. A line of 0,00 on both sides moves no balance and is
left out (Test Compta Demat reports "débit=crédit=0" lines as anomalies); an entry made
only of such lines (a 0,00 document) is left out and takes no number.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime

from chalicelib.domain.fiscal_year import bounds, fiscal_year_of
from chalicelib.domain.identifiers import is_valid_siren
from chalicelib.domain.ledger import JOURNAL_LABELS, LedgerLine
from chalicelib.domain.lettering import Lettering
from chalicelib.domain.opening import is_opening_entry
from chalicelib.domain.timezones import PARIS

FEC_COLUMNS: tuple[str, ...] = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)

SEPARATOR = "|"
LINE_END = "\r\n"

# The field separator, every control character (tab, CR, LF...) and the Unicode line
# breaks would cut a field or a record in two.
_UNSAFE_TEXT = re.compile(r"[|\x00-\x1f\x7f-\x9f\u2028\u2029]")
# "dont les trois premiers caractères doivent correspondre à des chiffres" (VII 1°, n° 5).
_ACCOUNT_RE = re.compile(r"[0-9]{3}")


def fec_filename(siren: str, year: int, start_month: int = 1) -> str:
    """``{SIREN}FEC{AAAAMMJJ}.txt``, the date being the closing date (A47 A-1, IX): the
    last day of fiscal year `year` (31 December with the default start in January).
    """
    if not is_valid_siren(siren):
        raise ValueError(f"not a valid SIREN: {siren!r}")
    if not 1000 <= year <= 9999:
        raise ValueError(f"not a four-digit year: {year!r}")
    return f"{siren}FEC{bounds(year, start_month)[1]:%Y%m%d}.txt"


def number_entries(
    lines: Iterable[LedgerLine], fixed: Mapping[str, int] | None = None
) -> list[tuple[int, LedgerLine]]:
    """Each line with the number of its entry (``EcritureNum``).

    Lines are grouped by ``entry_id``. Entries with a `fixed` number keep it and come
    first, by number; the others are ordered by (entry_date, recorded_at, entry_id) and
    numbered on from the highest fixed number (from 1 without any), whatever order they
    were given in. Lines keep their order within an entry. An entry recorded at an
    unknown time comes after the entries of the same day recorded at a known time.

    Raises ``ValueError`` if the lines of one entry disagree on journal or entry date:
    the entry could not be placed in the sequence.
    """
    entries: dict[str, list[LedgerLine]] = {}
    for line in lines:
        entries.setdefault(line.entry_id, []).append(line)
    for entry_id, entry in entries.items():
        _check_entry_header(entry_id, entry)
    fixed = fixed or {}
    kept = sorted((fixed[e], e) for e in entries if e in fixed)
    rest = sorted(
        (item for item in entries.items() if item[0] not in fixed),
        key=lambda item: _entry_sort_key(item[0], item[1]),
    )
    start = kept[-1][0] + 1 if kept else 1
    numbered = [(number, entries[e]) for number, e in kept]
    numbered += [(start + i, entry) for i, (_, entry) in enumerate(rest)]
    return [(number, line) for number, entry in numbered for line in entry]


def render_fec(
    lines: Iterable[LedgerLine],
    year: int,
    *,
    numbers: Mapping[str, int] | None = None,
    letters: Mapping[str, tuple[str, date]] | None = None,
    start_month: int = 1,
    validated_on: Mapping[str, date] | None = None,
) -> str:
    """The FEC of fiscal ``year`` (its twelve months from ``start_month``; with the
    default, 1 January to 31 December) built from ``lines``.

    ``numbers``: the ``EcritureNum`` already handed out (the others follow them);
    ``letters``: ``(EcritureLet, DateLet)`` per entry, for its customer-account lines;
    ``validated_on``: the ``ValidDate`` of the months (``YYYY-MM``) closed before it was
    the recording day (their close date).

    Only the lines whose ``entry_date`` falls in fiscal ``year`` are exported, numbered
    from 1;
    lines with neither debit nor credit are left out. The lines must all be the books
    of one operator (``ValueError`` otherwise).
    The text starts with the header record and every record, the last one included,
    ends with CR LF. With no line in the year, the text is the header record alone.
    Returns ``str``: encode it as UTF-8 (see the module docstring).
    """
    in_year = [
        line
        for line in lines
        if fiscal_year_of(line.entry_date, start_month) == year
        and (line.debit != 0 or line.credit != 0)
    ]
    operators = sorted({line.operator_id for line in in_year if line.operator_id})
    if len(operators) > 1:
        raise ValueError(f"lines of several operators in one FEC: {operators}")
    numbered = number_entries(in_year, numbers)
    _check_balances(numbered)
    records = [SEPARATOR.join(FEC_COLUMNS)]
    for number, line in numbered:
        records.append(_record(number, line, letters or {}, validated_on or {}))
    return LINE_END.join(records) + LINE_END


def _record(
    number: int,
    line: LedgerLine,
    letters: Mapping[str, tuple[str, date]],
    validated_on: Mapping[str, date],
) -> str:
    fields = _fields(number, line)
    validated = validated_on.get(f"{line.entry_date:%Y-%m}") if validated_on else None
    if validated is not None:
        fields[15] = _date(validated)
    letter = letters.get(line.entry_id) if line.aux_account else None
    if letter is not None:
        fields[13], fields[14] = _text(letter[0]), _date(letter[1])
    return SEPARATOR.join(fields)


class FecIndex:
    """What a streamed FEC needs to know before its first record, in bounded memory.

    A first pass over the year's lines (`add`) keeps per entry only its place in the
    sequence (date, first recording time, journal), its running debit and credit, and
    the customer lines' totals per document for lettering: a few numbers per entry,
    never the lines. Then `numbers()` gives every entry its `EcritureNum` exactly as
    `number_entries` does, and a second pass writes the records in number order
    (`write_fec`). The checks of `render_fec` are made here, before any record is
    written: an entry spread over two journals or dates, or unbalanced, raises
    `ValueError` naming it.
    """

    def __init__(self, year: int, customers: str = "411", start_month: int = 1) -> None:
        self.year = year
        self.start_month = start_month
        self._keys: dict[str, tuple[date, bool, float, str]] = {}
        self._journals: dict[str, str] = {}
        self._totals: dict[str, list[int]] = {}
        self._operators: set[str] = set()
        self.lettering = Lettering(customers, by_year=start_month != 1)

    def add(self, line: LedgerLine) -> None:
        if fiscal_year_of(line.entry_date, self.start_month) != self.year or (
            line.debit == 0 and line.credit == 0
        ):
            return
        _check_amounts(line)
        if line.operator_id:
            self._operators.add(line.operator_id)
            if len(self._operators) > 1:
                raise ValueError(
                    f"lines of several operators in one FEC: {sorted(self._operators)}"
                )
        entry_id = line.entry_id
        key = _entry_sort_key(entry_id, [line])
        known = self._keys.get(entry_id)
        if known is None:
            self._keys[entry_id] = key
            self._journals[entry_id] = str(line.journal)
        else:
            if self._journals[entry_id] != str(line.journal):
                raise ValueError(
                    f"entry {entry_id}: lines in journals {self._journals[entry_id]}"
                    f" and {line.journal}"
                )
            if known[0] != key[0]:
                raise ValueError(f"entry {entry_id}: lines dated {known[0]} and {key[0]}")
            self._keys[entry_id] = _earliest(known, key)
        totals = self._totals.setdefault(entry_id, [0, 0])
        totals[0] += line.debit
        totals[1] += line.credit
        self.lettering.add(line)

    def month_of(self, entry_id: str) -> str:
        """`YYYY-MM` of an indexed entry's date."""
        return f"{self._keys[entry_id][0]:%Y-%m}"

    def numbers(self, fixed: Mapping[str, int] | None = None, after: int = 0) -> dict[str, int]:
        """`EcritureNum` per entry: the fixed ones kept, the others in date order after
        the highest of them, or after `after` (the last number handed out) when higher."""
        for entry_id, (debit, credit) in self._totals.items():
            if debit != credit:
                raise ValueError(
                    f"entry {entry_id} is unbalanced: debit {_amount(debit)}"
                    f" != credit {_amount(credit)}"
                )
        fixed = fixed or {}
        kept = {e: fixed[e] for e in self._keys if e in fixed}
        rest = sorted((key for e, key in self._keys.items() if e not in fixed))
        start = max([after, *kept.values()]) + 1
        numbers = dict(kept)
        numbers.update((key[3], start + i) for i, key in enumerate(rest))
        return numbers


def _earliest(
    known: tuple[date, bool, float, str], new: tuple[date, bool, float, str]
) -> tuple[date, bool, float, str]:
    """The sort key of an entry from two of its lines: recorded at the earliest known time."""
    if known[1]:
        return new
    if new[1]:
        return known
    return known if known[2] <= new[2] else new


def stream_fec(
    months: Callable[[], Iterable[Iterable[LedgerLine]]],
    year: int,
    *,
    numbers: Mapping[str, int] | None = None,
    customers: str = "411",
    start_month: int = 1,
    validated_on: Mapping[str, date] | None = None,
) -> Iterator[str]:
    """The FEC of `render_fec`, record by record (each ending with CR LF), in bounded memory.

    `months()` yields the year's lines one month at a time (its first month first); it is called
    twice: a first pass indexes the entries (`index_fec`: numbers, balances, lettering),
    the second writes the records in number order (`write_fec`). The output is byte for
    byte `render_fec(all lines, year, numbers=…, letters=letters(all lines, …),
    validated_on=…)`.
    """
    index = index_fec(months, year, customers, start_month)
    yield from write_fec(months, index, index.numbers(numbers), validated_on)


def index_fec(
    months: Callable[[], Iterable[Iterable[LedgerLine]]],
    year: int,
    customers: str = "411",
    start_month: int = 1,
) -> FecIndex:
    """The first pass of `stream_fec`: every line of the year read once, none kept."""
    index = FecIndex(year, customers, start_month)
    for month in months():
        for line in month:
            index.add(line)
    return index


def write_fec(
    months: Callable[[], Iterable[Iterable[LedgerLine]]],
    index: FecIndex,
    numbers: Mapping[str, int],
    validated_on: Mapping[str, date] | None = None,
) -> Iterator[str]:
    """The second pass of `stream_fec`: the header, then every record in number order,
    `numbers` giving each indexed entry its `EcritureNum`.

    Numbers mostly grow with the months; an entry booked after later-dated ones were
    numbered has a number beyond its month's. A month's records are held only until no
    month still to read has an entry numbered before them: memory stays bounded by one
    month plus the entries numbered out of their month's order.
    """
    letters = index.lettering.letters()
    validated = validated_on or {}
    # The lowest number of each month's entries, and of all months after a given one.
    lowest: dict[str, int] = {}
    for entry_id, number in numbers.items():
        key = index.month_of(entry_id)
        lowest[key] = min(number, lowest.get(key, number))
    later_low: dict[str, int] = {}
    low = max(numbers.values(), default=0) + 1
    for key in sorted(lowest, reverse=True):
        later_low[key] = low
        low = min(low, lowest[key])
    yield SEPARATOR.join(FEC_COLUMNS) + LINE_END
    held: list[tuple[int, int, str]] = []  # sorted: (number, position, record)
    position = 0
    for month in months():
        read = ""
        for line in month:
            if line.entry_id not in numbers or (line.debit == 0 and line.credit == 0):
                continue
            number = numbers[line.entry_id]
            read = read or f"{line.entry_date:%Y-%m}"  # a month's lines are all of it
            position += 1
            held.append((number, position, _record(number, line, letters, validated)))
        if not read:
            continue
        held.sort()  # what was held is sorted already: timsort merges the month in
        due = bisect.bisect_left(held, (later_low[read],))
        for _, _, record in held[:due]:
            yield record + LINE_END
        del held[:due]
    for _, _, record in held:
        yield record + LINE_END


def _check_entry_header(entry_id: str, entry: list[LedgerLine]) -> None:
    first = entry[0]
    for line in entry[1:]:
        if line.journal != first.journal:
            raise ValueError(
                f"entry {entry_id}: lines in journals {first.journal} and {line.journal}"
            )
        if line.entry_date != first.entry_date:
            raise ValueError(
                f"entry {entry_id}: lines dated {first.entry_date} and {line.entry_date}"
            )


def _instant(value: datetime) -> datetime:
    """An aware datetime; a naive one is read as Paris wall-clock time (French legal dates)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=PARIS)


def _entry_sort_key(entry_id: str, entry: list[LedgerLine]) -> tuple[date, bool, float, str]:
    """Date, then recording time, then id; the opening entry (`AN`) first of its day,
    though booked when the previous year closed: "pour chaque exercice, les premières
    écritures font apparaître les soldes reportés"."""
    if is_opening_entry(entry_id, entry[0].operator_id):
        return (entry[0].entry_date, False, float("-inf"), entry_id)
    recorded = [_instant(line.recorded_at) for line in entry if line.recorded_at is not None]
    if recorded:
        return (entry[0].entry_date, False, min(recorded).astimezone(UTC).timestamp(), entry_id)
    return (entry[0].entry_date, True, 0.0, entry_id)


def _check_balances(numbered: list[tuple[int, LedgerLine]]) -> None:
    totals: dict[int, list[int]] = {}
    entry_ids: dict[int, str] = {}
    for number, line in numbered:
        _check_amounts(line)
        debit_credit = totals.setdefault(number, [0, 0])
        debit_credit[0] += line.debit
        debit_credit[1] += line.credit
        entry_ids[number] = line.entry_id
    for number, (debit, credit) in totals.items():
        if debit != credit:
            raise ValueError(
                f"entry {entry_ids[number]} is unbalanced: debit {_amount(debit)}"
                f" != credit {_amount(credit)}"
            )


def _check_amounts(line: LedgerLine) -> None:
    if line.debit < 0 or line.credit < 0:
        raise ValueError(f"entry {line.entry_id}: negative amount on account {line.account}")
    if line.debit != 0 and line.credit != 0:
        raise ValueError(
            f"entry {line.entry_id}: a line carries both a debit and a credit"
            f" (account {line.account}: debit {line.debit}, credit {line.credit})"
        )


def _text(value: str) -> str:
    """No separator, no line break, no tab; trimmed."""
    return _UNSAFE_TEXT.sub(" ", value).strip()


def _required(entry_id: str, column: str, value: str) -> str:
    text = _text(value)
    if not text:
        raise ValueError(f"entry {entry_id}: {column} is empty")
    return text


def _date(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    units, hundredths = divmod(abs(cents), 100)
    return f"{sign}{units},{hundredths:02d}"


def _valid_date(line: LedgerLine) -> date:
    if line.recorded_at is None:
        return line.entry_date
    return max(_instant(line.recorded_at).astimezone(PARIS).date(), line.entry_date)


def _fields(number: int, line: LedgerLine) -> list[str]:
    entry_id = line.entry_id
    journal_label = line.journal_label or JOURNAL_LABELS.get(line.journal)
    if journal_label is None:
        raise ValueError(f"entry {entry_id}: journal {line.journal!r} has no label")
    account = _required(entry_id, "CompteNum", line.account)
    if not _ACCOUNT_RE.match(account):
        raise ValueError(f"entry {entry_id}: account {account!r} does not start with 3 digits")
    aux_account = _text(line.aux_account)
    aux_label = _text(line.aux_label)
    if aux_account and not aux_label:
        raise ValueError(f"entry {entry_id}: auxiliary account {aux_account!r} has no label")
    return [
        _required(entry_id, "JournalCode", str(line.journal)),
        _required(entry_id, "JournalLib", journal_label),
        str(number),
        _date(line.entry_date),
        account,
        _required(entry_id, "CompteLib", line.account_label),
        aux_account,
        aux_label,
        _required(entry_id, "PieceRef", line.piece_ref),
        _date(line.piece_date),
        _required(entry_id, "EcritureLib", line.label),
        _amount(line.debit),
        _amount(line.credit),
        "",  # EcritureLet: set by render_fec for lettered customer lines
        "",  # DateLet
        _date(_valid_date(line)),
        "",  # Montantdevise: EUR accounts
        "",  # Idevise
    ]
