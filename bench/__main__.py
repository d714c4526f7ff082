"""`python -m bench` (`make bench`): run every benchmark, print one table."""

from __future__ import annotations

import os
import platform
import sys
import time

from bench import calls, imports, latency, pdf
from bench.stack import world
from bench.stats import Row, render

COMMAND = "make bench   (= .venv/bin/python -m bench, from the repo root)"


def main() -> int:
    began = time.perf_counter()
    print(f"Reproduce: {COMMAND}")
    print(
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    rows: list[Row] = []
    with world() as w:
        backend = w.backend
        if backend == "moto_server":
            print("NOTE: no Java here: moto_server stands in for DynamoDB Local.", flush=True)
        rows += latency.booking(w)
        rows += latency.availability(w)
        rows += calls.per_request(w)
    rows += imports.import_times()
    rows += pdf.render_time()
    print(f"DynamoDB backend: {backend} (in memory, 127.0.0.1), stopped.\n")
    print(render(rows))
    print(f"\nTotal bench time: {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
