"""Dated opening-hour exceptions without I/O: they replace the weekly hours on their date
only, a closed one closes the day, and what a shorter day would strand is found."""

from __future__ import annotations

from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError as PydanticError

from chalicelib.domain.catalogue import Relay
from chalicelib.domain.schedule import (
    OpeningHours,
    changed_days,
    closed_indices,
    open_slots,
    resolve_unit,
    taken_outside_hours,
)
from chalicelib.errors import OutsideOpeningHours, RelayClosed, ValidationFailed
from tests.support.api import relay_body

PARIS = ZoneInfo("Europe/Paris")
CHRISTMAS_EVE, CHRISTMAS, NEXT_THURSDAY = date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 31)
WEEKLY = OpeningHours.parse({d: [["08:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})
SHORT = WEEKLY.with_exceptions({CHRISTMAS_EVE: ((time(8), time(13)),), CHRISTMAS: ()})


def relay(exceptions: list[dict[str, Any]]) -> Relay:
    return Relay.model_validate(
        {
            **relay_body("op"),
            "id": "rel",
            "created_at": "2026-12-01T08:00:00+01:00",
            "opening_exceptions": exceptions,
        }
    )


def test_an_exception_replaces_the_weekly_hours_on_its_date_only() -> None:
    assert SHORT.labels_on(CHRISTMAS_EVE) == [["08:00", "13:00"]]
    assert SHORT.labels_on(NEXT_THURSDAY) == [["08:00", "19:00"]]
    assert len(open_slots(SHORT, CHRISTMAS_EVE, PARIS)) == 10
    assert SHORT.to_dict() == WEEKLY.to_dict()  # the weekly hours are unchanged


def test_a_closed_exception_closes_the_day() -> None:
    assert not SHORT.is_open_on(CHRISTMAS)
    with pytest.raises(RelayClosed):
        resolve_unit(SHORT, CHRISTMAS, PARIS, "day", None, None)


def test_booking_validation_follows_the_exception() -> None:
    with pytest.raises(OutsideOpeningHours):
        resolve_unit(SHORT, CHRISTMAS_EVE, PARIS, "hour", "14:00", "15:00")
    with pytest.raises(OutsideOpeningHours):
        resolve_unit(SHORT, CHRISTMAS_EVE, PARIS, "half_day_pm", None, None)
    day = resolve_unit(SHORT, CHRISTMAS_EVE, PARIS, "day", None, None)
    assert [s.local_label()[0] for s in (day[0], day[-1])] == ["08:00", "12:30"]


def test_seats_outside_the_new_hours_are_found_from_the_first_slot_on() -> None:
    taken = {20: 1, 26: 2, 30: 0, 36: 1}  # 10:00, 13:00, 15:00 (released), 18:00
    assert taken_outside_hours(SHORT, CHRISTMAS_EVE, PARIS, taken) == [(26, 2), (36, 1)]
    assert taken_outside_hours(SHORT, CHRISTMAS_EVE, PARIS, taken, first_slot=30) == [(36, 1)]
    assert taken_outside_hours(SHORT, CHRISTMAS, PARIS, {20: 1}) == [(20, 1)]


def test_changed_days_and_closing_slots() -> None:
    days = [CHRISTMAS_EVE, CHRISTMAS, NEXT_THURSDAY]
    assert changed_days(WEEKLY, SHORT, days) == [CHRISTMAS_EVE, CHRISTMAS]
    closing = closed_indices(SHORT, CHRISTMAS_EVE, PARIS)
    assert 26 in closing and 25 not in closing and 16 not in closing and 15 in closing
    assert len(closed_indices(SHORT, CHRISTMAS, PARIS)) == 48


def test_a_relay_keeps_its_exceptions_sorted_in_canonical_form() -> None:
    r = relay(
        [{"date": "2026-12-25", "hours": []}, {"date": "2026-12-24", "hours": [["08:00", "13:00"]]}]
    )
    assert [(e.date, e.hours) for e in r.opening_exceptions] == [
        (CHRISTMAS_EVE, [["08:00", "13:00"]]),
        (CHRISTMAS, None),
    ]
    assert r.hours().labels_on(CHRISTMAS_EVE) == [["08:00", "13:00"]]
    assert not r.hours().is_open_on(CHRISTMAS)


@pytest.mark.parametrize(
    ("exceptions", "field"),
    [
        (
            [{"date": "2026-12-24", "hours": None}, {"date": "2026-12-24", "hours": None}],
            "opening_exceptions[1].date",
        ),
        ([{"date": "2026-12-24", "hours": [["13:00", "08:00"]]}], "opening_exceptions[0].hours[0]"),
    ],
)
def test_bad_exceptions_name_the_faulty_field(exceptions: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        relay(exceptions)
    assert refused.value.errors is not None and refused.value.errors[0]["field"] == field


def test_a_time_off_the_half_hour_marks_is_refused_by_its_shape() -> None:
    with pytest.raises(PydanticError) as refused:
        relay([{"date": "2026-12-24", "hours": [["08:15", "13:00"]]}])
    assert refused.value.errors()[0]["loc"] == ("opening_exceptions", 0, "hours", 0, 0)
