"""Bookings as iCalendar (RFC 5545), parsed back with `icalendar`: local times and UTC
instants on ordinary and DST days, the VTIMEZONE, status, sequence, escaping, folding."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.catalogue import Relay
from chalicelib.domain.schedule import open_slots
from chalicelib.services.calendars import (
    booking_event,
    booking_ics,
    calendar_text,
    wall_clock,
)

PARIS = ZoneInfo("Europe/Paris")
STAMP = datetime(2026, 3, 1, 9, 30, 12, 345678, tzinfo=PARIS)
EVERY_DAY_8_TO_19 = {
    d: [["08:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def relay(**overrides: Any) -> Relay:
    return Relay.model_validate(
        {
            "id": "rly_1",
            "name": "Gare de Melun",
            "operator_id": "op_1",
            "category": "station",
            "address": {"line1": "Place Gallieni", "postcode": "77000", "city": "Melun"},
            "location": {"lat": 48.5275, "lon": 2.6553},
            "opening_hours": EVERY_DAY_8_TO_19,
            "created_at": "2026-01-01T00:00:00+00:00",
            **overrides,
        }
    )


def day_booking(day: date, status: BookingStatus = BookingStatus.confirmed) -> Booking:
    """A day booking built as the app plans it: fixed-offset instants from the schedule."""
    slots = open_slots(relay().hours(), day, PARIS)
    return Booking(
        id="bkg_abc",
        member_id="member-1",
        relay_id="rly_1",
        resource_id="res_1",
        operator_id="op_1",
        date=day,
        unit="day",
        start=slots[0].start,
        end=slots[-1].end,
        slots=[s.index for s in slots],
        status=status,
        price={
            "amount": 1500,
            "currency": "EUR",
            "amount_excl_vat": 1250,
            "vat_amount": 250,
            "vat_rate": "20.00",
        },
        payment_method="card",
        created_at=datetime(2026, 2, 27, 10, 0, tzinfo=UTC),
    )


def parsed_event(text: str) -> Any:
    calendar = Calendar.from_ical(text)
    (event,) = calendar.events
    return event


@pytest.mark.parametrize(
    ("day", "utc_hours"),
    [
        (date(2026, 3, 30), (6, 17)),  # Monday after spring-forward: summer time, +02:00
        (date(2026, 10, 25), (7, 18)),  # fall-back Sunday, 25 hours: winter time from 03:00
        (date(2026, 3, 29), (6, 17)),  # spring-forward Sunday, 23 hours: summer from 03:00
    ],
)
def test_event_shows_the_relay_wall_clock_and_the_right_instants(
    day: date, utc_hours: tuple[int, int]
) -> None:
    text = booking_ics(day_booking(day), relay(), "Open space", STAMP)
    event = parsed_event(text)
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert event["DTEND"].params["TZID"] == "Europe/Paris"
    assert (event.start.date(), event.start.time()) == (day, time(8, 0))
    assert (event.end.date(), event.end.time()) == (day, time(19, 0))
    assert event.start.astimezone(UTC) == datetime.combine(day, time(utc_hours[0]), UTC)
    assert event.end.astimezone(UTC) == datetime.combine(day, time(utc_hours[1]), UTC)
    compact = day.strftime("%Y%m%d")
    assert f"DTSTART;TZID=Europe/Paris:{compact}T080000" in text
    assert f"DTEND;TZID=Europe/Paris:{compact}T190000" in text


def test_calendar_carries_the_vtimezone_of_the_relay() -> None:
    calendar = Calendar.from_ical(booking_ics(day_booking(date(2026, 10, 25)), relay(), "x", STAMP))
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Paris"]
    assert calendar.get_missing_tzids() == set()
    vtimezone = calendar.timezones[0].to_tz()  # its rules, as a tzinfo
    assert vtimezone.utcoffset(datetime(2026, 10, 24, 12)) == timedelta(hours=2)
    assert vtimezone.utcoffset(datetime(2026, 10, 25, 12)) == timedelta(hours=1)
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]).startswith("-//Relais//")


def test_event_fields() -> None:
    here = relay(address={"line1": "Place Gallieni, quai 1", "postcode": "77000", "city": "Melun"})
    event = parsed_event(booking_ics(day_booking(date(2026, 3, 30)), here, "Open space", STAMP))
    assert str(event["UID"]) == "bkg_abc@relais"
    assert str(event["SUMMARY"]) == "Open space — Gare de Melun"
    assert str(event["LOCATION"]) == "Place Gallieni, quai 1, 77000 Melun"  # commas escaped
    assert event["DTSTAMP"].dt == datetime(2026, 3, 1, 8, 30, 12, tzinfo=UTC)  # UTC, seconds
    assert event["CREATED"].dt == datetime(2026, 2, 27, 10, 0, tzinfo=UTC)
    assert (event["GEO"].latitude, event["GEO"].longitude) == (48.5275, 2.6553)


@pytest.mark.parametrize(
    ("status", "ics_status", "sequence"),
    [
        (BookingStatus.held, "TENTATIVE", 0),
        (BookingStatus.confirmed, "CONFIRMED", 1),
        (BookingStatus.checked_in, "CONFIRMED", 1),
        (BookingStatus.completed, "CONFIRMED", 1),
        (BookingStatus.cancelled, "CANCELLED", 2),
        (BookingStatus.expired, "CANCELLED", 2),
        (BookingStatus.no_show, "CANCELLED", 2),
    ],
)
def test_status_and_sequence(status: BookingStatus, ics_status: str, sequence: int) -> None:
    booking = day_booking(date(2026, 3, 30), status)
    event = parsed_event(booking_ics(booking, relay(), "Open space", STAMP))
    assert str(event["STATUS"]) == ics_status
    assert event["SEQUENCE"] == sequence


def test_text_is_folded_crlf_utf8() -> None:
    long_name = "Salle de réunion « Confluence de la Seine et du Loing » (grande)"
    raw = booking_ics(day_booking(date(2026, 3, 30)), relay(), long_name, STAMP).encode()
    lines = raw.split(b"\r\n")
    assert raw.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    event = parsed_event(raw.decode())
    assert str(event["SUMMARY"]) == f"{long_name} — Gare de Melun"


def test_feed_of_several_events_has_one_vtimezone() -> None:
    autumn = day_booking(date(2026, 10, 25)).model_copy(update={"id": "bkg_2"})
    spring = day_booking(date(2027, 3, 29))
    text = calendar_text(
        [booking_event(b, relay(), "Open space", STAMP) for b in (autumn, spring)],
        name="Relais",
        uid="feed@relais",
        refresh=timedelta(hours=1),
    )
    calendar = Calendar.from_ical(text)
    assert len(calendar.timezones) == 1
    assert [e.start.astimezone(UTC).hour for e in calendar.events] == [7, 6]
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text
    assert "X-PUBLISHED-TTL:PT1H\r\n" in text


def test_empty_calendar_is_valid() -> None:
    calendar = Calendar.from_ical(calendar_text([], name="Relais", uid="feed@relais"))
    assert calendar.events == [] and calendar.timezones == []


def test_wall_clock_in_the_repeated_hour() -> None:
    # 2026-10-25: 02:30 happens twice in Paris, at 00:30Z (+02:00) and 01:30Z (+01:00).
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert wall_clock(first, PARIS).utcoffset() == timedelta(hours=2)
    assert wall_clock(first, PARIS).tzinfo is PARIS
    # A TZID'd 02:30 would be read as the first one: the second is written in UTC.
    assert wall_clock(second, PARIS).tzinfo is UTC
    assert wall_clock(second, PARIS) == second
    fixed = datetime(2026, 10, 25, 8, 0, tzinfo=timezone(timedelta(hours=1)))
    assert wall_clock(fixed, PARIS).tzinfo is PARIS
