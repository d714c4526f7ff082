"""How long a job run may go on starting work (services/run_budget.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

import app as app_module
from chalicelib.services import run_budget


@pytest.mark.parametrize(
    ("time_left", "budget"),
    [(900.0, 675.0), (30.0, 22.5), (60.0, 45.0), (5.0, 0.0), (3.0, 0.0), (0.0, 0.0)],
)
def test_a_run_keeps_a_quarter_of_its_time_and_at_least_5_s_for_the_call_in_flight(
    time_left: float, budget: float
) -> None:
    assert run_budget.budget_for(time_left) == pytest.approx(budget)


def test_outside_a_lambda_run_each_job_keeps_its_own_default() -> None:
    before = time.monotonic()

    until = run_budget.deadline(20.0)

    assert before + 20.0 <= until <= time.monotonic() + 20.0


def test_the_time_left_holds_for_the_run_inside_only() -> None:
    before = time.monotonic()
    with run_budget.time_left(900.0):
        inside = run_budget.deadline(20.0)
    after = run_budget.deadline(20.0)

    assert before + 675.0 <= inside <= time.monotonic() + 675.0
    assert inside < before + 0.8 * 900.0  # done before the duration alarm
    assert after < before + 21.0


def test_a_scheduled_function_hands_its_lambdas_time_left_to_the_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        "chalicelib.jobs.run_job",
        lambda ctx, job, time_left=None: calls.append((job, time_left)) or {"job": job},
    )
    monkeypatch.setattr("chalicelib.api.wiring.get_context", lambda: None)
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 899_500)

    app_module._scheduled("renew_memberships")(SimpleNamespace(context=context))
    app_module._scheduled("expire_holds")(SimpleNamespace())

    assert calls == [("renew_memberships", 899.5), ("expire_holds", None)]
