"""`python -m bench` (`make bench`): run every benchmark, print one table, write
bench/results.json.

BENCH_QUICK=1: a smoke run (few repetitions, small N). BENCH_ONLY=latency,imports: only
those benchmarks (names as in `BENCHES`, or `instructions`, run only when named)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench import (
    calls,
    imports,
    instructions,
    issuance,
    latency,
    load,
    own_cpu,
    package,
    pdf,
    renewal,
    units,
)
from bench.fec_hook import fec_rows
from bench.results import write
from bench.stack import World, world
from bench.stats import Row, render

COMMAND = "make bench"


@dataclasses.dataclass(frozen=True)
class Settings:
    quick: bool
    only: frozenset[str]

    @classmethod
    def from_env(cls) -> Settings:
        only = {n.strip() for n in os.environ.get("BENCH_ONLY", "").split(",") if n.strip()}
        return cls(os.environ.get("BENCH_QUICK", "") not in ("", "0"), frozenset(only))

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full


# name -> (needs the DynamoDB world, run)
WorldBench = Callable[[World, Settings], list[Row]]
PlainBench = Callable[[Settings], list[Row]]
IN_WORLD: dict[str, WorldBench] = {
    "latency": lambda w, s: latency.latencies(w, s.n(200, 6), s.n(latency.WARM, 2)),
    "cpu": lambda w, s: own_cpu.own_cpu(w, s.n(500, 20)),
    "calls": lambda w, s: calls.per_request(w),
    "units": lambda w, s: units.request_units(w),
    "issuance": lambda w, s: issuance.issuance(w, s.n(200, 16)),
    "renewal": lambda w, s: renewal.renewals(w, s.quick),
    "load": lambda w, s: load.load(w, s.n(3000, 64), s.n(60.0, 10.0)),
}
STANDALONE: dict[str, PlainBench] = {
    "imports": lambda s: imports.import_times(s.n(10, 2)),
    "package": lambda s: package.package_size(),
    "pdf": lambda s: pdf.render_time(s.n(5, 1)),
    "fec": lambda s: fec_rows(),
}
# Run only when named in BENCH_ONLY (valgrind, minutes): a diagnostic, not a goal.
ON_REQUEST: dict[str, PlainBench] = {
    "instructions": lambda s: instructions.instructions(s.n(instructions.N, 20)),
}
BENCHES = (*IN_WORLD, *STANDALONE)


def _tagged(name: str, rows: list[Row]) -> list[Row]:
    command = f"BENCH_ONLY={name} {COMMAND}"
    return [dataclasses.replace(r, command=command) for r in rows]


def _quiet() -> Any:
    """The app's request log lines (JSON, EMF) go to /dev/null while measuring: still
    formatted and written, as on Lambda, but not onto the table."""
    return contextlib.redirect_stdout(open(os.devnull, "w"))


def run(settings: Settings) -> tuple[list[Row], dict[str, Any]]:
    wanted = [b for b in BENCHES if not settings.only or b in settings.only]
    rows: list[Row] = []
    context: dict[str, Any] = {
        "command": COMMAND,
        "quick": settings.quick,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": os.getloadavg(),
    }
    if any(b in IN_WORLD for b in wanted):
        with world() as w:
            context["dynamodb"] = w.backend
            for name in (b for b in wanted if b in IN_WORLD):
                print(f"... {name}", file=sys.stderr, flush=True)
                with _quiet():
                    rows += _tagged(name, IN_WORLD[name](w, settings))
    plain = {**STANDALONE, **{n: b for n, b in ON_REQUEST.items() if n in settings.only}}
    for name in (b for b in plain if not settings.only or b in settings.only):
        print(f"... {name}", file=sys.stderr, flush=True)
        with _quiet():
            rows += _tagged(name, plain[name](settings))
    context["load_average_after"] = os.getloadavg()
    return rows, context


def main() -> int:
    began = time.perf_counter()
    settings = Settings.from_env()
    print(f"Reproduce: {COMMAND}" + ("  (BENCH_QUICK=1: smoke run)" if settings.quick else ""))
    rows, context = run(settings)
    context["seconds"] = round(time.perf_counter() - began, 1)
    path = write(rows, context)
    print(
        f"Python {context['python']} on {context['machine']}; load average "
        f"{context['load_average'][0]:.1f} before, {context['load_average_after'][0]:.1f} after "
        f"(a shared machine: figures are ratios measured side by side)"
    )
    if "dynamodb" in context:
        print(f"DynamoDB: {context['dynamodb']} (in memory, 127.0.0.1), stopped.")
    print()
    print(render(rows))
    print(f"\nWritten: {path.relative_to(path.parents[1])}; total {context['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
