"""Opening hours, 30-minute slots and booking units, correct on DST days.

Pure: no I/O, no clock reads. Wall-clock times (``HH:MM``) are in the relay's time zone.

A slot is named within a local calendar date by ``index`` = the number of 30-minute steps
of *elapsed* time since that date's local midnight. Elapsed, not wall-clock: on a
spring-forward day 03:00 is index 4, and on a fall-back day the repeated hour gets its
own indices, so a (date, index) pair always names exactly one half hour of real time.

Python subtracts and compares two datetimes sharing one tzinfo by wall clock, ignoring
DST. So every instant this module returns carries a *fixed* UTC offset (the relay's offset
at that instant, e.g. ``+02:00``): ``end - start`` and ``start - timedelta(hours=24)`` are
then real elapsed time, and they equal what ``datetime.fromisoformat`` gives back from a
stored RFC 3339 string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from operator import attrgetter
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from chalicelib.errors import OutsideOpeningHours, RelayClosed, ValidationFailed

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SLOT_MINUTES = 30
SLOT = timedelta(minutes=SLOT_MINUTES)
MIDDAY = time(13, 0)
# As the END of an interval, 00:00 stands for "24:00" (a start is always before its end).
END_OF_DAY = time(0, 0)

Unit = Literal["day", "half_day_am", "half_day_pm", "hour"]
UNITS: tuple[Unit, ...] = get_args(Unit)
Interval = tuple[time, time]

_HHMM_RE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00")


def parse_hhmm(text: object, field: str | None = None, *, allow_24: bool = False) -> time:
    """``"HH:MM"`` on a 30-minute mark; ``"24:00"`` (if allowed) -> ``END_OF_DAY``."""
    if not isinstance(text, str) or not _HHMM_RE.fullmatch(text):
        raise ValidationFailed(f'{field or "time"} must be "HH:MM" (24-hour clock)', field=field)
    if text == "24:00":
        if not allow_24:
            raise ValidationFailed(f'{field or "time"}: "24:00" is only allowed as an end', field)
        return END_OF_DAY
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes % SLOT_MINUTES:
        raise ValidationFailed(f"{field or 'time'} must be on a :00 or :30 mark", field=field)
    return time(hours, minutes)


def format_hhmm(t: time, *, is_end: bool = False) -> str:
    return "24:00" if is_end and t == END_OF_DAY else t.strftime("%H:%M")


def _minute_of_day(t: time, *, is_end: bool) -> int:
    return 24 * 60 if is_end and t == END_OF_DAY else t.hour * 60 + t.minute


@dataclass(frozen=True)
class OpeningHours:
    """Weekly opening intervals; every weekday key is present, a closed day maps to ``()``.
    Dated exceptions (Christmas Eve 08:00-13:00, a day closed all day: ``()``) take the
    place of the weekly hours on their date."""

    by_weekday: dict[str, tuple[Interval, ...]]
    exceptions: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)

    def with_exceptions(self, exceptions: Mapping[date, tuple[Interval, ...]]) -> OpeningHours:
        return replace(self, exceptions=dict(exceptions))

    @classmethod
    def parse(cls, raw: Mapping[str, object], field: str = "opening_hours") -> OpeningHours:
        """``{"mon": [["08:00", "19:00"]], ...}``; a missing day is closed."""
        if not isinstance(raw, Mapping):
            raise ValidationFailed(f"{field} must be an object keyed by weekday", field=field)
        unknown = sorted(str(key) for key in raw if key not in WEEKDAYS)
        if unknown:
            raise ValidationFailed(
                f"unknown weekday {unknown[0]!r}; use {', '.join(WEEKDAYS)}",
                field=f"{field}.{unknown[0]}",
            )
        return cls({day: _parse_day(raw.get(day, []), f"{field}.{day}") for day in WEEKDAYS})

    def to_dict(self) -> dict[str, list[list[str]]]:
        return {day: _labels(self.by_weekday.get(day, ())) for day in WEEKDAYS}

    def intervals_on(self, d: date) -> tuple[Interval, ...]:
        if d in self.exceptions:
            return self.exceptions[d]
        return self.by_weekday.get(WEEKDAYS[d.weekday()], ())

    def is_open_on(self, d: date) -> bool:
        return bool(self.intervals_on(d))

    def labels_on(self, d: date) -> list[list[str]]:
        """That date's intervals as ``[["08:00", "19:00"]]`` (an end of midnight is "24:00")."""
        return _labels(self.intervals_on(d))


def parse_day_hours(raw: object, field: str) -> tuple[Interval, ...]:
    """One day's ``[["08:00", "13:00"], ...]`` (sorted, not overlapping); ``None``: closed."""
    return () if raw is None else _parse_day(raw, field)


def day_labels(intervals: Iterable[Interval]) -> list[list[str]]:
    return _labels(intervals)


def changed_days(before: OpeningHours, after: OpeningHours, days: Iterable[date]) -> list[date]:
    """The days among ``days`` whose opening intervals differ between two schedules."""
    return [d for d in days if before.intervals_on(d) != after.intervals_on(d)]


def taken_outside_hours(
    hours: OpeningHours, d: date, tz: ZoneInfo, taken: Mapping[int, int], first_slot: int = 0
) -> list[tuple[int, int]]:
    """(slot index, seats) of the seats taken on ``d`` from ``first_slot`` on that fall
    outside the opening hours of that day, in order: what a shorter day would strand."""
    open_indices = {slot.index for slot in open_slots(hours, d, tz)}
    return [
        (index, seats)
        for index, seats in sorted(taken.items())
        if seats > 0 and index >= first_slot and index not in open_indices
    ]


def closed_indices(hours: OpeningHours, d: date, tz: ZoneInfo) -> list[int]:
    """The slot indices of ``d`` outside its opening hours (every slot of a closed day)."""
    open_indices = {slot.index for slot in open_slots(hours, d, tz)}
    return [k for k in range(slots_in_day(d, tz)) if k not in open_indices]


def _labels(intervals: Iterable[Interval]) -> list[list[str]]:
    return [[format_hhmm(start), format_hhmm(end, is_end=True)] for start, end in intervals]


def _parse_day(raw: object, field: str) -> tuple[Interval, ...]:
    if not isinstance(raw, list):
        raise ValidationFailed(f'{field} must be a list of ["HH:MM", "HH:MM"]', field=field)
    intervals: list[Interval] = []
    previous_end = -1
    for i, item in enumerate(raw):
        item_field = f"{field}[{i}]"
        if not isinstance(item, list) or len(item) != 2:
            raise ValidationFailed(f'{item_field} must be ["HH:MM", "HH:MM"]', item_field)
        start = parse_hhmm(item[0], item_field)
        end = parse_hhmm(item[1], item_field, allow_24=True)
        start_min = _minute_of_day(start, is_end=False)
        end_min = _minute_of_day(end, is_end=True)
        if start_min >= end_min:
            raise ValidationFailed(f"{item_field}: start must be before end", item_field)
        if start_min < previous_end:
            raise ValidationFailed(f"{field}: intervals must be sorted, not overlap", item_field)
        intervals.append((start, end))
        previous_end = end_min
    return tuple(intervals)


def _utc(instant: datetime) -> datetime:
    # Callers may hand back ZoneInfo datetimes; compared as is they would go by wall clock.
    return instant.astimezone(UTC)


def _fixed(local: datetime) -> datetime:
    """The same instant and wall clock, with the zone's offset frozen into the tzinfo."""
    offset = local.utcoffset()
    if offset is None:
        raise ValueError("expected an aware datetime")
    return local.replace(tzinfo=timezone(offset), fold=0)


def _exists(naive: datetime, tz: ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def _first_instant_from(naive: datetime, tz: ZoneInfo) -> datetime:
    """The first instant whose wall clock is at or after ``naive``.

    A wall time inside a spring-forward gap maps to the end of the gap: a relay that
    "opens at 02:00" on that night opens when the clocks show 03:00.
    """
    probe = naive
    # Gaps are at most a couple of hours; the bound only guards against a broken tz.
    for _ in range(48 * 60):
        if _exists(probe, tz):
            return _fixed(probe.replace(tzinfo=tz, fold=0))
        probe += timedelta(minutes=1)
    raise ValueError(f"no valid wall time after {naive} in {tz}")


# Pure and hot (availability asks it for every slot of every relay): worth memoising.
@lru_cache(maxsize=4096)
def local_midnight(d: date, tz: ZoneInfo) -> datetime:
    """The first instant of local date ``d`` (later than 00:00 where midnight is skipped)."""
    return _first_instant_from(datetime.combine(d, time(0, 0)), tz)


def to_instant(
    d: date, t: time, tz: ZoneInfo, field: str | None = None, *, second_pass: bool = False
) -> datetime:
    """Wall clock -> fixed-offset datetime. Skipped -> ValidationFailed; repeated -> first
    (its second pass with ``second_pass``: the night clocks go back)."""
    naive = datetime.combine(d, t)
    if not _exists(naive, tz):
        raise ValidationFailed(
            f"{t.strftime('%H:%M')} does not exist on {d.isoformat()} "
            "(clocks go forward that night)",
            field=field,
        )
    return _fixed(naive.replace(tzinfo=tz, fold=int(second_pass)))


def to_instant_hhmm(
    d: date, text: str, tz: ZoneInfo, field: str | None = None, *, second_pass: bool = False
) -> datetime:
    """Like ``to_instant`` for an ``"HH:MM"`` string; ``"24:00"`` is the next local midnight."""
    t = parse_hhmm(text, field, allow_24=True)
    if text == "24:00":
        return local_midnight(d + timedelta(days=1), tz)
    return to_instant(d, t, tz, field, second_pass=second_pass)


def _interval_bounds(d: date, interval: Interval, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start, end = interval
    begin = _first_instant_from(datetime.combine(d, start), tz)
    if end == END_OF_DAY:
        return begin, local_midnight(d + timedelta(days=1), tz)
    return begin, _first_instant_from(datetime.combine(d, end), tz)


@dataclass(frozen=True)
class Slot:
    """Half an hour of real time: ``index`` within its local date; fixed-offset start/end."""

    index: int
    start: datetime
    end: datetime

    def local_label(self) -> tuple[str, str]:
        """Wall-clock ``("HH:MM", "HH:MM")``; a slot ending at the next midnight ends "24:00"."""
        end = "24:00" if self.end.date() > self.start.date() else self.end.strftime("%H:%M")
        return self.start.strftime("%H:%M"), end


@lru_cache(maxsize=4096)
def slots_in_day(d: date, tz: ZoneInfo) -> int:
    """46 on a spring-forward day, 50 on a fall-back day, 48 otherwise (Europe/Paris)."""
    length = _utc(local_midnight(d + timedelta(days=1), tz)) - _utc(local_midnight(d, tz))
    return length // SLOT


def slot_at(d: date, tz: ZoneInfo, index: int) -> Slot:
    if not 0 <= index < slots_in_day(d, tz):
        raise ValueError(f"slot index {index} out of range for {d.isoformat()} in {tz}")
    start_utc = _utc(local_midnight(d, tz)) + index * SLOT
    return Slot(index, _fixed(start_utc.astimezone(tz)), _fixed((start_utc + SLOT).astimezone(tz)))


def _elapsed_steps(d: date, tz: ZoneInfo, instant: datetime, *, ceil: bool) -> int:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be an aware datetime")
    elapsed = _utc(instant) - _utc(local_midnight(d, tz))
    steps, rest = divmod(elapsed, SLOT)
    return steps + 1 if ceil and rest else steps


def slots_over(d: date, tz: ZoneInfo, now: datetime) -> int:
    """How many slots of date ``d`` have ended by ``now`` (the first ones, by index): none
    on a later date, every one on an earlier date. A booking can no longer start in them."""
    if now < local_midnight(d, tz):  # a day not begun (availability asks for every relay)
        return 0
    return min(max(_elapsed_steps(d, tz, now, ceil=False), 0), slots_in_day(d, tz))


def slots_between(d: date, tz: ZoneInfo, start: datetime, end: datetime) -> list[Slot]:
    """The slots of date ``d`` lying wholly within ``[start, end)``, in order."""
    first = max(_elapsed_steps(d, tz, start, ceil=True), 0)
    last = min(_elapsed_steps(d, tz, end, ceil=False), slots_in_day(d, tz))
    return [slot_at(d, tz, k) for k in range(first, last)]


def open_slots(hours: OpeningHours, d: date, tz: ZoneInfo) -> list[Slot]:
    """Every slot of date ``d`` inside its opening intervals, in order."""
    return list(slots_within(hours.intervals_on(d), d, tz))


@lru_cache(maxsize=4096)
def slots_within(intervals: tuple[Interval, ...], d: date, tz: ZoneInfo) -> tuple[Slot, ...]:
    """Every slot of date ``d`` inside ``intervals`` (its ``intervals_on``), in order."""
    # Pure and asked for on every booking and availability request: computed once per
    # (intervals, date, zone). Slots are frozen, the tuple immutable.
    indices: set[int] = set()
    for interval in intervals:
        begin, end = _interval_bounds(d, interval, tz)
        indices.update(slot.index for slot in slots_between(d, tz, begin, end))
    return tuple(slot_at(d, tz, k) for k in sorted(indices))


_SLOT_INDEX = attrgetter("index")


def booking_window(slots: Iterable[Slot]) -> tuple[datetime, datetime]:
    """First start and last end of slots of one date (a day with a lunch break spans the
    break). An index counts half hours of real time from local midnight (`slot_at`), so
    index order is time order, DST days included: no instant to convert."""
    given = list(slots)
    if not given:
        raise ValueError("no slots")
    return min(given, key=_SLOT_INDEX).start, max(given, key=_SLOT_INDEX).end


def parse_unit(text: object, field: str = "unit") -> Unit:
    if text not in UNITS:
        raise ValidationFailed(f"{field} must be one of {', '.join(UNITS)}", field=field)
    return text


def resolve_unit(
    hours: OpeningHours,
    d: date,
    tz: ZoneInfo,
    unit: str,
    start: str | None = None,
    end: str | None = None,
    *,
    second_pass: bool = False,
) -> list[Slot]:
    """The slots a booking of ``unit`` on date ``d`` covers.

    ``start``/``end`` are only read for ``hour`` (ignored otherwise; a time the night
    clocks go back shows twice is read as its first pass, or its second with
    ``second_pass``). Raises
    ValidationFailed (bad unit or times), RelayClosed (no opening hours that day) or
    OutsideOpeningHours (the requested part of the day is not open).
    """
    kind = parse_unit(unit)
    window = _hour_window(d, tz, start, end, second_pass) if kind == "hour" else None
    available = open_slots(hours, d, tz)
    if not available:
        raise RelayClosed(f"The relay is closed on {d.isoformat()}.")
    if window is not None:
        wanted = slots_between(d, tz, *window)
        if not wanted or {s.index for s in wanted} - {s.index for s in available}:
            raise OutsideOpeningHours("The requested times are outside the opening hours.")
        return wanted
    if kind == "day":
        return available
    return _half_day(available, d, tz, morning=kind == "half_day_am")


def _half_day(available: list[Slot], d: date, tz: ZoneInfo, *, morning: bool) -> list[Slot]:
    midday = _utc(_first_instant_from(datetime.combine(d, MIDDAY), tz))
    if morning:
        chosen = [slot for slot in available if _utc(slot.end) <= midday]
    else:
        chosen = [slot for slot in available if _utc(slot.start) >= midday]
    if not chosen:
        half = "morning" if morning else "afternoon"
        raise OutsideOpeningHours(f"The relay is not open in the {half} of {d.isoformat()}.")
    return chosen


def _hour_window(
    d: date, tz: ZoneInfo, start: str | None, end: str | None, second_pass: bool = False
) -> tuple[datetime, datetime]:
    if start is None:
        raise ValidationFailed("start is required for an hourly booking", field="start")
    if end is None:
        raise ValidationFailed("end is required for an hourly booking", field="end")
    if start == "24:00":
        raise ValidationFailed('"24:00" is only allowed as an end time', field="start")
    begin = to_instant_hhmm(d, start, tz, field="start", second_pass=second_pass)
    finish = to_instant_hhmm(d, end, tz, field="end", second_pass=second_pass)
    if _utc(finish) <= _utc(begin):
        raise ValidationFailed("end must be after start", field="end")
    return begin, finish
