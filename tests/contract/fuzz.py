"""Contract fuzzing: schemathesis against a running local stack, once per role.

`run_role` runs the schemathesis CLI (pinned in requirements-dev.txt) with every check of
issue 9, the examples, coverage, fuzzing and stateful phases, and the role's token; it
returns the JSON report. `python -m tests.contract.fuzz` starts a stack and runs a deeper
pass (`make fuzz`); tests/contract/test_contract.py runs a bounded one in `make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
)
PHASES = "examples,coverage,fuzzing,stateful"
# The coverage phase (boundary values of every parameter, every unexpected method) takes
# minutes per role (the member's: 3,848 cases, ~3.5 min of a 2-core machine, against
# ~730 cases in ~1 min for the three others): `make fuzz` runs it for every role, `make
# test` runs the quick phases for all four (2 examples: ~2,500 cases), to stay well under
# 10 minutes.
QUICK_PHASES = "examples,fuzzing,stateful"
MANAGED_RELAY = "Gare de Melun"


@dataclass(frozen=True)
class Role:
    name: str
    sub: str
    groups: tuple[str, ...]


def roles(relay_id: str) -> list[Role]:
    return [
        Role("member", "demo-member", ()),
        Role("manager", "demo-manager", (f"manager:{relay_id}",)),
        Role("accountant", "demo-accountant", ("accountant",)),
        Role("admin", "demo-admin", ("admin",)),
    ]


@dataclass
class Outcome:
    role: str
    report: dict[str, Any]
    output: str

    @property
    def cases(self) -> int:
        return int(self.report.get("test_cases", {}).get("generated", 0))

    @property
    def failures(self) -> list[dict[str, Any]]:
        return list(self.report.get("failures", []))

    @property
    def errors(self) -> list[Any]:
        return list(self.report.get("errors", []))

    def summary(self) -> str:
        tail = self.output[-12000:]
        return f"{self.role}: {self.cases} cases, failures {self.failures}\n{tail}"


def run_role(
    base_url: str, token: str, role: str, max_examples: int, seed: int, phases: str = PHASES
) -> Outcome:
    """One schemathesis run. One worker: Python 3.11's `ast` is not thread-safe, and
    hypothesis parses lambdas' sources while it describes strategies."""
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{role}-") as tmp:
        report_path = Path(tmp) / "report.json"
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "run",
            f"{base_url}/v1/openapi.json",
            "--url",
            base_url,
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            phases,
            "--max-examples",
            str(max_examples),
            "--seed",
            str(seed),
            "--workers",
            "1",
            "--report",
            "json",
            "--report-json-path",
            str(report_path),
            "--no-color",
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "tests.contract.hooks"}
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        output = done.stdout + done.stderr
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return Outcome(role, report, output)


def managed_relay(stack: Any) -> str:
    relays = stack.get("/v1/relays?limit=100").json()["items"]
    named = [r["id"] for r in relays if r["name"] == MANAGED_RELAY]
    return str((named or [r["id"] for r in relays])[0])


def run_all(stack: Any, max_examples: int, seed: int, deep: bool = False) -> list[Outcome]:
    """Every role, two runs at a time; `deep` adds the coverage phase to each."""
    relay_id = managed_relay(stack)

    def run(role: Role) -> Outcome:
        phases = PHASES if deep else QUICK_PHASES
        token = stack.token(role.sub, *role.groups)
        return run_role(stack.base_url, token, role.name, max_examples, seed, phases)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(run, roles(relay_id)))


def main() -> int:
    from tests.e2e.conftest import start_stack

    examples = int(os.environ.get("FUZZ_EXAMPLES", "60"))
    seed = int(os.environ.get("FUZZ_SEED", "0")) or int.from_bytes(os.urandom(4), "big")
    with tempfile.TemporaryDirectory(prefix="relais-fuzz-") as tmp:
        stack = start_stack(Path(tmp) / "local")
        try:
            outcomes = run_all(stack, examples, seed, deep=True)
        finally:
            stack.stop()
    for outcome in outcomes:
        print(outcome.output[-8000:])
    total = sum(o.cases for o in outcomes)
    failed = sum(len(o.failures) + len(o.errors) for o in outcomes)
    print(f"seed {seed}: {total} cases; {failed} failures or errors")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
