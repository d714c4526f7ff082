"""Occupancy figures from bookings (pure): what counts as booked, checked in, revenue."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.booking import Booking
from chalicelib.domain.occupancy_stats import (
    Seats,
    open_seat_hours,
    period_start,
    periods,
    tally,
)

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2026, 12, 2)


def booking(status: str, payment: str = "card", **extra: Any) -> Booking:
    return Booking.model_validate(
        {
            "id": f"bkg_{status}_{payment}",
            "member_id": extra.pop("member_id", "m-1"),
            "relay_id": "rly_1",
            "resource_id": "res_1",
            "operator_id": "op_1",
            "date": DAY,
            "unit": "hour",
            "start": datetime(2026, 12, 2, 9, 0, tzinfo=PARIS),
            "end": datetime(2026, 12, 2, 11, 0, tzinfo=PARIS),
            "slots": [18, 19, 20, 21],
            "status": status,
            "price": {
                "amount": 1200,
                "currency": "EUR",
                "amount_excl_vat": 1000,
                "vat_amount": 200,
                "vat_rate": "20.00",
            },
            "payment_method": payment,
            "created_at": datetime(2026, 12, 1, 8, 0, tzinfo=PARIS),
            **extra,
        }
    )


def figures_of(*bookings: Booking) -> dict[str, Any]:
    tallies = tally([(b, "hot_desk") for b in bookings], {}, "day")
    return tallies[("rly_1", "hot_desk", DAY)].figures()


def test_card_and_company_bookings_are_revenue() -> None:
    found = figures_of(booking("confirmed"), booking("completed", "company"))
    assert found["revenue_excl_vat"] == 2000


def test_credit_and_membership_bookings_are_not_revenue_again() -> None:
    found = figures_of(booking("confirmed", "credits"), booking("confirmed", "membership"))
    assert found["revenue_excl_vat"] == 0


def test_a_late_cancellation_kept_its_payment() -> None:
    late = booking("cancelled", invoice_id="inv_1")
    assert figures_of(late)["revenue_excl_vat"] == 1000


def test_a_refunded_cancellation_is_not_revenue() -> None:
    refunded = booking("cancelled", invoice_id="inv_1", refund={"amount": 1200})
    assert figures_of(refunded)["revenue_excl_vat"] == 0


def test_a_no_show_is_booked_but_not_checked_in() -> None:
    found = figures_of(booking("no_show"))
    assert (found["no_shows"], found["seat_hours_booked"], found["seat_hours_checked_in"]) == (
        1,
        2,
        0,
    )


def test_checked_in_hours_count_the_bookings_checked_in() -> None:
    checked = booking("completed", checked_in_at=datetime(2026, 12, 2, 9, 5, tzinfo=PARIS))
    assert figures_of(checked)["seat_hours_checked_in"] == 2


def test_expired_holds_count_for_nothing() -> None:
    found = figures_of(booking("expired"), booking("confirmed"))
    assert (found["bookings"], found["cancellations"]) == (1, 0)


def test_unique_members_count_each_member_once() -> None:
    found = figures_of(
        booking("confirmed"), booking("completed"), booking("confirmed", "company", member_id="m-2")
    )
    assert found["unique_members"] == 2


def test_a_week_starts_on_its_monday() -> None:
    assert period_start(date(2026, 12, 6), "week") == date(2026, 11, 30)


def test_months_of_a_span_are_listed_once_each() -> None:
    assert periods(date(2026, 11, 15), date(2027, 1, 2), "month") == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]


# -- open seat-hours: 10 open hours on each of 2026-11-30 .. 2026-12-04 --------------------

WEEK = {date(2026, 11, 30) + timedelta(days=n): 10.0 for n in range(5)}
POOL = Seats("res_1", "hot_desk", 3, active=True)


def open_hours(*seats: Seats, bookings: tuple[Booking, ...] = (), in_service: bool = True) -> Any:
    found = open_seat_hours("rly_1", in_service, seats, WEEK, bookings, PARIS, "day")
    return {day.isoformat(): hours for (_relay, _kind, day), hours in found.items()}


def test_a_bookable_resource_is_open_every_day() -> None:
    assert set(open_hours(POOL).values()) == {30.0}


def test_a_retired_resource_is_open_until_its_last_booking_was_taken_and_on_kept_days() -> None:
    retired = Seats("res_1", "hot_desk", 3, active=False)
    kept = booking("confirmed", date=date(2026, 12, 4))  # taken on 2026-12-01
    assert open_hours(retired, bookings=(kept,)) == {
        "2026-11-30": 30.0,
        "2026-12-01": 30.0,
        "2026-12-04": 30.0,
    }


def test_a_cancelled_booking_keeps_no_day_of_a_retired_resource_open() -> None:
    retired = Seats("res_1", "hot_desk", 3, active=False)
    cancelled = booking("cancelled", date=date(2026, 12, 4))
    assert "2026-12-04" not in open_hours(retired, bookings=(cancelled,))


def test_resources_of_a_withdrawn_relay_are_open_while_the_relay_took_bookings() -> None:
    room = Seats("res_2", "meeting_room", 1, active=True)
    kept = booking("confirmed", date=date(2026, 12, 3))  # of res_1, taken on 2026-12-01
    found = open_seat_hours("rly_1", False, (POOL, room), WEEK, (kept,), PARIS, "day")
    assert {(kind, day.isoformat()) for (_r, kind, day) in found} == {
        ("hot_desk", "2026-11-30"),
        ("hot_desk", "2026-12-01"),
        ("hot_desk", "2026-12-03"),
        ("meeting_room", "2026-11-30"),
        ("meeting_room", "2026-12-01"),
    }
