"""Booking rules (domain/booking.py): planning and pricing a request, credits it costs,
when it may be cancelled for free, and when it may be checked in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.booking import (
    Booking,
    BookingRequest,
    BookingStatus,
    Unit,
    credits_for,
    ensure_cancellable,
    ensure_check_in_allowed,
    is_free_cancellation,
    plan_booking,
)
from chalicelib.domain.catalogue import Relay, Resource, ResourceKind
from chalicelib.domain.schedule import WEEKDAYS
from chalicelib.domain.timezones import PARIS
from chalicelib.errors import InvalidState, ValidationFailed

WEDNESDAY = date(2026, 12, 2)
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=PARIS)  # Tuesday morning
CREATED = datetime(2026, 11, 1, tzinfo=PARIS)
HORIZON_DAYS = 90


def relay(
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri"), hours: str = "08:00-19:00"
) -> Relay:
    opens, closes = hours.split("-")
    return Relay(
        id="melun",
        created_at=CREATED,
        name="Gare de Melun",
        operator_id="scic",
        category="station",
        address={"line1": "Place Gallieni", "postcode": "77000", "city": "Melun"},
        location={"lat": 48.5275, "lon": 2.6553},
        opening_hours={d: [[opens, closes]] for d in days},
    )


def resource(kind: ResourceKind = ResourceKind.hot_desk, **rates: int | None) -> Resource:
    return Resource(
        id="pool",
        relay_id="melun",
        created_at=CREATED,
        name="Open space",
        kind=kind,
        capacity=3,
        rates=rates or {"day": 1500, "half_day": 900, "hour": 400},
        vat_rate="20.00",
    )


def request(unit: Unit = "day", day: date = WEDNESDAY, **times: str) -> BookingRequest:
    return BookingRequest(resource_id="pool", date=day, unit=unit, payment="card", **times)


def booking(status: BookingStatus = BookingStatus.confirmed, **fields: Any) -> Booking:
    values: dict[str, Any] = {
        "id": "bk-1",
        "member_id": "member-1",
        "relay_id": "melun",
        "resource_id": "pool",
        "operator_id": "scic",
        "date": WEDNESDAY,
        "unit": "day",
        "start": datetime(2026, 12, 2, 8, 0, tzinfo=PARIS),
        "end": datetime(2026, 12, 2, 19, 0, tzinfo=PARIS),
        "slots": list(range(16, 38)),
        "status": status,
        "price": {
            "amount": 1500,
            "currency": "EUR",
            "amount_excl_vat": 1250,
            "vat_amount": 250,
            "vat_rate": "20.00",
        },
        "payment_method": "card",
        "created_at": NOW,
        **fields,
    }
    return Booking(**values)


# --- planning and pricing -------------------------------------------------------------------


def test_a_day_covers_the_opening_hours_at_the_day_rate() -> None:
    plan = plan_booking(request("day"), relay(), resource(), NOW, HORIZON_DAYS)

    assert (plan.start, plan.end) == (
        datetime(2026, 12, 2, 8, 0, tzinfo=PARIS),
        datetime(2026, 12, 2, 19, 0, tzinfo=PARIS),
    )
    assert plan.slot_indexes == list(range(16, 38))
    assert plan.price.to_dict() == {
        "amount": 1500,
        "currency": "EUR",
        "amount_excl_vat": 1250,
        "vat_amount": 250,
        "vat_rate": "20.00",
    }
    assert plan.credits == Decimal(1)


def test_a_morning_ends_at_one_and_costs_the_half_day_rate() -> None:
    plan = plan_booking(request("half_day_am"), relay(), resource(), NOW, HORIZON_DAYS)

    assert (plan.start.hour, plan.end.hour) == (8, 13)
    assert (plan.price.amount, plan.credits) == (900, Decimal("0.5"))


def test_hours_are_charged_pro_rata_of_the_hourly_rate() -> None:
    # GIVEN 4.00 EUR an hour; WHEN 09:00 to 10:30 is booked; THEN 1.5 h cost 6.00 EUR
    plan = plan_booking(
        request("hour", start="09:00", end="10:30"), relay(), resource(), NOW, HORIZON_DAYS
    )

    assert (plan.price.amount, plan.price.vat_amount) == (600, 100)
    assert plan.slot_indexes == [18, 19, 20]


def test_a_date_in_the_past_is_refused_on_date() -> None:
    with pytest.raises(ValidationFailed) as refused:
        plan_booking(request(day=date(2026, 11, 30)), relay(), resource(), NOW, HORIZON_DAYS)

    assert refused.value.errors[0]["field"] == "date"


def test_today_is_still_bookable() -> None:
    plan = plan_booking(request(day=NOW.date()), relay(), resource(), NOW, HORIZON_DAYS)

    assert plan.day == NOW.date()


def test_the_last_day_of_the_horizon_is_bookable_and_the_next_is_not() -> None:
    last = NOW.date() + timedelta(days=HORIZON_DAYS)  # 2027-03-01, a Monday
    assert plan_booking(request(day=last), relay(), resource(), NOW, HORIZON_DAYS).day == last

    with pytest.raises(ValidationFailed, match="at most 90 days ahead"):
        plan_booking(request(day=last + timedelta(days=1)), relay(), resource(), NOW, HORIZON_DAYS)


def test_a_unit_the_resource_has_no_rate_for_is_refused_on_unit() -> None:
    room = resource(ResourceKind.meeting_room, hour=2500)

    with pytest.raises(ValidationFailed) as refused:
        plan_booking(request("day"), relay(), room, NOW, HORIZON_DAYS)

    assert refused.value.errors[0]["field"] == "unit"


def test_a_time_already_over_today_is_refused_on_start() -> None:
    evening = datetime(2026, 12, 1, 19, 0, tzinfo=PARIS)

    with pytest.raises(ValidationFailed) as refused:
        plan_booking(request(day=evening.date()), relay(), resource(), evening, HORIZON_DAYS)

    assert refused.value.errors[0]["field"] == "start"


@pytest.mark.parametrize(
    ("unit", "times", "allowed"),
    [
        ("hour", {"start": "10:00", "end": "11:00"}, True),  # starts in the slot under way
        ("hour", {"start": "09:30", "end": "10:30"}, False),  # its first half hour is over
        ("half_day_am", {}, True),  # covers 08:00-13:00 while any of it is left
        ("day", {}, True),
    ],
)
def test_at_10_15_an_hour_cannot_start_in_a_half_hour_already_over(
    unit: Unit, times: dict[str, str], allowed: bool
) -> None:
    at_10_15 = datetime(2026, 12, 2, 10, 15, tzinfo=PARIS)
    asked = request(unit, day=at_10_15.date(), **times)

    if allowed:
        plan = plan_booking(asked, relay(), resource(), at_10_15, HORIZON_DAYS)
        assert plan.start <= at_10_15 < plan.end
    else:
        with pytest.raises(ValidationFailed) as refused:
            plan_booking(asked, relay(), resource(), at_10_15, HORIZON_DAYS)
        assert refused.value.errors[0]["field"] == "start"


@pytest.mark.parametrize(
    ("now", "offset", "minutes"),
    [
        # 02:10 of the first pass (CEST): 02:00-02:30 is that pass's slot under way
        (datetime(2026, 10, 25, 0, 10, tzinfo=UTC), 2, 30),
        # 02:10 of the second pass (CET): the first is over, the second under way
        (datetime(2026, 10, 25, 1, 10, tzinfo=UTC), 1, 30),
    ],
)
def test_on_the_night_clocks_go_back_an_hour_starts_in_the_pass_under_way(
    now: datetime, offset: int, minutes: int
) -> None:
    all_day = relay(WEEKDAYS, "00:00-24:00")
    asked = request("hour", day=date(2026, 10, 25), start="02:00", end="02:30")

    plan = plan_booking(asked, all_day, resource(), now, HORIZON_DAYS)

    assert plan.start.utcoffset() == timedelta(hours=offset)
    assert plan.start <= now < plan.end
    assert (plan.end - plan.start) == timedelta(minutes=minutes)


# --- credits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "unit", "credits"),
    [
        (ResourceKind.hot_desk, "day", Decimal(1)),
        (ResourceKind.hot_desk, "half_day_am", Decimal("0.5")),
        (ResourceKind.hot_desk, "half_day_pm", Decimal("0.5")),
        (ResourceKind.hot_desk, "hour", Decimal(0)),
        (ResourceKind.meeting_room, "day", Decimal(0)),
        (ResourceKind.office, "half_day_am", Decimal(0)),
    ],
)
def test_credits_pay_for_hot_desks_by_the_day_or_half_day_only(
    kind: ResourceKind, unit: Unit, credits: Decimal
) -> None:
    assert credits_for(resource(kind), unit) == credits


# --- cancellation and check-in --------------------------------------------------------------


@pytest.mark.parametrize("status", [BookingStatus.held, BookingStatus.confirmed])
def test_held_and_confirmed_bookings_can_be_cancelled(status: BookingStatus) -> None:
    ensure_cancellable(booking(status))  # THEN no InvalidState


@pytest.mark.parametrize(
    "status",
    [
        BookingStatus.checked_in,
        BookingStatus.cancelled,
        BookingStatus.expired,
        BookingStatus.no_show,
        BookingStatus.completed,
    ],
)
def test_other_bookings_cannot_be_cancelled(status: BookingStatus) -> None:
    with pytest.raises(InvalidState, match=f"status {status.value} cannot be cancelled"):
        ensure_cancellable(booking(status))


def test_cancelling_exactly_at_the_deadline_is_still_free() -> None:
    start = booking().start

    assert is_free_cancellation(booking(), start - timedelta(hours=24), 24) is True


def test_cancelling_a_second_after_the_deadline_is_not_free() -> None:
    late = booking().start - timedelta(hours=24) + timedelta(seconds=1)

    assert is_free_cancellation(booking(), late, 24) is False


def test_check_in_opens_thirty_minutes_before_the_start() -> None:
    ensure_check_in_allowed(booking(), booking().start - timedelta(minutes=30))  # no error


def test_check_in_is_refused_before_it_opens() -> None:
    early = booking().start - timedelta(minutes=31)

    with pytest.raises(InvalidState, match="Check-in is open from 30 minutes"):
        ensure_check_in_allowed(booking(), early)


def test_check_in_is_open_until_the_end_included_then_refused() -> None:
    """API.md: "From 30 min before start to end", both ends included (review R7)."""
    ensure_check_in_allowed(booking(), booking().end)
    with pytest.raises(InvalidState, match="Check-in is open from 30 minutes"):
        ensure_check_in_allowed(booking(), booking().end + timedelta(seconds=1))


def test_only_a_confirmed_booking_can_be_checked_in() -> None:
    held = booking(BookingStatus.held)

    with pytest.raises(InvalidState, match="status held cannot be checked in"):
        ensure_check_in_allowed(held, held.start)


# --- the API shape --------------------------------------------------------------------------


def test_the_public_booking_hides_internal_fields_and_unset_optionals() -> None:
    public = booking(BookingStatus.held, hold_expires_at=NOW + timedelta(minutes=15)).public()

    assert set(public) == {
        "id",
        "member_id",
        "relay_id",
        "resource_id",
        "date",
        "unit",
        "start",
        "end",
        "status",
        "price",
        "payment_method",
        "credits_used",
        "disputed",
        "hold_expires_at",
        "created_at",
    }


def test_a_stored_price_with_decimal_numbers_reads_back_as_the_contract_shape() -> None:
    stored = {
        "amount": Decimal(1500),
        "currency": "EUR",
        "amount_excl_vat": Decimal(1250),
        "vat_amount": Decimal(250),
        "vat_rate": Decimal("20.00"),
    }

    assert booking(price=stored).price == {
        "amount": 1500,
        "currency": "EUR",
        "amount_excl_vat": 1250,
        "vat_amount": 250,
        "vat_rate": "20.00",
    }
