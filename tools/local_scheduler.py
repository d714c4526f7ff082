"""`make run`'s scheduler: every job of `chalicelib.jobs.SCHEDULES` on its real schedule,
with a clock offset to move time forward for a demo.

`chalice local` runs no schedules. This evaluates the same AWS expressions the packaged
template carries — `rate(N minute|minutes|hour|hours|day|days)` and
`cron(minutes hours day-of-month month day-of-week year)` in UTC, with `*`, `?`, lists,
ranges and `/` steps (not `L`, `W` or `#`, which no schedule of ours uses: they are
refused) — and runs each due job through `POST /v1/admin/jobs/{job}` with
`as_of` = the (shifted) moment it was due. After a jump in time a job runs once, as of
its latest due moment: every job is a catch-up run that acts on everything due up to
`as_of`.

The offset lives in `$RELAIS_LOCAL_DIR/clock-offset` (seconds), read at every tick, so

    .venv/bin/python -m tools.local_scheduler advance 1d     # or 6h, 90m, -2h
    .venv/bin/python -m tools.local_scheduler set 2027-01-01T02:00:00Z
    .venv/bin/python -m tools.local_scheduler show | reset

move the jobs' clock while `make run` runs (`CLOCK_OFFSET=3d make run` starts shifted).
The API itself keeps the real clock: only the jobs see the shifted time.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

UNITS = {"minute": 60, "hour": 3600, "day": 86400}
# field: (low, high) — day-of-week is 1-7 = SUN-SAT in AWS.
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 1, 7))
NAMES = {
    "month": ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
    "weekday": ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
}
SEARCH_LIMIT = timedelta(days=366 * 5)


class ScheduleError(ValueError):
    """An expression this scheduler cannot evaluate."""


@dataclass(frozen=True)
class Rate:
    seconds: int

    def latest_due(self, since: datetime, now: datetime) -> datetime | None:
        """Due every `seconds` after `since` (the last run): the latest such moment."""
        periods = int((now - since).total_seconds() // self.seconds)
        return since + timedelta(seconds=periods * self.seconds) if periods >= 1 else None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: `?` (or `*`) — any day of the month
    months: frozenset[int]
    weekdays: frozenset[int] | None  # AWS numbering 1 = Sunday; None: `?` or `*`
    years: frozenset[int] | None

    def matches(self, moment: datetime) -> bool:
        aws_weekday = (moment.isoweekday() % 7) + 1  # Monday=1 -> 2, Sunday=7 -> 1
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and (self.days is None or moment.day in self.days)
            and (self.weekdays is None or aws_weekday in self.weekdays)
            and (self.years is None or moment.year in self.years)
        )

    def latest_due(self, since: datetime, now: datetime) -> datetime | None:
        """The latest matching minute in (since, now], searching back from `now`."""
        moment = now.astimezone(UTC).replace(second=0, microsecond=0)
        floor = max(since.astimezone(UTC), now - SEARCH_LIMIT)
        while moment > floor:
            if self.matches(moment):
                return moment
            moment = self._previous(moment)
        return None

    def _previous(self, moment: datetime) -> datetime:
        # Skip whole hours and days that cannot match, to stay fast over long jumps.
        if moment.hour not in self.hours or not self._day_ok(moment):
            return moment.replace(minute=0) - timedelta(minutes=1)
        return moment - timedelta(minutes=1)

    def _day_ok(self, moment: datetime) -> bool:
        return moment.month in self.months and (self.days is None or moment.day in self.days)


def parse(expression: str) -> Rate | Cron:
    """An AWS schedule expression, as EventBridge reads it."""
    text = expression.strip()
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", text)
    if rate:
        count = int(rate.group(1))
        if count < 1:
            raise ScheduleError(f"{expression}: a rate is at least 1")
        return Rate(count * UNITS[rate.group(2)])
    cron = re.fullmatch(r"cron\((.+)\)", text)
    if not cron or len(parts := cron.group(1).split()) != 6:
        raise ScheduleError(f"{expression}: expected rate(...) or cron(6 fields)")
    values = [_field(part, *spec) for part, spec in zip(parts[:5], FIELDS, strict=True)]
    if (parts[2] == "?") == (parts[4] == "?"):
        raise ScheduleError(f"{expression}: exactly one of day-of-month, day-of-week is '?'")
    minutes, hours, days, months, weekdays = values
    if minutes is None or hours is None or months is None:
        raise ScheduleError(f"{expression}: '?' only in day-of-month or day-of-week")
    years = _field(parts[5], "year", 1970, 2199)
    return Cron(minutes, hours, days, months, weekdays, years)


def _field(text: str, name: str, low: int, high: int) -> frozenset[int] | None:
    if text in ("?", "*"):
        return None if name in ("day", "weekday", "year") or text == "?" else _span(low, high)
    chosen: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first, last = (_value(v, name) for v in base.split("-", 1))
        else:
            first = _value(base, name)
            last = high if step_text else first
        if not (low <= first <= last <= high) or step < 1:
            raise ScheduleError(f"{name} field {text!r} is out of {low}-{high}")
        chosen.update(range(first, last + 1, step))
    return frozenset(chosen)


def _span(low: int, high: int) -> frozenset[int]:
    return frozenset(range(low, high + 1))


def _value(text: str, name: str) -> int:
    if text.upper() in NAMES.get(name, []):
        return NAMES[name].index(text.upper()) + 1
    if not text.isdigit():
        raise ScheduleError(f"{name} field: {text!r} is not supported (no L, W or #)")
    return int(text)


# -- the clock offset -------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"([+-]?\d+)([smhd])", text.strip())
    if not match:
        raise ValueError(f"{text!r}: a duration is a number and s, m, h or d (e.g. 1d, -2h)")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return timedelta(seconds=int(match.group(1)) * seconds)


class ShiftedClock:
    """The real clock plus the offset kept in a file (so another command can move it)."""

    def __init__(self, offset_file: Path, real: Callable[[], datetime] | None = None) -> None:
        self.offset_file = offset_file
        self._real = real or (lambda: datetime.now(UTC))

    def offset(self) -> timedelta:
        try:
            return timedelta(seconds=float(self.offset_file.read_text().strip() or 0))
        except (OSError, ValueError):
            return timedelta(0)

    def set_offset(self, offset: timedelta) -> None:
        self.offset_file.parent.mkdir(parents=True, exist_ok=True)
        self.offset_file.write_text(f"{int(offset.total_seconds())}\n")

    def now(self) -> datetime:
        return self._real() + self.offset()

    def real(self) -> datetime:
        return self._real()


# -- the scheduler ----------------------------------------------------------------------


Runner = Callable[[str, datetime], None]


class LocalScheduler:
    """Each tick, runs every job whose schedule fell due since its last run (shifted time)."""

    def __init__(self, schedules: dict[str, str], clock: ShiftedClock, run: Runner) -> None:
        self.schedules = {name: parse(expression) for name, expression in schedules.items()}
        self.clock = clock
        self._run = run
        start = clock.now()
        self._last = dict.fromkeys(self.schedules, start)

    def tick(self) -> list[tuple[str, datetime]]:
        now = self.clock.now()
        ran = []
        for name, schedule in self.schedules.items():
            if now < self._last[name]:  # time was moved back: start counting again
                self._last[name] = now
                continue
            due = schedule.latest_due(self._last[name], now)
            if due is None:
                continue
            self._last[name] = due
            self._run(name, due)
            ran.append((name, due))
        return ran


def http_runner(api_url: str, admin_token: str, loud: frozenset[str] = frozenset()) -> Runner:
    """Run a job through the admin route, as of the moment it was due; say so when it did
    something, or always for the `loud` ones (the daily and monthly jobs)."""

    def run(job: str, as_of: datetime) -> None:
        body = json.dumps({"as_of": as_of.astimezone(UTC).isoformat()}).encode()
        request = urllib.request.Request(
            f"{api_url}/v1/admin/jobs/{job}",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                processed = json.loads(answer.read() or b"{}").get("processed", 0)
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            print(f"[relais] job {job} failed: {exc}", file=sys.stderr, flush=True)
            return
        if processed or job in loud:
            when = as_of.astimezone(UTC).isoformat(timespec="minutes")
            print(f"[relais] job {job} as of {when}: {processed} processed", flush=True)

    return run


def calendar_jobs(schedules: dict[str, str]) -> frozenset[str]:
    """The jobs on a cron (daily, monthly) rather than a rate."""
    return frozenset(name for name, text in schedules.items() if isinstance(parse(text), Cron))


def offset_file(local_dir: Path) -> Path:
    return local_dir / "clock-offset"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    local = Path(os.environ.get("RELAIS_LOCAL_DIR") or ".local")
    clock = ShiftedClock(offset_file(local.resolve()))
    try:
        if args[:1] == ["advance"] and len(args) == 2:
            clock.set_offset(clock.offset() + parse_duration(args[1]))
        elif args[:1] == ["set"] and len(args) == 2:
            target = datetime.fromisoformat(args[1].replace("Z", "+00:00"))
            clock.set_offset(target - clock.real())
        elif args == ["reset"]:
            clock.set_offset(timedelta(0))
        elif args != ["show"]:
            print(__doc__, file=sys.stderr)
            return 2
    except ValueError as exc:
        print(f"local_scheduler: {exc}", file=sys.stderr)
        return 2
    print(f"jobs' clock: {clock.now().isoformat(timespec='seconds')} (offset {clock.offset()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
