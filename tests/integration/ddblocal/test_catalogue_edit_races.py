"""Concurrent catalogue edits on DynamoDB Local: no lost edit, no oversold capacity, no
stale `out_of_service` mark."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.adapters.keys import occupancy_pk
from chalicelib.auth import Principal
from chalicelib.domain.catalogue_patches import OperatorPatch, RelayPatch, ResourcePatch
from chalicelib.domain.identifiers import new_id
from chalicelib.errors import CapacityConflict, PreconditionFailed, SlotUnavailable
from chalicelib.services.bookings import book
from chalicelib.services.catalogue_edits import patch_operator, patch_relay
from chalicelib.services.context import Context
from chalicelib.services.resource_edits import patch_resource
from tests.integration.ddblocal.conftest import Network
from tests.integration.ddblocal.test_never_oversell import DAY, day_request, member, race

pytestmark = [pytest.mark.ddblocal, pytest.mark.usefixtures("ddb_real_engine")]
ADMIN = Principal(sub="admin-1", groups=frozenset({"admin"}))
TIMEOUT = 60


def test_two_concurrent_patches_from_the_same_version_one_wins_one_gets_412(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    calls = [
        lambda name=name: patch_operator(
            ddb_ctx, ADMIN, ddb_network.operator, 1, OperatorPatch(name=name)
        )
        for name in ("Alpha", "Beta")
    ]
    outcome = race(calls)
    assert sorted(type(e).__name__ for e in outcome.errors if e) == ["PreconditionFailed"]
    assert isinstance(next(e for e in outcome.errors if e), PreconditionFailed)


def test_the_winning_patch_is_the_one_stored(ddb_ctx: Context, ddb_network: Network) -> None:
    calls = [
        lambda name=name: patch_operator(
            ddb_ctx, ADMIN, ddb_network.operator, 1, OperatorPatch(name=name)
        )
        for name in ("Alpha", "Beta")
    ]
    outcome = race(calls)
    (winner,) = outcome.winners
    stored = ddb_ctx.table.get(f"OPERATOR#{ddb_network.operator}", "OPERATOR")
    assert stored is not None
    assert (stored["name"], stored["version"]) == (outcome.results[winner].name, 2)


def test_bookings_racing_a_capacity_cut_never_exceed_the_capacity_that_wins(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    for i in range(4):  # 4 of 8 seats taken
        book(ddb_ctx, member(f"early-{i}"), day_request(ddb_network.pool), new_id("bkg"))
    bookers = [
        lambda i=i: book(ddb_ctx, member(f"m-{i}"), day_request(ddb_network.pool), new_id("bkg"))
        for i in range(4)
    ]
    cut = [
        lambda: patch_resource(
            ddb_ctx, ADMIN, ddb_network.relay, ddb_network.pool, 1, ResourcePatch(capacity=5)
        )
    ]
    outcome = race(bookers + cut)
    assert all(isinstance(e, (SlotUnavailable, CapacityConflict)) for e in outcome.errors if e)
    resource = ddb_ctx.table.get(f"RELAY#{ddb_network.relay}", f"RESOURCE#{ddb_network.pool}")
    occupancy = ddb_ctx.table.get(
        occupancy_pk(ddb_network.relay, DAY.isoformat()), f"RES#{ddb_network.pool}"
    )
    assert resource is not None and occupancy is not None
    most_taken = max(int(v) for k, v in occupancy.items() if k[0] == "s" and k[1:].isdigit())
    assert most_taken <= int(resource["capacity"])


def test_an_operator_and_its_relay_reactivated_at_once_leave_the_relay_bookable(
    ddb_ctx: Context, ddb_network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an inactive relay of an inactive operator (its resources marked out of service)
    patch_relay(ddb_ctx, ADMIN, ddb_network.relay, '"1"', RelayPatch(active=False))
    patch_operator(ddb_ctx, ADMIN, ddb_network.operator, 1, OperatorPatch(active=False))
    # WHEN two admins re-activate both at once, the operator's edit having computed its
    # marks (the relay still inactive: "out") before the relay's edit runs start to end
    operator_computed, relay_done = threading.Event(), threading.Event()
    real_mark = ddb_ctx.versioned.mark_out_of_service

    def slow_operator_marks(*args: Any) -> Any:
        if threading.current_thread().name == "operator" and not operator_computed.is_set():
            operator_computed.set()
            assert relay_done.wait(TIMEOUT)
        return real_mark(*args)

    monkeypatch.setattr(ddb_ctx.versioned, "mark_out_of_service", slow_operator_marks)

    def run(name: str) -> Any:
        threading.current_thread().name = name
        if name == "operator":
            active = OperatorPatch(active=True)
            return patch_operator(ddb_ctx, ADMIN, ddb_network.operator, 2, active)
        assert operator_computed.wait(TIMEOUT)
        try:
            return patch_relay(ddb_ctx, ADMIN, ddb_network.relay, '"2"', RelayPatch(active=True))
        finally:
            relay_done.set()

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(run, name) for name in ("operator", "relay")]
        for future in futures:
            future.result(timeout=TIMEOUT * 2)
    # THEN the operator's stale marks are refused (the relay moved since it read it) and
    # made again from both as stored: the relay takes bookings
    booked = book(ddb_ctx, member("after"), day_request(ddb_network.pool), new_id("bkg"))
    assert booked["booking"]["status"] == "held"
