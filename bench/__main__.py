"""`python -m bench` (`make bench`): run every benchmark, print one table, write
bench/results.json.

BENCH_QUICK=1: a smoke run (few repetitions, small N). BENCH_ONLY=latency,imports: only
those benchmarks (names as in `BENCHES`, or `instructions` and `floor`, diagnostics run
only when named)."""

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
    floor,
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
# Run only when named in BENCH_ONLY (valgrind, minutes): diagnostics, not goals.
ON_REQUEST: dict[str, PlainBench] = {
    "instructions": lambda s: instructions.instructions(s.n(instructions.N, 20)),
}
IN_WORLD_ON_REQUEST: dict[str, WorldBench] = {
    "floor": lambda w, s: floor.floor(w, s.n(floor.ROUNDS, 1), s.n(floor.N, 6), s.n(floor.WARM, 2)),
}
BENCHES = (*IN_WORLD, *STANDALONE)


def _tagged(name: str, rows: list[Row]) -> list[Row]:
    command = f"BENCH_ONLY={name} {COMMAND}"
    return [dataclasses.replace(r, command=command) for r in rows]


def _quiet() -> Any:
    """The app's request log lines (JSON, EMF) go to /dev/null while measuring: still
    formatted and written, as on Lambda, but not onto the table."""
    return contextlib.redirect_stdout(open(os.devnull, "w"))


def selected(settings: Settings) -> tuple[dict[str, WorldBench], dict[str, PlainBench]]:
    """What runs, in order: every benchmark (or those named), diagnostics only if named."""
    named = settings.only

    def wanted(name: str, on_request: bool) -> bool:
        return name in named if on_request else not named or name in named

    in_world = {
        **{n: b for n, b in IN_WORLD.items() if wanted(n, False)},
        **{n: b for n, b in IN_WORLD_ON_REQUEST.items() if wanted(n, True)},
    }
    plain = {
        **{n: b for n, b in STANDALONE.items() if wanted(n, False)},
        **{n: b for n, b in ON_REQUEST.items() if wanted(n, True)},
    }
    return in_world, plain


def run(settings: Settings) -> tuple[list[Row], dict[str, Any]]:
    in_world, plain = selected(settings)
    rows: list[Row] = []
    context: dict[str, Any] = {
        "command": COMMAND,
        "quick": settings.quick,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": os.getloadavg(),
    }
    if in_world:
        with world() as w:
            context["dynamodb"] = w.backend
            for name, bench in in_world.items():
                print(f"... {name}", file=sys.stderr, flush=True)
                with _quiet():
                    rows += _tagged(name, bench(w, settings))
    for name, plain_bench in plain.items():
        print(f"... {name}", file=sys.stderr, flush=True)
        with _quiet():
            rows += _tagged(name, plain_bench(settings))
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
