"""Closures racing each other on DynamoDB Local: the same closure sent twice at once (a
double click, two managers). The interleaving is pinned with events: the first request is
slow after its first cancellation (a Lambda waiting on Stripe or the mailer), so the
outcome does not depend on the scheduler."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.auth import Principal
from chalicelib.domain.catalogue import Closure, NewClosure
from chalicelib.domain.identifiers import new_id
from chalicelib.services import closures, notifications
from chalicelib.services.bookings import book
from chalicelib.services.context import Context
from tests.integration.ddblocal.conftest import Network
from tests.integration.ddblocal.test_never_oversell import DAY, day_request
from tests.support.invariants import assert_invariants

pytestmark = [pytest.mark.ddblocal, pytest.mark.usefixtures("ddb_real_engine")]
ADMIN = Principal(sub="admin-1", groups=frozenset({"admin"}))
TIMEOUT = 60


def close_twice_at_once(
    ctx: Context, network: Network, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Closure]:
    """The whole 8-seat pool booked; then the same closure twice, the second sent while
    the first, one booking cancelled, is slow to go on (until the second has answered)."""
    for _ in range(8):  # free bookings by staff, confirmed at once
        book(ctx, ADMIN, day_request(network.pool, payment="none"), new_id("bkg"))
    request = NewClosure.model_validate({"date": DAY.isoformat(), "reason": "Grève"})
    first_cancelled, second_done = threading.Event(), threading.Event()
    real_notify = notifications.notify_booking_cancelled

    def slow_first(*args: Any, **kwargs: Any) -> Any:
        answer = real_notify(*args, **kwargs)
        if threading.current_thread().name == "first" and not first_cancelled.is_set():
            first_cancelled.set()
            assert second_done.wait(TIMEOUT)
        return answer

    monkeypatch.setattr(notifications, "notify_booking_cancelled", slow_first)

    def run(name: str) -> Any:
        threading.current_thread().name = name
        if name == "first":
            return closures.create(ctx, ADMIN, network.relay, request)
        assert first_cancelled.wait(TIMEOUT)
        try:
            return closures.create(ctx, ADMIN, network.relay, request)
        finally:
            second_done.set()

    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(run, name) for name in ("first", "second")}
        return {name: future.result(timeout=TIMEOUT * 2) for name, future in futures.items()}


def test_the_same_closure_twice_at_once_stores_every_cancelled_booking_in_its_count(
    ddb_ctx: Context, ddb_network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 8 bookings, WHEN the same closure is sent twice at once (both sweep the day)
    close_twice_at_once(ddb_ctx, ddb_network, monkeypatch)
    # THEN all 8 are cancelled, and the stored closure counts all 8 (each request adds the
    # bookings it cancelled itself: neither overwrites the other's share)
    left = ddb_ctx.bookings.on_relay_day(ddb_network.relay, DAY.isoformat())
    assert sorted(b.status.value for b in left) == ["cancelled"] * 8
    stored = ddb_ctx.closures.get(ddb_network.relay, DAY.isoformat())
    assert stored is not None and stored.cancelled_bookings == 8
    assert_invariants(ddb_ctx)


def test_the_repeat_sent_while_the_first_sweeps_is_answered_as_a_retry_with_the_closure(
    ddb_ctx: Context, ddb_network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WHEN the same closure is sent twice at once
    answers = close_twice_at_once(ddb_ctx, ddb_network, monkeypatch)
    # THEN the repeat, which finished the sweep (the 7 bookings the first had not reached),
    # is answered as the retry it cannot be told from: 201, the closure as it then stood;
    # the first, answering last, with the full count
    assert (answers["second"].id, answers["second"].cancelled_bookings) == ("clo_20261202", 7)
    assert (answers["first"].id, answers["first"].cancelled_bookings) == ("clo_20261202", 8)
