"""`make run` itself: boot, serve the seeded network, book, stop cleanly on Ctrl-C, and
start again on the same local directory with the data as it was written (DynamoDB Local
keeps its files under `.local/dynamodb`, localstripe its state under `.local/localstripe`).
One test, so that `make test` boots this stack once for both."""

from __future__ import annotations

import datetime as dt
import signal
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import alive, descendants, start_stack
from tools.run_local import next_weekday

pytestmark = pytest.mark.e2e


def test_make_run_serves_the_seeded_network_stops_on_sigint_and_restarts_with_its_data(
    tmp_path: Path,
) -> None:
    # GIVEN `make run` on free ports with the demo network, its data in one directory
    local_dir, env = tmp_path / "local", {"RELAIS_TABLE": f"relais-e2e-{uuid.uuid4().hex[:8]}"}
    stack = start_stack(local_dir, seed=True, env=env)
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
        token = stack.token("e2e-member")
        booking = stack.post(
            "/v1/bookings",
            token=token,
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

    # WHEN it starts again on the same directory, without seeding
    second = start_stack(local_dir, seed=False, env=env)
    try:
        booking_id = booking.json()["booking"]["id"]
        again = second.get(f"/v1/bookings/{booking_id}", token=second.token("e2e-member"))
        relays_again = second.get("/v1/relays").json()["items"]
    finally:
        assert not second.stop(signal.SIGINT), second.log()

    # THEN the booking and the network are read back as they were written
    assert again.status_code == 200, again.text
    assert again.json()["id"] == booking_id
    assert again.json()["status"] == booking.json()["booking"]["status"]
    assert [r["id"] for r in relays_again] == [r["id"] for r in relays]
