"""Contract fuzzing in `make test`: schemathesis against the running local stack, with a
token of each role, every check, zero failures (tests/contract/fuzz.py; deeper: `make fuzz`)."""

from __future__ import annotations

import os

import pytest

from tests.contract.fuzz import Outcome, run_all
from tests.e2e.conftest import Stack

MIN_CASES = 1500
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("FUZZ_SEED", "20261205"))  # fixed: `make test` stays reproducible


@pytest.fixture(scope="module")
def outcomes(e2e_stack: Stack) -> list[Outcome]:
    return run_all(e2e_stack, EXAMPLES, SEED)


def test_the_document_is_fuzzed_with_every_role(outcomes: list[Outcome]) -> None:
    assert [o.role for o in outcomes] == ["member", "manager", "accountant", "admin"]


def test_at_least_1500_cases_are_generated(outcomes: list[Outcome]) -> None:
    assert sum(o.cases for o in outcomes) >= MIN_CASES, [(o.role, o.cases) for o in outcomes]


@pytest.mark.parametrize("role", ["member", "manager", "accountant", "admin"])
def test_no_check_fails(outcomes: list[Outcome], role: str) -> None:
    outcome = next(o for o in outcomes if o.role == role)
    assert outcome.report, outcome.output[-6000:]
    assert (outcome.failures, outcome.errors) == ([], []), outcome.summary()
