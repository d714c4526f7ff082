"""A relay's parsed hours are kept by their content (issue 15: parsed once, not per
request): an edited relay — a copy with other hours or exceptions — never gets the
hours of its former self."""

from __future__ import annotations

from datetime import date

from chalicelib.domain.catalogue import OpeningException, Relay
from tests.support.api import relay_body

THURSDAY, CHRISTMAS = date(2026, 12, 3), date(2026, 12, 25)


def relay() -> Relay:
    return Relay.model_validate(
        {**relay_body("op"), "id": "rel", "created_at": "2026-12-01T08:00:00+01:00"}
    )


def test_given_a_relay_read_twice_then_its_hours_are_parsed_once() -> None:
    assert relay().hours() is relay().hours()


def test_given_new_weekly_hours_then_the_copy_answers_them() -> None:
    before = relay()
    assert before.hours().labels_on(THURSDAY) != [["10:00", "12:00"]]
    week = {day: [["10:00", "12:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}

    after = before.model_copy(update={"opening_hours": week})

    assert after.hours().labels_on(THURSDAY) == [["10:00", "12:00"]]
    assert before.hours().labels_on(THURSDAY) != [["10:00", "12:00"]]


def test_given_a_new_exception_then_the_copy_is_closed_that_day() -> None:
    before = relay()
    assert before.hours().intervals_on(THURSDAY)

    after = before.model_copy(
        update={"opening_exceptions": [OpeningException(date=THURSDAY, hours=None)]}
    )

    assert after.hours().intervals_on(THURSDAY) == ()
    assert before.hours().intervals_on(THURSDAY)
    assert after.hours().intervals_on(CHRISTMAS) == before.hours().intervals_on(CHRISTMAS)
