"""French public holidays: Easter and the days that follow it, the fixed dates."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.holidays import easter_sunday, french_public_holidays


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),  # the latest possible
        (2285, date(2285, 3, 22)),  # the earliest possible
    ],
)
def test_easter_sunday_of_known_years(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_a_year_has_eleven_national_holidays() -> None:
    assert len(french_public_holidays(2027)) == 11


def test_the_days_that_follow_easter_in_2026() -> None:
    named = {name: day for day, name in french_public_holidays(2026)}
    assert (named["Lundi de Pâques"], named["Ascension"], named["Lundi de Pentecôte"]) == (
        date(2026, 4, 6),
        date(2026, 5, 14),
        date(2026, 5, 25),
    )


def test_fixed_holidays_fall_on_their_dates() -> None:
    days = {day for day, _ in french_public_holidays(2026)}
    fixed = {(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)}
    assert {(d.month, d.day) for d in days} >= fixed


def test_holidays_come_in_date_order() -> None:
    days = [day for day, _ in french_public_holidays(2025)]
    assert days == sorted(days)
