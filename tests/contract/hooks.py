"""Schemathesis hooks for the contract fuzzing: what JSON Schema cannot say, taught to the
generator (loaded through `hooks` in tests/contract/schemathesis.toml).

- `siren` and `siret`, the document's formats for the Luhn-checked French identifiers;
  `vat_number`, EU VAT numbers valid as python-stdnum checks them (an FR one only where
  the body carries the SIREN it must belong to).
- In positive cases only, rules across fields that the document states in prose: `from`
  not after `to`, a SIRET that starts with its SIREN, opening intervals sorted and not
  overlapping; and no made-up `cursor` (an opaque value only a previous page gives: the
  stateful phase follows `next_cursor` links instead).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

DIGITS = "0123456789"


def luhn_complete(digits: str) -> str:
    """`digits` followed by the check digit that makes the whole pass Luhn's check."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return digits + str((10 - total % 10) % 10)


SIRENS = st.text(DIGITS, min_size=8, max_size=8).map(luhn_complete)
schemathesis.openapi.format("siren", SIRENS)
schemathesis.openapi.format(
    "siret",
    st.tuples(SIRENS, st.text(DIGITS, min_size=4, max_size=4)).map(
        lambda parts: luhn_complete(parts[0] + parts[1])
    ),
)


# IBANs and BICs (the document's `iban` and `bic` formats), valid as python-stdnum checks.
schemathesis.openapi.format(
    "iban", st.sampled_from(["FR7630006000011234567890189", "DE89370400440532013000"])
)
schemathesis.openapi.format("bic", st.sampled_from(["BNPAFRPPXXX", "DEUTDEFF", "AGRIFRPP882"]))

# EU VAT numbers of other countries (valid by their rules); where the body has a SIREN,
# `_fix_body` puts that SIREN's FR number instead (an FR number must be its SIREN's, and an
# edit without a SIREN is checked against the stored one, which a sample would not match).
schemathesis.openapi.format(
    "vat_number",
    st.sampled_from(["DE136695976", "BE0403019261", "IT00743110157", "NL004495445B01"]),
)


def fr_vat_number(siren: str) -> str:
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


# Longest spans, in days, of the operations that bound `from`..`to` (as their errors say).
MAX_SPAN_DAYS = {"GET /v1/audit": 3660, "GET /v1/stats/occupancy": 365, "closures": 365}


def _minutes(label: Any) -> int | None:
    hours, _, minutes = str(label).partition(":")
    return int(hours) * 60 + int(minutes) if hours.isdigit() and minutes.isdigit() else None


def _ordered(intervals: Any) -> Any:
    """Keep the intervals that start before they end and after the previous one ended."""
    if not isinstance(intervals, list):
        return intervals
    kept: list[Any] = []
    last_end = -1
    valid = [
        (start, end, _minutes(start), _minutes(end))
        for start, end in (i for i in intervals if isinstance(i, list) and len(i) == 2)
    ]
    timed = [(s, e, a, b) for s, e, a, b in valid if a is not None and b is not None]
    for start, end, begins, ends in sorted(timed, key=lambda i: i[2]):
        if begins < ends and begins >= last_end:
            kept.append([start, end])
            last_end = ends
    return kept


def _fix_body(body: Any) -> None:
    if not isinstance(body, dict):
        return
    siren, siret = body.get("siren"), body.get("siret")
    if isinstance(siren, str) and isinstance(siret, str) and not siret.startswith(siren):
        body["siret"] = luhn_complete(siren + siret[9:13])
    if isinstance(siren, str) and siren.isdigit() and isinstance(body.get("vat_number"), str):
        body["vat_number"] = fr_vat_number(siren)
    start = body.get("accounting_start")  # the first accounting period is not in the future
    if isinstance(start, str) and start > date.today().isoformat()[:7]:
        body["accounting_start"] = date.today().isoformat()[:7]
    hours = body.get("opening_hours")
    if isinstance(hours, dict):
        for day, intervals in hours.items():
            hours[day] = _ordered(intervals)
    exceptions = body.get("opening_exceptions")  # one per date, intervals in order
    if isinstance(exceptions, list):
        seen: set[Any] = set()
        kept = []
        for exception in exceptions:
            if isinstance(exception, dict) and exception.get("date") not in seen:
                seen.add(exception.get("date"))
                if isinstance(exception.get("hours"), list):
                    exception["hours"] = _ordered(exception["hours"])
                kept.append(exception)
        body["opening_exceptions"] = kept


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return case
    query = case.query
    if isinstance(query, dict):
        query.pop("cursor", None)
        low, high = query.get("from"), query.get("to")
        if isinstance(low, str) and isinstance(high, str) and low > high:
            query["from"], query["to"] = high, low
    _fix_body(case.body)
    _fix_span(case.operation.label, query)
    if case.operation.label == "POST /v1/relays/{relay_id}/closures" and isinstance(
        case.body, dict
    ):
        _one_closure_form(case.body)
    if case.operation.label == "POST /v1/exports" and isinstance(case.body, dict):
        _export_span(case.body)
    return case


def _export_span(body: dict[str, Any]) -> None:
    """An export's `from` not after its `to`; a PDF ZIP's at most 31 days (422 otherwise,
    rules across fields that the schema cannot state)."""
    low, high = body.get("from"), body.get("to")
    if not (isinstance(low, str) and isinstance(high, str)):
        return
    try:
        first, last = sorted((date.fromisoformat(low), date.fromisoformat(high)))
    except ValueError:
        return
    if body.get("kind") == "invoices_pdf_zip" and (last - first).days > 30:
        first = last - timedelta(days=30)
    body["from"], body["to"] = first.isoformat(), last.isoformat()


def _fix_span(label: str, query: Any) -> None:
    """Bring `from` within the operation's longest span before `to`."""
    longest = MAX_SPAN_DAYS.get(label)
    if longest is None or not isinstance(query, dict):
        return
    try:
        low, high = date.fromisoformat(query["from"]), date.fromisoformat(query["to"])
    except (KeyError, TypeError, ValueError):
        return
    if (high - low).days > longest:
        query["from"] = max(high - timedelta(days=longest), date(2000, 1, 1)).isoformat()


def _one_closure_form(body: dict[str, Any]) -> None:
    """A closure is a `date`, or `from` and `to`, or `public_holidays`: one form at a time."""
    if body.get("date") is not None:
        for key in ("from", "to", "public_holidays"):
            body.pop(key, None)
    elif body.get("from") is not None or body.get("to") is not None:
        body.pop("public_holidays", None)
        body["from"] = body.get("from") or body["to"]
        body["to"] = body.get("to") or body["from"]
        if body["from"] > body["to"]:
            body["from"], body["to"] = body["to"], body["from"]
        _fix_span("closures", body)
    elif body.get("public_holidays") is None:  # no form at all: the year's public holidays
        body["public_holidays"] = date.today().year
    if body.get("public_holidays") is None and body.get("reason") is None:
        body["reason"] = "Fermeture"
