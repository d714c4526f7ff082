"""The scheduled jobs: one table registered with Chalice and evaluated by `make run`'s
local scheduler, AWS cron and rate expressions evaluated in UTC, and the jobs' clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from chalice.app import ScheduledEventConfig

from chalicelib.jobs import JOBS, SCHEDULES
from tools.local_scheduler import (
    LocalScheduler,
    ScheduleError,
    ShiftedClock,
    main,
    offset_file,
    parse,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.runs: list[tuple[str, datetime]] = []

    def __call__(self, job: str, as_of: datetime) -> None:
        self.runs.append((job, as_of))


def scheduler_at(tmp_path: Path, start: datetime) -> tuple[LocalScheduler, Recorder, list]:
    now = [start]
    clock = ShiftedClock(offset_file(tmp_path), real=lambda: now[0])
    recorder = Recorder()
    return LocalScheduler(SCHEDULES, clock, recorder), recorder, now


def expression_text(config: ScheduledEventConfig) -> str:
    expression = config.schedule_expression
    return expression if isinstance(expression, str) else expression.to_string()


def test_chalice_registers_exactly_the_schedules_the_local_scheduler_runs(tmp_path: Path) -> None:
    from app import app

    registered = {
        (source.name, expression_text(source))
        for source in app.event_sources
        if isinstance(source, ScheduledEventConfig)
    }
    local, _, _ = scheduler_at(tmp_path, at("2026-12-01T00:00:00"))

    assert registered == set(SCHEDULES.items())
    assert set(local.schedules) == {name for name, _ in registered} == set(JOBS)


def test_renewals_fall_due_every_15_minutes_from_22_05_to_23_50_utc_each_day() -> None:
    cron = parse(SCHEDULES["renew_memberships"])

    day = [at("2026-07-14T00:00:00") + timedelta(minutes=m) for m in range(24 * 60)]

    assert [m.strftime("%H:%M") for m in day if cron.matches(m)] == [  # type: ignore[union-attr]
        f"{h}:{m:02d}" for h in (22, 23) for m in (5, 20, 35, 50)
    ]


def test_company_invoicing_falls_due_every_15_minutes_from_02_00_utc_on_the_first_only() -> None:
    cron = parse(SCHEDULES["invoice_companies"])
    month = [at("2027-01-01T00:00:00") + timedelta(minutes=m) for m in range(31 * 24 * 60)]

    due = cron.latest_due(at("2026-11-15T00:00:00"), at("2027-01-20T00:00:00"))

    assert due == at("2027-01-01T03:45:00")
    assert [m.strftime("%d %H:%M") for m in month if cron.matches(m)] == [  # type: ignore[union-attr]
        f"01 {h:02d}:{m:02d}" for h in (2, 3) for m in (0, 15, 30, 45)
    ]


def test_rate_job_falls_due_once_its_period_has_passed(tmp_path: Path) -> None:
    scheduler, recorder, now = scheduler_at(tmp_path, at("2026-12-01T10:00:30"))

    now[0] = at("2026-12-01T10:15:29")
    scheduler.tick()
    now[0] = at("2026-12-01T10:15:30")
    scheduler.tick()

    assert [r for r in recorder.runs if r[0] == "release_no_shows"] == [
        ("release_no_shows", at("2026-12-01T10:15:30"))
    ]


def test_moving_the_jobs_clock_runs_a_skipped_monthly_job_once_as_of_its_due_time(
    tmp_path: Path,
) -> None:
    scheduler, recorder, _ = scheduler_at(tmp_path, at("2026-12-30T12:00:00"))

    assert main_in(tmp_path, "advance", "3d") == 0
    scheduler.tick()
    scheduler.tick()

    assert [r for r in recorder.runs if r[0] == "invoice_companies"] == [
        ("invoice_companies", at("2027-01-01T03:45:00"))
    ]


def main_in(local_dir: Path, *args: str) -> int:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RELAIS_LOCAL_DIR", str(local_dir))
        return main(list(args))


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 2 L * ? *)",
        "cron(0 2 1 * 2#1 *)",
        "cron(0 2 * * * *)",
        "cron(0 2 1 *)",
        "rate(0 minutes)",
    ],
)
def test_expressions_it_cannot_evaluate_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse(expression)


def test_weekday_crons_use_aws_numbering_sunday_is_1() -> None:
    cron = parse("cron(0 8 ? * MON-FRI *)")

    monday, sunday = at("2026-12-07T08:00:00"), at("2026-12-06T08:00:00")

    assert (cron.matches(monday), cron.matches(sunday)) == (True, False)  # type: ignore[union-attr]
