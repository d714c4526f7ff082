"""An independent checker of FEC text files, for tests.

``check_fec(text, filename)`` returns every violation it finds (empty list: none). It
is written from the rules, not from ``chalicelib.domain.fec``, and imports nothing from
it: a checker sharing the code it checks would prove nothing.

Sources of the rules (each rule below names its own):
- [A47] article A47 A-1 of the Livre des procédures fiscales (Legifrance
  LEGIARTI000027804775 and later versions): VI 1° (flat file, records separated by CR
  and/or LF, fields by a tab or "|"), VII 1° (the 18 fields, in order; CompteNum starts
  with 3 digits; numbering on a continuous sequence), VII 4° (first line = field names),
  IX (name SirenFECAAAAMMJJ, AAAAMMJJ = closing date), XII (UTF-8 allowed; decimal
  comma, no thousands separator; dates AAAAMMJJ without separator).
- [BOFiP] BOI-CF-IOR-60-40-20 (format of the FEC; one file per fiscal year, entries
  numbered chronologically without break).
- [TCD] the DGFiP's checker "Test Compta Demat" (github.com/DGFiP/Test-Compta-Demat,
  src/testeur: init.pl, trt_entete.pl, trt_txt.pl, SQL/FECBIC.sql).

Where we are stricter than the law, the rule says so: this checker guards our own
export, which has chosen one shape (integer EcritureNum, unsigned amounts, exact
header spelling).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

REQUIRED_HEADER = (
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

# [A47 VII 1°] fields without "(à blanc si non utilisé)" in the BIC/IS table;
# [TCD FECBIC.sql] NOT NULL / "CF1:OBLIGATOIRE" columns.
MANDATORY = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "ValidDate",
)
DATE_FIELDS = ("EcritureDate", "PieceDate", "DateLet", "ValidDate")
AMOUNT_FIELDS = ("Debit", "Credit", "Montantdevise")

# [A47 IX] SirenFECAAAAMMJJ; [TCD init.pl] the same pattern on the file name; ".txt"
# is our flat-file extension (XML files end in ".xml").
_FILENAME_RE = re.compile(r"(?P<siren>[0-9]{9})FEC(?P<closing>[0-9]{8})\.txt")
# [A47 XII 2°] decimal comma, no thousands separator; at most 2 decimals (cents).
_AMOUNT_RE = re.compile(r"-?[0-9]+(,[0-9]{1,2})?")
# [A47 XII 4°] AAAAMMJJ without separator.
_DATE_RE = re.compile(r"[0-9]{8}")
# [A47 VII 1°, n° 5] "dont les trois premiers caractères doivent correspondre à des chiffres".
_ACCOUNT_RE = re.compile(r"[0-9]{3}")
# [A47 VI 1° a] CR and/or LF end a record.
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
_LA_POSTE_SIREN = "356000000"


def check_fec(text: str, filename: str | None = None) -> list[str]:
    """Every violation found in ``text`` (and ``filename`` when given)."""
    violations: list[str] = []
    fiscal_year: tuple[date, date] | None = None
    if filename is not None:
        fiscal_year = _check_filename(filename, violations)

    # [TCD trt_entete.pl] a UTF-8 byte-order mark before the header is tolerated.
    text = text.removeprefix("\ufeff")
    records = _split_records(text, violations)
    if not records:
        violations.append("file: empty (no header line)")
        return violations

    header = records[0]
    separator = _detect_separator(header, violations)
    if separator is None:
        return violations
    names = header.split(separator)
    columns = _check_header(names, violations)

    rows: list[tuple[int, dict[str, str]]] = []
    for line_no, record in enumerate(records[1:], start=2):
        if record == "":
            # [TCD trt_txt.pl] "une ligne ... est vide" is an error.
            violations.append(f"line {line_no}: empty line")
            continue
        values = record.split(separator)
        if len(values) != len(names):
            # [A47 VI 1° c] one separator, used consistently; [TCD trt_txt.pl] every line
            # has the header's number of fields.
            violations.append(
                f"line {line_no}: {len(values)} fields instead of {len(names)}"
                " (separator used inconsistently, or a separator inside a field)"
            )
            continue
        if columns is not None:
            rows.append((line_no, {name: values[index] for name, index in columns.items()}))

    if columns is None:
        return violations
    if not rows and len(records) == 1:
        # [TCD trt_txt.pl] "Le fichier ne contient pas de ligne : fichier vide".
        violations.append("file: no entry line after the header")
    for line_no, row in rows:
        _check_row(line_no, row, fiscal_year, violations)
    _check_entries(rows, violations)
    return violations


# --- file level ---------------------------------------------------------------------


def _siren_ok(siren: str) -> bool:
    """Luhn check digit of the SIREN (INSEE), La Poste's own SIREN being valid as is."""
    total = 0
    for position, char in enumerate(reversed(siren)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0 or siren == _LA_POSTE_SIREN


def _check_filename(filename: str, violations: list[str]) -> tuple[date, date] | None:
    match = _FILENAME_RE.fullmatch(filename)
    if match is None:
        violations.append(f"filename: {filename!r} does not match SIRENFECAAAAMMJJ.txt")
        return None
    if not _siren_ok(match["siren"]):
        violations.append(f"filename: SIREN {match['siren']} fails its check digit")
    closing = _parse_date(match["closing"])
    if closing is None:
        violations.append(f"filename: closing date {match['closing']} is not a calendar date")
        return None
    # [BOFiP] one file per fiscal year; a fiscal year of twelve months ending on the
    # closing date is assumed (a first or changed fiscal year may be longer or shorter).
    return _one_year_before(closing) + timedelta(days=1), closing


def _one_year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _split_records(text: str, violations: list[str]) -> list[str]:
    endings = set(_LINE_BREAK_RE.findall(text))
    if len(endings) > 1:
        # [TCD alto2_fonctions.pl detecte_macfile] one record separator is detected and
        # used for the whole file: mixing them splits records where the tester does not.
        shown = ", ".join(sorted(repr(ending) for ending in endings))
        violations.append(f"file: mixed line endings ({shown})")
    records = _LINE_BREAK_RE.split(text)
    if records and records[-1] == "":
        records.pop()  # the last record may end with a line break
    return records


def _detect_separator(header: str, violations: list[str]) -> str | None:
    # [A47 VI 1° c] "Les zones sont obligatoirement séparées par une tabulation ou le
    # caractère |"; [TCD init.pl] comma and semicolon are refused since 2013.
    has_tab, has_pipe = "\t" in header, "|" in header
    if has_tab and has_pipe:
        violations.append("header: both tab and '|' used: the separator must be unique")
        return None
    if not has_tab and not has_pipe:
        violations.append("header: no tab or '|' separator")
        return None
    return "\t" if has_tab else "|"


def _check_header(names: list[str], violations: list[str]) -> dict[str, int] | None:
    """Column positions by name, or None when the rows cannot be read."""
    # [A47 VII 1° and 4°] the first line names the 18 fields, in this order. We are
    # stricter than [TCD] (which ignores case and tolerates extra columns).
    if tuple(names) == REQUIRED_HEADER:
        return {name: index for index, name in enumerate(names)}
    if len(names) != len(REQUIRED_HEADER) or set(names) != set(REQUIRED_HEADER):
        missing = [name for name in REQUIRED_HEADER if name not in names]
        extra = [name for name in names if name not in REQUIRED_HEADER]
        violations.append(
            f"header: expected the 18 fields {'|'.join(REQUIRED_HEADER)};"
            f" missing {missing}, unexpected {extra}"
        )
        return None
    misplaced = [name for index, name in enumerate(names) if REQUIRED_HEADER[index] != name]
    violations.append(f"header: fields out of the legal order: {misplaced}")
    # The names are all there: the rows can still be read by name.
    return {name: index for index, name in enumerate(names)}


# --- line level ---------------------------------------------------------------------


def _parse_date(value: str) -> date | None:
    if not _DATE_RE.fullmatch(value):
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _parse_cents(value: str) -> int | None:
    if not _AMOUNT_RE.fullmatch(value):
        return None
    negative = value.startswith("-")
    units, _, decimals = value.lstrip("-").partition(",")
    cents = int(units) * 100 + int(decimals.ljust(2, "0"))
    return -cents if negative else cents


def _check_row(
    line_no: int,
    row: dict[str, str],
    fiscal_year: tuple[date, date] | None,
    violations: list[str],
) -> None:
    where = f"line {line_no}"
    for name in MANDATORY:
        # [TCD trt_txt.pl] blank means empty or spaces only.
        if row[name].strip() == "":
            violations.append(f"{where}: {name} is empty")

    for name in DATE_FIELDS:
        value = row[name]
        if value.strip() and _parse_date(value) is None:
            violations.append(f"{where}: {name} {value!r} is not a valid AAAAMMJJ date")

    for name in AMOUNT_FIELDS:
        value = row[name]
        if not value.strip():
            continue
        cents = _parse_cents(value)
        if cents is None:
            violations.append(
                f"{where}: {name} {value!r} is not an amount with a decimal comma"
                " and no thousands separator"
            )
        elif cents < 0 and name != "Montantdevise":
            # Stricter than [A47 XII 2°], which allows a sign: our debits and credits
            # are unsigned, the side tells the direction.
            violations.append(f"{where}: {name} {value!r} is negative")

    account = row["CompteNum"]
    if account.strip() and not _ACCOUNT_RE.match(account):
        violations.append(f"{where}: CompteNum {account!r} does not start with 3 digits")

    # Our rules: an auxiliary account is named; a currency amount names its currency.
    if row["CompAuxNum"].strip() and not row["CompAuxLib"].strip():
        violations.append(f"{where}: CompAuxNum {row['CompAuxNum']!r} without CompAuxLib")
    if row["Montantdevise"].strip() and not row["Idevise"].strip():
        violations.append(f"{where}: Montantdevise without Idevise")

    debit, credit = _parse_cents(row["Debit"]), _parse_cents(row["Credit"])
    if debit is not None and credit is not None:
        # [TCD trt_txt.pl] alert "débit/crédit renseignés sur une même ligne, ou
        # débit=crédit=0".
        if debit != 0 and credit != 0:
            violations.append(f"{where}: both Debit and Credit are non-zero")
        elif debit == 0 and credit == 0:
            violations.append(f"{where}: both Debit and Credit are zero")

    entry_date = _parse_date(row["EcritureDate"])
    if fiscal_year is not None and entry_date is not None:
        start, end = fiscal_year
        if not start <= entry_date <= end:
            # [BOFiP] the file holds the entries of one fiscal year; [TCD trt_txt.pl]
            # alerts on dates outside the period.
            violations.append(
                f"{where}: EcritureDate {row['EcritureDate']} outside the fiscal year"
                f" {start:%Y%m%d}-{end:%Y%m%d}"
            )


# --- entry level --------------------------------------------------------------------


def _check_entries(rows: list[tuple[int, dict[str, str]]], violations: list[str]) -> None:
    """[A47 VII 1°] "numéro sur une séquence continue"; [BOFiP] numbered increasing,
    without break, in the order entries were recorded: an entry booked late but dated
    earlier takes the next number (its EcritureDate then goes back), so dates are not
    checked against numbers. Stricter than the law (which allows an alphanumeric
    EcritureNum): ours is the integer sequence 1..n in file order."""
    entries: dict[str, list[tuple[int, dict[str, str]]]] = {}
    order: list[str] = []
    previous: str | None = None
    for line_no, row in rows:
        number = row["EcritureNum"].strip()
        if not number:
            continue  # already reported as empty
        if number != previous:
            if number in entries:
                violations.append(
                    f"line {line_no}: EcritureNum {number} resumes after another entry"
                    " (the lines of an entry must be contiguous)"
                )
            else:
                order.append(number)
            previous = number
        entries.setdefault(number, []).append((line_no, row))

    previous_number: int | None = None
    present: set[int] = set()
    for number in order:
        lines = entries[number]
        first_line = lines[0][0]
        if not number.isascii() or not number.isdigit():
            violations.append(f"line {first_line}: EcritureNum {number!r} is not an integer")
        else:
            value = int(number)
            present.add(value)
            if previous_number is not None and value < previous_number:
                violations.append(
                    f"line {first_line}: EcritureNum {value} after {previous_number}:"
                    " numbers must increase (inversion)"
                )
            previous_number = value

        _check_entry(number, lines, violations)

    _check_no_gap(present, violations)


def _check_no_gap(present: set[int], violations: list[str]) -> None:
    if not present:
        return
    last = max(present)
    missing_count = last - len(present)
    if missing_count == 0:
        return
    shown: list[int] = []
    expected = 1
    for value in sorted(present):
        shown.extend(range(expected, min(value, expected + 10 - len(shown))))
        expected = value + 1
        if len(shown) >= 10:
            break
    listed = ", ".join(str(n) for n in shown[:10]) + (", ..." if missing_count > 10 else "")
    violations.append(f"file: EcritureNum sequence 1..{last} has gaps, missing {listed}")


def _check_entry(
    number: str, lines: list[tuple[int, dict[str, str]]], violations: list[str]
) -> None:
    first_line = lines[0][0]
    for field in ("JournalCode", "EcritureDate"):
        values = {row[field] for _, row in lines}
        if len(values) > 1:
            violations.append(
                f"line {first_line}: EcritureNum {number} has several {field}: {sorted(values)}"
            )
    debit = sum(_parse_cents(row["Debit"]) or 0 for _, row in lines)
    credit = sum(_parse_cents(row["Credit"]) or 0 for _, row in lines)
    if debit != credit:
        violations.append(
            f"line {first_line}: EcritureNum {number} is unbalanced:"
            f" debit {_euros(debit)} != credit {_euros(credit)}"
        )


def _euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100},{abs(cents) % 100:02d}"
