"""Smoke test of `make run` itself: boot, serve the seeded network, book, stop cleanly."""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Stack, alive, descendants
from tools.run_local import next_weekday

pytestmark = pytest.mark.e2e


def test_make_run_serves_the_seeded_network_and_sigint_stops_every_child(
    stack_factory: Callable[..., Stack],
) -> None:
    # GIVEN `make run` on free ports with the demo network
    stack = stack_factory(seed=True)
    children = descendants(stack.process.pid)
    try:
        # WHEN a visitor looks around and a member books a hot desk by card
        health = stack.get("/v1/health")
        relays = stack.get("/v1/relays").json()["items"]
        relay = next((r for r in relays if r["name"] == "Gare de Melun"), relays[0])
        date = next_weekday(dt.datetime.now(ZoneInfo("Europe/Paris")).date()).isoformat()
        availability = stack.get("/v1/availability", params={"date": date, "relay_id": relay["id"]})
        resources = stack.get(f"/v1/relays/{relay['id']}").json()["resources"]
        pool = next(r for r in resources if r["kind"] == "hot_desk")
        booking = stack.post(
            "/v1/bookings",
            token=stack.token("e2e-member"),
            json={"resource_id": pool["id"], "date": date, "unit": "day", "payment": "card"},
        )

        # THEN the API answers from the seeded network and the booking is held for payment
        assert health.status_code == 200, health.text
        assert health.json()["status"] == "ok"
        assert len(relays) >= 12
        assert availability.status_code == 200, availability.text
        assert availability.json()["relays"][0]["relay_id"] == relay["id"]
        assert booking.status_code == 201, booking.text
        assert booking.json()["booking"]["status"] == "held"
        assert booking.json()["payment"]["payment_intent_id"]
    finally:
        # WHEN Ctrl-C reaches it
        survivors = stack.stop(signal.SIGINT)

    # THEN it exits cleanly, every server it started is gone and its ports are free
    assert len(children) >= 3, f"expected DynamoDB Local, localstripe, chalice: {children}"
    assert stack.process.returncode == 0, stack.log()
    assert not survivors, f"still running after SIGINT: {survivors}"
    assert not any(alive(pid) for pid in children)
    assert stack.ports_free(), stack.ports
