"""Contract fuzzing in `make test`: schemathesis against the running local stack, with a
token of each role, every check, zero failures (tests/contract/fuzz.py; deeper: `make fuzz`).

One test, so that pytest-xdist runs the whole fuzzing on one worker, once; on a stack of
its own, since fuzzing changes the demo data (it even erases the demo member)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.contract.fuzz import run_all
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

MIN_CASES = 1500
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))
SEED = int(os.environ.get("FUZZ_SEED", "20261205"))  # fixed: `make test` stays reproducible


def test_every_role_fuzzes_the_document_with_zero_failures(
    stack_factory: Callable[..., Stack],
) -> None:
    outcomes = run_all(stack_factory(), EXAMPLES, SEED)
    print("contract fuzzing:", ", ".join(f"{o.role} {o.cases} cases" for o in outcomes))
    assert [o.role for o in outcomes] == ["member", "manager", "accountant", "admin"]
    assert all(o.report for o in outcomes), [o.output[-3000:] for o in outcomes if not o.report]
    failed = [o.summary() for o in outcomes if o.failures or o.errors]
    assert failed == [], "\n\n".join(failed)
    assert sum(o.cases for o in outcomes) >= MIN_CASES
