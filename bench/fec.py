"""The streamed FEC of 100,000 ledger lines: lines per second and peak memory.

`python -m bench.fec` (or `bench.fec.measure()`, which `python -m bench` calls).
Figures include generating the data (it stands in for the DynamoDB reads).

What runs is the export worker's path for a FEC (services/exports.fec_chunks, without
the DynamoDB reads): `domain.fec.stream_fec` reads the year one month at a time, twice
(index, then records), each month's lines built from the JSON bodies the ledger store
keeps (`invoice_store._ledger_line`, as `ledger_month` does), and `exports.write_text`
writes the UTF-8 records in chunks into a sink that counts and hashes them, as the
multipart upload (`S3Upload`) does before sending each 8 MiB part. The data is
generated in memory (seeded, deterministic), one month at a time: a year of card
bookings (sale with 411/706/445 lines, card payment 467/411 lettered with it, a Stripe
fee every booking, a payout a day), 100,000 lines in all. Neither DynamoDB nor S3 is
involved: the figures are the CPU and memory of the streaming itself.

The run happens in a fresh subprocess, so that `resource.getrusage(RUSAGE_SELF)
.ru_maxrss` is the peak resident memory of that export alone (interpreter and imports
included; the baseline after imports is reported too). Goal: peak ≤ 256 MB.
"""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

LINES = 100_000
YEAR = 2026
OPERATOR = "op_bench"
GOAL_MB = 256
PARIS = ZoneInfo("Europe/Paris")
# Per booking: sale (3 lines), payment (2), fee (2) = 7 lines; plus a 2-line payout a day,
# and, on 31 December, a miscellaneous entry of the lines left to reach LINES exactly.
BOOKINGS = (LINES - 2 * 365) // 7
REST = LINES - 7 * BOOKINGS - 2 * 365


def _body(entry_id: str, journal: str, day: date, account: str, **fields: Any) -> str:
    """A ledger line as the store keeps it (JSON text of `_ledger_item`)."""
    customer = account.startswith("411")
    at = datetime.combine(day, datetime.min.time(), PARIS) + timedelta(hours=9)
    return json.dumps(
        {
            "entry_id": entry_id,
            "journal": journal,
            "entry_date": day.isoformat(),
            "account": account,
            "account_label": f"Compte {account}",
            "label": fields.get("label", f"Ecriture {entry_id}"),
            "piece_ref": fields.get("piece", entry_id[-20:]),
            "piece_date": day.isoformat(),
            "debit": fields.get("debit", 0),
            "credit": fields.get("credit", 0),
            "aux_account": "C" + entry_id[-6:] if customer else "",
            "aux_label": "Membre Relais" if customer else "",
            "recorded_at": at.isoformat(),
            "operator_id": OPERATOR,
        },
        ensure_ascii=False,
    )


def month_bodies(month: int) -> list[str]:
    """The stored bodies of one month's lines, in the store's key order (date, entry)."""
    bodies: list[tuple[str, str]] = []
    first = date(YEAR, 1, 1)
    for sequence in range(1, BOOKINGS + 1):
        day = first + timedelta(days=(sequence * 365) // (BOOKINGS + 1))
        if day.month != month:
            continue
        document = f"inv-{OPERATOR}-{YEAR}-{sequence:06d}"
        number = f"F{YEAR}-{sequence:06d}"
        price, vat = 1250 + sequence % 700, 250 + (sequence % 700) // 5
        total = price + vat
        fee = 25 + total * 15 // 1000
        label = {"label": f"Facture {number}", "piece": number}
        for entry_id, lines in (
            (
                f"{document}-sale",
                [
                    ("VE", "411000", {"debit": total}),
                    ("VE", "706000", {"credit": price}),
                    ("VE", "445710", {"credit": vat}),
                ],
            ),
            (
                f"{document}-pay",
                [("BQ", "467000", {"debit": total}), ("BQ", "411000", {"credit": total})],
            ),
            (
                f"fee-{sequence:06d}",
                [("BQ", "627000", {"debit": fee}), ("BQ", "467000", {"credit": fee})],
            ),
        ):
            for journal, account, amounts in lines:
                bodies.append(
                    (
                        f"{day.isoformat()}#{entry_id}",
                        _body(entry_id, journal, day, account, **label, **amounts),
                    )
                )
    day = date(YEAR, month, 1)
    while day.month == month:
        payout = f"po-{day:%Y%m%d}"
        for account, amounts in (("512000", {"debit": 100_00}), ("467000", {"credit": 100_00})):
            bodies.append(
                (f"{day.isoformat()}#{payout}", _body(payout, "BQ", day, account, **amounts))
            )
        day += timedelta(days=1)
    if month == 12 and REST >= 2:
        day, entry_id = date(YEAR, 12, 31), f"od-{YEAR}-closing"
        credits = [("471000", {"credit": 1})] * (REST - 1)
        for account, amounts in [("471000", {"debit": REST - 1}), *credits]:
            bodies.append((f"{day}#{entry_id}", _body(entry_id, "OD", day, account, **amounts)))
    bodies.sort(key=lambda item: item[0])  # stable: lines keep their order in an entry
    return [body for _, body in bodies]


class HashingSink:
    """What the multipart upload does with the bytes before sending them: count, hash."""

    def __init__(self) -> None:
        self.size = 0
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.size += len(data)
        self.hash.update(data)
        return len(data)


def _child() -> dict[str, Any]:
    """Run in the subprocess: import, stream the FEC, report."""
    from chalicelib.adapters.invoice_store import _ledger_line
    from chalicelib.domain.fec import stream_fec
    from chalicelib.domain.ledger import LedgerLine
    from chalicelib.services.exports import write_text

    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lines_read = [0]

    def months() -> Iterator[list[LedgerLine]]:
        for month in range(1, 13):
            lines = [_ledger_line(json.loads(body)) for body in month_bodies(month)]
            lines_read[0] += len(lines)
            yield lines

    sink = HashingSink()
    records = [0]

    def counted() -> Iterator[str]:
        for record in stream_fec(months, YEAR):
            records[0] += 1
            yield record

    began, cpu_began = time.perf_counter(), time.process_time()
    write_text(sink, counted())  # type: ignore[arg-type]
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lines = records[0] - 1  # the header is no ledger line
    return {
        "lines": lines,
        "lines_read_twice": lines_read[0],
        "seconds": round(seconds, 2),
        "lines_per_second": round(lines / seconds),
        "cpu_seconds": round(cpu, 2),  # the machine may be shared: CPU time says more
        "lines_per_cpu_second": round(lines / cpu),
        "bytes": sink.size,
        "sha256": sink.hash.hexdigest(),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "baseline_rss_mb": round(baseline_kb / 1024, 1),
        "goal_mb": GOAL_MB,
        "within_goal": peak_kb / 1024 <= GOAL_MB,
        "data": "in memory (generated month by month; no DynamoDB, no S3)",
    }


def measure() -> dict[str, Any]:
    """Stream the FEC of 100,000 lines in a fresh subprocess; its figures as a dict."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.fec", "--child"],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main(argv: list[str]) -> int:
    if argv[1:] == ["--child"]:
        print(json.dumps(_child()))
        return 0
    print("Reproduce: .venv/bin/python -m bench.fec   (from the repo root)")
    figures = measure()
    for name, value in figures.items():
        print(f"{name:>18}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
