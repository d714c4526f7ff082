"""A closure's count of cancelled bookings: every request that sweeps the day adds the
bookings it cancelled itself, so a repeat of the closure sweeping alongside the first (or
finishing it after a 503) never overwrites the other's share."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.auth import Principal
from chalicelib.domain.catalogue import NewClosure
from chalicelib.services import closures, notifications
from chalicelib.services.context import Context
from tests.support.api import Api, booked

WEDNESDAY = "2026-12-02"
ADMIN = Principal(sub="admin-1", groups=frozenset({"admin"}))


def test_a_repeat_sweeping_within_the_first_closure_leaves_the_full_count_stored(
    api: Api,
    admin: str,
    ctx: Context,
    network: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the 3-seat pool fully booked that day
    for _ in range(3):
        booked(api, admin, network["pool"], date=WEDNESDAY, payment="none")
    request = NewClosure.model_validate({"date": WEDNESDAY, "reason": "Grève"})
    # WHEN the same closure is sent again once the first has cancelled one booking
    repeats: list[Any] = []
    real_notify = notifications.notify_booking_cancelled

    def repeat_after_the_first_cancellation(*args: Any, **kwargs: Any) -> Any:
        answer = real_notify(*args, **kwargs)
        if not repeats:
            repeats.append(None)
            repeats[0] = closures.create(ctx, ADMIN, network["relay"], request)
        return answer

    monkeypatch.setattr(
        notifications, "notify_booking_cancelled", repeat_after_the_first_cancellation
    )
    first = closures.create(ctx, ADMIN, network["relay"], request)
    # THEN the repeat swept the other two (201, the closure as it then stood), and the
    # stored count is all three: each request added its own share
    assert (repeats[0].id, repeats[0].cancelled_bookings) == ("clo_20261202", 2)
    assert first.cancelled_bookings == 3
    stored = ctx.closures.get(network["relay"], WEDNESDAY)
    assert stored is not None and stored.cancelled_bookings == 3


def test_a_count_for_a_closure_lifted_meanwhile_writes_nothing_back(
    ctx: Context, network: dict[str, str]
) -> None:
    # GIVEN no closure that day (lifted while its sweep ran)
    # WHEN the sweep's count lands
    answer = ctx.closures.add_cancelled(network["relay"], WEDNESDAY, 2)
    # THEN nothing is stored: the day stays open, no closure record without its marker
    assert answer is None
    assert ctx.closures.get(network["relay"], WEDNESDAY) is None
