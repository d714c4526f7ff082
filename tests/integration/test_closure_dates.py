"""Closures and the calendar: never on a past day (the relay's own day, not UTC's), and a
closure whose sweep answered 503 is finished by its retry rather than refused as a duplicate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.adapters.booking_store import BookingStore
from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from chalicelib.services.context import Context
from tests.support.api import Answer, Api, assert_problem, book, booked, error_fields
from tests.support.fake_stripe import FakeGateway
from tests.support.webhooks import deliver

EVE = "2026-12-24"  # a Thursday, within the horizon of the test clock (Tue 2026-12-01)
# Production clocks are UTC: 23:30 UTC on 1 December is 00:30 on 2 December in Paris
PARIS_PAST_MIDNIGHT = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)


def close(api: Api, token: str, relay: str, body: dict[str, Any]) -> Answer:
    return api.post(f"/v1/relays/{relay}/closures", body, token=token)


def listed(api: Api, relay: str) -> list[str]:
    return [c["date"] for c in api.get(f"/v1/relays/{relay}/closures").json["items"]]


def test_given_a_paid_booking_yesterday_when_that_day_is_closed_then_422_and_nothing_refunded(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    ctx: Context,
    clock: FixedClock,
    settings: Settings,
    stripe_fake: FakeGateway,
) -> None:
    # GIVEN a paid meeting-room hour today (Tuesday 1 December), 10:00-11:00
    held = book(
        api, member, network["room"], date="2026-12-01", unit="hour", start="10:00", end="11:00"
    )
    assert held.status == 201, held.json
    intent_id = held.json["payment"]["payment_intent_id"]
    paid = deliver(api, settings, "payment_intent.succeeded", stripe_fake.succeed(intent_id))
    assert paid.status == 200
    # WHEN, the next day, the manager "closes" yesterday
    clock.advance(days=1)
    answer = close(api, admin, network["relay"], {"date": "2026-12-01", "reason": "oops"})
    # THEN it is refused on `date`, nothing written, the booking neither cancelled nor refunded
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"date"}
    assert listed(api, network["relay"]) == []
    booking = ctx.bookings.get(held.json["booking"]["id"])
    assert booking is not None and str(booking.status) == "confirmed"
    assert stripe_fake.refunds == {}


def test_given_0030_in_paris_when_a_single_day_closes_the_paris_yesterday_then_422(
    api: Api, admin: str, network: dict[str, str], clock: FixedClock
) -> None:
    clock.moment = PARIS_PAST_MIDNIGHT
    answer = close(api, admin, network["relay"], {"date": "2026-12-01", "reason": "Travaux"})
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"date"}


def test_given_0030_in_paris_when_a_range_starts_the_paris_yesterday_then_422_on_from(
    api: Api, admin: str, network: dict[str, str], clock: FixedClock
) -> None:
    clock.moment = PARIS_PAST_MIDNIGHT
    body = {"from": "2026-12-01", "to": "2026-12-03", "reason": "Travaux"}
    answer = close(api, admin, network["relay"], body)
    assert_problem(answer, 422, "validation_error")  # it starts yesterday, relay time
    assert error_fields(answer) == {"from"}
    assert listed(api, network["relay"]) == []


def test_given_0030_in_paris_when_today_is_closed_then_it_is_accepted(
    api: Api, admin: str, network: dict[str, str], clock: FixedClock
) -> None:
    clock.moment = PARIS_PAST_MIDNIGHT
    answer = close(api, admin, network["relay"], {"date": "2026-12-02", "reason": "Travaux"})
    assert answer.status == 201, answer.json
    assert answer.json["id"] == "clo_20261202"


def test_given_0030_in_paris_on_2_january_when_the_holidays_close_then_new_year_is_skipped(
    api: Api, admin: str, network: dict[str, str], clock: FixedClock
) -> None:
    clock.moment = datetime(2027, 1, 1, 23, 30, tzinfo=UTC)
    answer = close(api, admin, network["relay"], {"public_holidays": 2027})
    assert answer.status == 201, answer.json
    days = [c["date"] for c in answer.json["closures"]]
    assert (len(days), "2027-01-01" in days) == (10, False)


def test_given_a_closure_that_answered_503_when_retried_with_its_key_then_201_and_swept(
    api: Api,
    admin: str,
    network: dict[str, str],
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    booking = booked(api, admin, network["pool"], date=EVE, payment="none")
    body = {"date": EVE, "reason": "Travaux"}
    headers = {"Idempotency-Key": "close-eve-1"}
    path = f"/v1/relays/{network['relay']}/closures"
    # GIVEN the relay-day index lags (the sweep cannot list the booking yet): 503, retry
    with monkeypatch.context() as lag:
        lag.setattr(BookingStore, "on_relay_day", lambda self, relay_id, day: [])
        first = api.post(path, body, token=admin, headers=headers)
    assert_problem(first, 503, "service_unavailable")
    # WHEN the client retries the same request with the same key, as told
    again = api.post(path, body, token=admin, headers=headers)
    # THEN the closure is answered (201, its booking cancelled), not 409 already_exists
    assert again.status == 201, again.json
    assert (again.json["id"], again.json["version"], again.json["reason"]) == (
        "clo_20261224",
        1,
        "Travaux",
    )
    assert again.json["cancelled_bookings"] == 1
    stored = ctx.bookings.get(booking["id"])
    assert stored is not None and str(stored.status) == "cancelled"
    # AND the key now replays that answer
    replay = api.post(path, body, token=admin, headers=headers)
    assert (replay.status, replay.json) == (201, again.json)


def test_given_a_closure_that_answered_503_when_closed_again_for_another_reason_then_409(
    api: Api,
    admin: str,
    network: dict[str, str],
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    booking = booked(api, admin, network["pool"], date=EVE, payment="none")
    path = f"/v1/relays/{network['relay']}/closures"
    with monkeypatch.context() as lag:
        lag.setattr(BookingStore, "on_relay_day", lambda self, relay_id, day: [])
        first = api.post(path, {"date": EVE, "reason": "Travaux"}, token=admin)
    assert_problem(first, 503, "service_unavailable")
    # WHEN another request closes the same day for another reason
    other = api.post(path, {"date": EVE, "reason": "Grève"}, token=admin)
    # THEN the day is already closed (409), and its sweep is finished all the same
    assert_problem(other, 409, "already_exists")
    stored = ctx.bookings.get(booking["id"])
    assert stored is not None and str(stored.status) == "cancelled"
    assert ctx.closures.get(network["relay"], EVE).reason == "Travaux"  # type: ignore[union-attr]
