from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.schedule import (
    WEEKDAYS,
    OpeningHours,
    Slot,
    booking_window,
    local_midnight,
    open_slots,
    resolve_unit,
    slot_at,
    slots_between,
    slots_in_day,
    slots_over,
    to_instant,
    to_instant_hhmm,
)
from chalicelib.errors import OutsideOpeningHours, RelayClosed, ValidationFailed

PARIS = ZoneInfo("Europe/Paris")
SPRING_FORWARD = date(2026, 3, 29)  # a Sunday: 02:00 CET -> 03:00 CEST
FALL_BACK = date(2026, 10, 25)  # a Sunday: 03:00 CEST -> 02:00 CET
MONDAY = date(2026, 12, 7)
SATURDAY = date(2026, 12, 12)
SUNDAY = date(2026, 12, 13)

WEEK = OpeningHours.parse(
    {
        "mon": [["08:00", "19:00"]],
        "tue": [["08:00", "12:00"], ["14:00", "19:00"]],
        "wed": [["08:00", "19:00"]],
        "thu": [["08:00", "19:00"]],
        "fri": [["08:00", "19:00"]],
        "sat": [["09:00", "12:00"]],
    }
)
NIGHT_OWL = OpeningHours.parse({day: [["00:00", "06:00"]] for day in WEEKDAYS})


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def field_of(error: ValidationFailed) -> str:
    return str(error.errors[0]["field"])


def labels(slots: list[Slot]) -> list[tuple[str, str]]:
    return [slot.local_label() for slot in slots]


# ---------------------------------------------------------------- opening hours


def test_opening_hours_round_trip_with_every_weekday() -> None:
    assert WEEK.to_dict() == {
        "mon": [["08:00", "19:00"]],
        "tue": [["08:00", "12:00"], ["14:00", "19:00"]],
        "wed": [["08:00", "19:00"]],
        "thu": [["08:00", "19:00"]],
        "fri": [["08:00", "19:00"]],
        "sat": [["09:00", "12:00"]],
        "sun": [],
    }


def test_a_missing_weekday_is_closed() -> None:
    assert WEEK.intervals_on(SUNDAY) == ()
    assert not WEEK.is_open_on(SUNDAY)


def test_intervals_on_picks_the_weekday_of_the_date() -> None:
    assert WEEK.intervals_on(SATURDAY) == ((time(9, 0), time(12, 0)),)


def test_24_00_is_accepted_as_an_end_and_given_back() -> None:
    hours = OpeningHours.parse({"fri": [["18:00", "24:00"]]})

    assert hours.to_dict()["fri"] == [["18:00", "24:00"]]
    assert hours.labels_on(date(2026, 12, 11)) == [["18:00", "24:00"]]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"lun": [["08:00", "19:00"]]}, "opening_hours.lun"),
        ({"mon": "08:00-19:00"}, "opening_hours.mon"),
        ({"mon": [["08:00"]]}, "opening_hours.mon[0]"),
        ({"mon": [["8:00", "19:00"]]}, "opening_hours.mon[0]"),
        ({"mon": [["08:00", "25:00"]]}, "opening_hours.mon[0]"),
        ({"mon": [["08:15", "19:00"]]}, "opening_hours.mon[0]"),
        ({"mon": [["24:00", "24:00"]]}, "opening_hours.mon[0]"),
        ({"mon": [["19:00", "08:00"]]}, "opening_hours.mon[0]"),
        ({"mon": [["08:00", "08:00"]]}, "opening_hours.mon[0]"),
        ({"mon": [[8, 19]]}, "opening_hours.mon[0]"),
        ({"mon": [["08:00", "12:00"], ["11:30", "19:00"]]}, "opening_hours.mon[1]"),
        ({"mon": [["14:00", "19:00"], ["08:00", "12:00"]]}, "opening_hours.mon[1]"),
    ],
)
def test_bad_opening_hours_name_the_faulty_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        OpeningHours.parse(raw)

    assert field_of(info.value) == field


def test_touching_intervals_are_allowed() -> None:
    hours = OpeningHours.parse({"mon": [["08:00", "12:00"], ["12:00", "19:00"]]})

    assert len(open_slots(hours, MONDAY, PARIS)) == 22


# ---------------------------------------------------------------- instants and slots


def test_instants_carry_the_seasons_utc_offset() -> None:
    assert to_instant(MONDAY, time(9, 0), PARIS).isoformat() == "2026-12-07T09:00:00+01:00"
    assert to_instant(date(2026, 6, 1), time(9, 0), PARIS).isoformat() == (
        "2026-06-01T09:00:00+02:00"
    )


def test_a_wall_time_skipped_by_spring_forward_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed) as info:
        to_instant(SPRING_FORWARD, time(2, 30), PARIS, field="start")

    assert field_of(info.value) == "start"


def test_a_repeated_wall_time_means_its_first_occurrence() -> None:
    instant = to_instant(FALL_BACK, time(2, 30), PARIS)

    assert instant.isoformat() == "2026-10-25T02:30:00+02:00"


def test_24_00_is_the_next_local_midnight() -> None:
    instant = to_instant_hhmm(MONDAY, "24:00", PARIS)

    assert instant.isoformat() == "2026-12-08T00:00:00+01:00"


def test_local_midnight_is_in_the_relays_zone() -> None:
    assert local_midnight(SPRING_FORWARD, PARIS).astimezone(UTC) == utc(2026, 3, 28, 23)


@pytest.mark.parametrize(("day", "count"), [(MONDAY, 48), (SPRING_FORWARD, 46), (FALL_BACK, 50)])
def test_a_day_has_as_many_slots_as_half_hours_elapsed(day: date, count: int) -> None:
    assert slots_in_day(day, PARIS) == count


def test_slot_index_counts_elapsed_time_on_spring_forward_day() -> None:
    # GIVEN the night the clocks jump from 02:00 to 03:00
    # WHEN we take slot 4 (two real hours after midnight)
    slot = slot_at(SPRING_FORWARD, PARIS, 4)

    # THEN it starts at 03:00 summer time
    assert slot.start.isoformat() == "2026-03-29T03:00:00+02:00"
    assert slot.local_label() == ("03:00", "03:30")


def test_the_slot_across_the_spring_forward_jump_is_labelled_by_wall_clock() -> None:
    assert slot_at(SPRING_FORWARD, PARIS, 3).local_label() == ("01:30", "03:00")


def test_the_repeated_hour_on_fall_back_day_gets_distinct_slots() -> None:
    first, second = slot_at(FALL_BACK, PARIS, 4), slot_at(FALL_BACK, PARIS, 6)

    assert first.local_label() == second.local_label() == ("02:00", "02:30")
    assert first.start.isoformat() == "2026-10-25T02:00:00+02:00"
    assert second.start.isoformat() == "2026-10-25T02:00:00+01:00"
    assert second.start.astimezone(UTC) - first.start.astimezone(UTC) == timedelta(hours=1)


def test_slot_index_out_of_the_day_is_refused() -> None:
    with pytest.raises(ValueError):
        slot_at(SPRING_FORWARD, PARIS, 46)


def test_opening_00_to_06_has_ten_slots_on_spring_forward_day() -> None:
    slots = open_slots(NIGHT_OWL, SPRING_FORWARD, PARIS)

    assert [slot.index for slot in slots] == list(range(10))
    assert slots[-1].end.isoformat() == "2026-03-29T06:00:00+02:00"


def test_opening_00_to_06_has_fourteen_slots_on_fall_back_day() -> None:
    slots = open_slots(NIGHT_OWL, FALL_BACK, PARIS)

    assert [slot.index for slot in slots] == list(range(14))
    assert slots[-1].end.isoformat() == "2026-10-25T06:00:00+01:00"


def test_an_opening_inside_the_skipped_hour_starts_when_clocks_show_03_00() -> None:
    hours = OpeningHours.parse({"sun": [["02:00", "05:00"]]})

    slots = open_slots(hours, SPRING_FORWARD, PARIS)

    assert labels(slots) == [
        ("03:00", "03:30"),
        ("03:30", "04:00"),
        ("04:00", "04:30"),
        ("04:30", "05:00"),
    ]


def test_open_slots_skip_the_lunch_break() -> None:
    slots = open_slots(WEEK, date(2026, 12, 8), PARIS)

    assert len(slots) == 18
    assert ("12:00", "12:30") not in labels(slots)


def test_last_slot_before_midnight_ends_at_24_00() -> None:
    hours = OpeningHours.parse({"mon": [["23:00", "24:00"]]})

    assert labels(open_slots(hours, MONDAY, PARIS)) == [("23:00", "23:30"), ("23:30", "24:00")]


def test_slots_between_keeps_the_slots_wholly_inside_the_range() -> None:
    start = to_instant(MONDAY, time(9, 15), PARIS)
    end = to_instant(MONDAY, time(10, 45), PARIS)

    assert labels(slots_between(MONDAY, PARIS, start, end)) == [
        ("09:30", "10:00"),
        ("10:00", "10:30"),
    ]


def test_slots_between_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        slots_between(MONDAY, PARIS, datetime(2026, 12, 7, 9), datetime(2026, 12, 7, 10))


def test_booking_window_spans_first_start_to_last_end() -> None:
    slots = open_slots(WEEK, date(2026, 12, 8), PARIS)

    start, end = booking_window(slots)

    assert (start.isoformat(), end.isoformat()) == (
        "2026-12-08T08:00:00+01:00",
        "2026-12-08T19:00:00+01:00",
    )


# ---------------------------------------------------------------- booking units


def test_day_covers_the_opening_hours() -> None:
    slots = resolve_unit(WEEK, MONDAY, PARIS, "day", None, None)

    assert len(slots) == 22
    assert labels(slots)[0] == ("08:00", "08:30")
    assert labels(slots)[-1] == ("18:30", "19:00")


def test_closed_weekday_is_relay_closed_for_every_unit() -> None:
    for unit, start, end in [
        ("day", None, None),
        ("half_day_am", None, None),
        ("hour", "10:00", "11:00"),
    ]:
        with pytest.raises(RelayClosed):
            resolve_unit(WEEK, SUNDAY, PARIS, unit, start, end)


def test_morning_ends_at_13_00() -> None:
    slots = resolve_unit(WEEK, MONDAY, PARIS, "half_day_am", None, None)

    assert labels(slots)[0] == ("08:00", "08:30")
    assert labels(slots)[-1] == ("12:30", "13:00")


def test_afternoon_starts_at_13_00() -> None:
    slots = resolve_unit(WEEK, MONDAY, PARIS, "half_day_pm", None, None)

    assert labels(slots)[0] == ("13:00", "13:30")
    assert labels(slots)[-1] == ("18:30", "19:00")


def test_relay_closing_at_noon_has_no_afternoon() -> None:
    with pytest.raises(OutsideOpeningHours):
        resolve_unit(WEEK, SATURDAY, PARIS, "half_day_pm", None, None)


def test_relay_opening_after_13_00_has_no_morning() -> None:
    hours = OpeningHours.parse({"mon": [["14:00", "20:00"]]})

    with pytest.raises(OutsideOpeningHours):
        resolve_unit(hours, MONDAY, PARIS, "half_day_am", None, None)


def test_hour_booking_covers_its_half_hours() -> None:
    slots = resolve_unit(WEEK, MONDAY, PARIS, "hour", "09:00", "10:30")

    assert labels(slots) == [("09:00", "09:30"), ("09:30", "10:00"), ("10:00", "10:30")]


def test_hour_booking_ignores_start_and_end_for_other_units() -> None:
    assert len(resolve_unit(WEEK, MONDAY, PARIS, "day", "09:00", "08:00")) == 22


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (None, "10:00", "start"),
        ("09:00", None, "end"),
        ("09:15", "10:00", "start"),
        ("09:00", "10:10", "end"),
        ("9h", "10:00", "start"),
        ("24:00", "24:00", "start"),
        ("10:00", "10:00", "end"),
        ("11:00", "10:00", "end"),
    ],
)
def test_bad_hour_times_are_validation_errors(
    start: str | None, end: str | None, field: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        resolve_unit(WEEK, MONDAY, PARIS, "hour", start, end)

    assert field_of(info.value) == field


def test_unknown_unit_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed) as info:
        resolve_unit(WEEK, MONDAY, PARIS, "week", None, None)

    assert field_of(info.value) == "unit"


@pytest.mark.parametrize(("start", "end"), [("18:00", "19:30"), ("07:30", "09:00")])
def test_hour_booking_spilling_outside_hours_is_refused(start: str, end: str) -> None:
    with pytest.raises(OutsideOpeningHours):
        resolve_unit(WEEK, MONDAY, PARIS, "hour", start, end)


def test_hour_booking_across_the_lunch_break_is_refused() -> None:
    with pytest.raises(OutsideOpeningHours):
        resolve_unit(WEEK, date(2026, 12, 8), PARIS, "hour", "11:00", "15:00")


def test_hour_booking_starting_in_the_skipped_hour_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed) as info:
        resolve_unit(NIGHT_OWL, SPRING_FORWARD, PARIS, "hour", "02:30", "04:00")

    assert field_of(info.value) == "start"


def test_hour_booking_over_the_spring_forward_jump_lasts_real_time() -> None:
    # GIVEN 01:00 -> 04:00 wall clock on the night an hour is skipped
    slots = resolve_unit(NIGHT_OWL, SPRING_FORWARD, PARIS, "hour", "01:00", "04:00")

    # THEN it covers two real hours
    assert [slot.index for slot in slots] == [2, 3, 4, 5]
    assert slots[0].start.astimezone(UTC) == utc(2026, 3, 29, 0)
    assert slots[-1].end.astimezone(UTC) == utc(2026, 3, 29, 2)


def test_hour_booking_to_midnight_accepts_24_00() -> None:
    hours = OpeningHours.parse({"mon": [["20:00", "24:00"]]})

    slots = resolve_unit(hours, MONDAY, PARIS, "hour", "23:00", "24:00")

    assert labels(slots) == [("23:00", "23:30"), ("23:30", "24:00")]


def test_returned_instants_subtract_as_real_elapsed_time() -> None:
    # GIVEN 01:00 -> 04:00 wall clock across the spring-forward jump
    start, end = booking_window(
        resolve_unit(NIGHT_OWL, SPRING_FORWARD, PARIS, "hour", "01:00", "04:00")
    )

    # THEN plain subtraction gives the two real hours, not three wall-clock ones
    assert end - start == timedelta(hours=2)


def test_returned_instants_round_trip_through_rfc3339() -> None:
    slot = slot_at(FALL_BACK, PARIS, 6)

    assert datetime.fromisoformat(slot.start.isoformat()) == slot.start
    assert slot.start.utcoffset() == timedelta(hours=1)


# -- slots over by a given instant ---------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "over"),
    [
        (datetime(2026, 12, 6, 23, 59, tzinfo=PARIS), 0),  # the day before
        (datetime(2026, 12, 7, 0, 0, tzinfo=PARIS), 0),  # midnight: nothing has ended
        (datetime(2026, 12, 7, 0, 29, 59, tzinfo=PARIS), 0),  # the first slot under way
        (datetime(2026, 12, 7, 0, 30, tzinfo=PARIS), 1),  # ... and ended
        (datetime(2026, 12, 7, 10, 15, tzinfo=PARIS), 20),  # 10:00-10:30 under way
        (datetime(2026, 12, 7, 9, 15, tzinfo=UTC), 20),  # the same instant in UTC
        (datetime(2026, 12, 8, 0, 0, tzinfo=PARIS), 48),  # the next day: all over
        (datetime(2027, 1, 1, tzinfo=PARIS), 48),
    ],
)
def test_slots_over_counts_the_slots_ended_by_now(now: datetime, over: int) -> None:
    assert slots_over(MONDAY, PARIS, now) == over


def test_slots_over_counts_real_time_on_dst_days() -> None:
    # 03:15 CEST on the spring-forward day: 00:00, 00:30, 01:00 and 01:30 ended (no 02:00
    # that day), 03:00-03:30 under way.
    assert slots_over(SPRING_FORWARD, PARIS, datetime(2026, 3, 29, 3, 15, tzinfo=PARIS)) == 4
    # The second 02:15 of the fall-back day (CET, UTC+1): six slots ended, the 02:00 of
    # CEST and its 02:30 among them.
    second_0215 = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)
    assert slots_over(FALL_BACK, PARIS, second_0215) == 6
    assert slots_over(FALL_BACK, PARIS, datetime(2026, 10, 26, tzinfo=PARIS)) == 50
