"""French national public holidays (Code du travail, art. L3133-1).

Eleven days: eight on fixed dates, three that follow Easter (Easter Monday, Ascension
Thursday, Whit Monday). Alsace-Moselle's two extra days are local, not national.
"""

from __future__ import annotations

from datetime import date, timedelta

FIXED = (
    (1, 1, "Jour de l'An"),
    (5, 1, "Fête du Travail"),
    (5, 8, "Victoire 1945"),
    (7, 14, "Fête nationale"),
    (8, 15, "Assomption"),
    (11, 1, "Toussaint"),
    (11, 11, "Armistice 1918"),
    (12, 25, "Noël"),
)
AFTER_EASTER = ((1, "Lundi de Pâques"), (39, "Ascension"), (50, "Lundi de Pentecôte"))


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    lk = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * lk) // 451
    month = (h + lk - 7 * m + 114) // 31
    day = (h + lk - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def french_public_holidays(year: int) -> list[tuple[date, str]]:
    """The 11 national public holidays of `year`, in date order, with their French names."""
    easter = easter_sunday(year)
    days = [(date(year, month, day), name) for month, day, name in FIXED]
    days += [(easter + timedelta(days=offset), name) for offset, name in AFTER_EASTER]
    return sorted(days)
