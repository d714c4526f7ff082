"""Booking through the HTTP API (chalice test client, moto)."""

from __future__ import annotations

from tests.support.api import Api


def book(api: Api, token: str, resource: str, **fields: object) -> object:
    body = {
        "resource_id": resource,
        "date": "2026-12-02",
        "unit": "day",
        "payment": "card",
        **fields,
    }
    return api.post("/v1/bookings", body, token=token)


def test_card_booking_is_held_with_expiry(api: Api, member: str, network: dict) -> None:
    answer = book(api, member, network["pool"])
    assert answer.status == 201, answer.json
    booking = answer.json["booking"]
    assert booking["status"] == "held"
    assert booking["start"] == "2026-12-02T08:00:00+01:00"
    assert booking["end"] == "2026-12-02T19:00:00+01:00"
    assert booking["price"]["amount"] == 1500
    assert "hold_expires_at" in booking
