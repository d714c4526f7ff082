"""How long the job being run may go on starting new work.

A scheduled job runs in its own Lambda function, whose time left is known when it starts:
it may keep claiming work until a margin before that (a quarter of it, at least 5 s: the
call in flight finishes, and the run ends before the duration alarm, at 80 % of the
timeout, infra/alarms.py). Elsewhere — a job run by hand through the API, the local
scheduler, a test — each job keeps its own default budget. Work left over stays due and
the next run takes it up: every job is idempotent and resumes where the last one stopped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

MIN_MARGIN_SECONDS = 5.0
MARGIN_SHARE = 0.25

_until: ContextVar[float | None] = ContextVar("relais_run_until", default=None)


def budget_for(time_left: float) -> float:
    """Seconds of new work a run may start with `time_left` seconds before its timeout."""
    return max(0.0, time_left - max(MIN_MARGIN_SECONDS, MARGIN_SHARE * time_left))


@contextmanager
def time_left(seconds: float | None) -> Iterator[None]:
    """The run inside has `seconds` before its Lambda times out (None: unknown)."""
    token = _until.set(None if seconds is None else time.monotonic() + budget_for(seconds))
    try:
        yield
    finally:
        _until.reset(token)


def deadline(default_seconds: float) -> float:
    """The `time.monotonic()` after which the current run starts no new work."""
    until = _until.get()
    return until if until is not None else time.monotonic() + default_seconds
