"""Instructions per request, counted by callgrind (valgrind): our own work without the
host's noise, for comparing two versions of the code. Wall-clock figures on this shared
VM move by 10-30 % between runs; instruction counts repeat within 1 %.

Each figure runs a child process under `valgrind --tool=callgrind` with instrumentation
off, turned on (`callgrind_control`) only around `N` requests whose DynamoDB calls are
answered from memory (`own_cpu.answered_from_memory`): DynamoDB Local and botocore are
not counted. The handler figure is the app's call alone: the same loop with the app
replaced by its recorded answer (the bench's event building and answer parsing) is
counted too and subtracted. The HTTP figure is the whole exchange on both ends of the
loopback socket (client, server, app).

Not part of a plain `make bench` (it needs valgrind, ~2 minutes):
`BENCH_ONLY=instructions make bench`; a child alone: `python -m bench.instructions
handler card`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from typing import Any

from bench.stats import Row

SECTION = "instructions per request (callgrind; DynamoDB answered from memory)"
KINDS = ("availability", "card")
N = 200
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def instructions(n: int = N) -> list[Row]:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        return [Row(SECTION, "not measured", "-", "valgrind is not installed")]
    rows = []
    for kind in KINDS:
        app = _count("handler", kind, n) - _count("stub", kind, n)
        rows.append(Row(SECTION, f"{kind}: the handler's call", f"{app:,}", figure=app))
        http = _count("HTTP", kind, n)
        rows.append(Row(SECTION, f"{kind}: over HTTP, both ends", f"{http:,}", figure=http))
    return rows


def _count(level: str, kind: str, n: int) -> int:
    """Instructions per request of one child run."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.instructions",
        level,
        kind,
        str(n),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed: {done.stderr[-2000:]}")
    return int(found.group(1)) // n


def _callgrind(*args: str) -> None:
    subprocess.run(
        ["callgrind_control", *args, str(os.getpid())], check=True, stdout=subprocess.DEVNULL
    )


def child(level: str, kind: str, n: int) -> None:
    """Under callgrind: `n` requests of `kind` at `level` (handler, stub, HTTP)."""
    import contextlib

    from bench.latency import availability_reader, bench_days, booker
    from bench.own_cpu import answered_from_memory
    from bench.payers import payers
    from bench.stack import world

    with world() as w, answered_from_memory() as replay:
        caller: Any = w.http if level == "HTTP" else w.handler
        days = bench_days()
        if kind == "availability":
            request = availability_reader(caller, w, days)
        else:
            request = booker(caller, payers(w)[kind], w.pool, days)
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            replay(False)
            for i in range(3):  # the real answers recorded
                request(i)
            replay(True)
            real, kept = w.handler._app, {}

            def keeping(event: Any, context: Any) -> Any:
                kept["answer"] = real(event, context)
                return kept["answer"]

            w.handler._app = keeping
            for i in range(30):
                request(i)
            # The stub: the bench's own work (event, answer parsing), the app answering
            # at once with the answer it last gave.
            w.handler._app = (lambda event, context: kept["answer"]) if level == "stub" else real
            _callgrind("--instr=on")
            for i in range(n):
                request(i)
            _callgrind("--instr=off")


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else N)
