"""`make run` runs the calendar jobs on their real schedule, on a clock a demo can move."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.e2e.conftest import ROOT, Stack

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 60.0  # the scheduler ticks twice a second; the job itself takes a moment


def first_of_next_month(now: dt.datetime) -> dt.date:
    return (now.date().replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def test_moving_the_jobs_clock_past_the_first_invoices_companies_as_of_02_00_utc(
    stack_factory: Callable[..., Stack],
) -> None:
    # GIVEN `make run` (empty network) with the jobs' clock on real time
    stack = stack_factory(seed=False)
    first = first_of_next_month(dt.datetime.now(dt.UTC))

    # WHEN the demo moves the jobs' clock to 02:10 UTC on the next 1st
    moved = subprocess.run(
        [sys.executable, "-m", "tools.local_scheduler", "set", f"{first}T02:10:00Z"],
        cwd=ROOT,
        env={**os.environ, "RELAIS_LOCAL_DIR": str(stack.local_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert moved.returncode == 0, moved.stderr

    # THEN the monthly invoicing runs once, as of its due moment
    line = f"job invoice_companies as of {first}T02:00+00:00"
    deadline = time.monotonic() + WAIT_SECONDS
    while line not in stack.log() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert line in stack.log(), stack.log()
