"""Import time of the app vs boto3 alone, each in fresh interpreters: `-X importtime`'s
cumulative figure, and wall clock of `python -c 'import X'` minus `python -c 'pass'`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.stats import Row, median, ratio

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 10  # default; `make bench` passes its own
MODULES = ("app", "boto3")
SECTION = f"import time, fresh interpreters (median of {REPEAT}, bytecode cached)"


def _run(code: str, env: dict[str, str], *flags: str) -> tuple[float, str]:
    """(wall seconds, stderr) of one `python [flags] -c code` in the repo root."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return time.perf_counter() - start, result.stderr + result.stdout


def _cumulative(module: str, env: dict[str, str]) -> float:
    """Seconds `python -X importtime` reports for `module`, its imports included."""
    _, report = _run(f"import {module}", env, "-X", "importtime")
    for line in report.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1e6
    raise RuntimeError(f"no importtime line for {module}:\n{report[-2000:]}")


def import_times(repeat: int = REPEAT) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="relais-bench-pyc-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache  # compiled once here, outside the repo
        probe = "import sys, app; print(','.join(sorted({'boto3', 'stripe'} & set(sys.modules))))"
        loaded = _run(probe, env)[1].strip()  # also compiles app's bytecode once
        for module in MODULES:
            _run(f"import {module}", env)  # and boto3's, in the prefix
        cumulative: dict[str, list[float]] = {m: [] for m in MODULES}
        wall: dict[str, list[float]] = {m: [] for m in (*MODULES, "pass")}
        for _ in range(repeat):
            for module in MODULES:
                cumulative[module].append(_cumulative(module, env))
            for module in wall:
                code = "pass" if module == "pass" else f"import {module}"
                wall[module].append(_run(code, env)[0])
    start = median(wall["pass"])
    app, boto3 = (median(cumulative[m]) for m in MODULES)
    app_wall, boto3_wall = (median(wall[m]) - start for m in MODULES)
    return [
        Row(
            SECTION,
            "import app  (-X importtime)",
            f"{app * 1000:.1f} ms",
            f"app imports {loaded}" if loaded else "neither boto3 nor stripe is imported",
        ),
        Row(SECTION, "import boto3 (-X importtime)", f"{boto3 * 1000:.1f} ms"),
        Row(SECTION, "ratio app / boto3", ratio(app, boto3)),
        Row(
            SECTION,
            "import app  (wall - start)",
            f"{app_wall * 1000:.1f} ms",
            f"interpreter start {start * 1000:.1f} ms",
        ),
        Row(SECTION, "import boto3 (wall - start)", f"{boto3_wall * 1000:.1f} ms"),
        Row(SECTION, "ratio app / boto3 (wall)", ratio(app_wall, boto3_wall)),
    ]
