"""Data survives a restart of `make run`: DynamoDB Local keeps its files under the local
directory (`.local/dynamodb`), localstripe its state (`.local/localstripe`)."""

from __future__ import annotations

import datetime as dt
import signal
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import start_stack
from tools.run_local import next_weekday

pytestmark = pytest.mark.e2e


def test_a_booking_made_before_a_restart_of_make_run_is_still_there_after_it(
    tmp_path: Path,
) -> None:
    # GIVEN `make run` on free ports, with its data in one local directory and table
    local_dir, env = tmp_path / "local", {"RELAIS_TABLE": f"relais-restart-{uuid.uuid4().hex[:8]}"}
    first = start_stack(local_dir, seed=True, env=env)
    try:
        # WHEN a member books a hot desk by card
        relay = first.get("/v1/relays").json()["items"][0]
        pool = next(
            r
            for r in first.get(f"/v1/relays/{relay['id']}").json()["resources"]
            if r["kind"] == "hot_desk"
        )
        date = next_weekday(dt.datetime.now(ZoneInfo("Europe/Paris")).date()).isoformat()
        token = first.token("restart-member")
        created = first.post(
            "/v1/bookings",
            token=token,
            json={"resource_id": pool["id"], "date": date, "unit": "day", "payment": "card"},
        )
        assert created.status_code == 201, created.text
    finally:
        # AND `make run` is stopped (Ctrl-C)
        assert not first.stop(signal.SIGINT), first.log()
    assert first.process.returncode == 0, first.log()

    # WHEN it starts again on the same directory, without seeding
    second = start_stack(local_dir, seed=False, env=env)
    try:
        booking_id = created.json()["booking"]["id"]
        again = second.get(f"/v1/bookings/{booking_id}", token=second.token("restart-member"))
        relays = second.get("/v1/relays").json()["items"]
    finally:
        second.stop(signal.SIGINT)

    # THEN the booking and the network are read back as they were written
    assert again.status_code == 200, again.text
    assert again.json()["id"] == booking_id
    assert again.json()["status"] == created.json()["booking"]["status"]
    assert relay["id"] in [r["id"] for r in relays]
