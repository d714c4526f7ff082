"""Never oversell, on DynamoDB Local: concurrent callers of the service layer against the
real engine (transactions, conditions, conflicts). Every race is bounded in time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from chalicelib.adapters.keys import occupancy_pk
from chalicelib.auth import Principal
from chalicelib.domain.booking import BookingRequest, BookingStatus
from chalicelib.domain.identifiers import derived_id, new_id
from chalicelib.domain.payment import Purchase
from chalicelib.domain.wallet import CreditPack, pack_expiry
from chalicelib.errors import InsufficientCredits, InvalidState, SlotUnavailable
from chalicelib.services.availability import availability
from chalicelib.services.bookings import book, cancel, expire_holds
from chalicelib.services.context import Context
from tests.conftest import NOW
from tests.integration.ddblocal.conftest import Network

pytestmark = pytest.mark.ddblocal
# Races only mean something on a real engine: skipped where moto_server stands in.
real_engine = pytest.mark.usefixtures("ddb_real_engine")

DAY = date(2026, 12, 2)  # the Wednesday after the test clock's Tuesday
RACE_TIMEOUT = 60.0


# -- helpers ----------------------------------------------------------------------------


@dataclass
class Race:
    """What each caller got (result or exception, in call order) and what a watcher saw."""

    results: list[Any]
    errors: list[BaseException | None]
    samples: list[Any] = field(default_factory=list)

    @property
    def winners(self) -> list[int]:
        return [i for i, error in enumerate(self.errors) if error is None]

    @property
    def losers(self) -> list[int]:
        return [i for i, error in enumerate(self.errors) if error is not None]


def race(calls: Sequence[Callable[[], Any]], watch: Callable[[], Any] | None = None) -> Race:
    """Run `calls` in as many threads, released together by a barrier; `watch` is sampled
    in a loop meanwhile. Fails (never hangs) if a caller takes over RACE_TIMEOUT."""
    barrier = threading.Barrier(len(calls), timeout=RACE_TIMEOUT)
    finished = threading.Event()
    samples: list[Any] = []

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    def sampler() -> None:
        assert watch is not None
        deadline = time.monotonic() + RACE_TIMEOUT
        while not finished.is_set() and time.monotonic() < deadline:
            samples.append(watch())

    watcher = threading.Thread(target=sampler, daemon=True)
    pool = ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="racer")
    try:
        if watch is not None:
            watcher.start()
        futures = [pool.submit(run, call) for call in calls]
        _, pending = wait(futures, timeout=RACE_TIMEOUT)
        assert not pending, f"{len(pending)} callers still running after {RACE_TIMEOUT}s"
    finally:
        finished.set()
        pool.shutdown(wait=False, cancel_futures=True)
    if watch is not None:
        watcher.join(timeout=RACE_TIMEOUT)
        assert not watcher.is_alive()
        samples.append(watch())  # and once everyone is done
    errors = [f.exception() for f in futures]
    results = [None if e else f.result() for f, e in zip(futures, errors, strict=True)]
    return Race(results, errors, samples)


def member(sub: str) -> Principal:
    return Principal(sub=sub, email=f"{sub}@example.org")


def day_request(resource_id: str, day: date = DAY, payment: str = "card") -> BookingRequest:
    return BookingRequest.model_validate(
        {"resource_id": resource_id, "date": day, "unit": "day", "payment": payment}
    )


def hour_request(resource_id: str, start: str, end: str) -> BookingRequest:
    return BookingRequest.model_validate(
        {
            "resource_id": resource_id,
            "date": DAY,
            "unit": "hour",
            "start": start,
            "end": end,
            "payment": "card",
        }
    )


def occupancy(ctx: Context, relay_id: str, resource_id: str, day: date = DAY) -> dict[str, int]:
    """The occupancy item's seat count per slot attribute (`s20`: 10:00–10:30), raw."""
    item = ctx.table.get(occupancy_pk(relay_id, day.isoformat()), f"RES#{resource_id}") or {}
    return {k: int(v) for k, v in item.items() if k[0] == "s" and k[1:].isdigit()}


def free_seats(ctx: Context, relay_id: str, resource_id: str, day: date = DAY) -> dict[str, int]:
    """`{"08:00": 8, ...}` as the availability service answers it."""
    (relay,) = availability(ctx, day, relay_id=relay_id)["relays"]
    (resource,) = [r for r in relay["resources"] if r["resource_id"] == resource_id]
    return {slot["start"]: slot["free"] for slot in resource["slots"]}


def error_types(outcome: Race) -> list[str]:
    return sorted({type(e).__name__ for e in outcome.errors if e is not None})


def overlaps(a: tuple[str, str], b: tuple[str, str]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def half_hours(window: tuple[str, str]) -> int:
    (h1, m1), (h2, m2) = (map(int, t.split(":")) for t in window)
    return ((h2 * 60 + m2) - (h1 * 60 + m1)) // 30


def grant_credits(ctx: Context, network: Network, sub: str, credits: int) -> None:
    """A paid credit pack, granted the way the `payment_intent.succeeded` webhook does."""
    now = NOW.astimezone(UTC)
    purchase = Purchase(
        id=new_id("pur"),
        member_id=sub,
        product_id="prd_test",
        operator_id=network.operator,
        amount=1500 * credits,
        credits=Decimal(credits),
        validity_days=365,
        created_at=now,
    )
    ctx.payments.add_purchase(purchase)
    pack = CreditPack(
        purchase_id=purchase.id,
        product_id=purchase.product_id,
        member_id=sub,
        operator_id=network.operator,
        credits_total=purchase.credits,
        credits_remaining=purchase.credits,
        price_amount=purchase.amount,
        purchased_at=now,
        expires_at=pack_expiry(now, purchase.validity_days),
    )
    assert ctx.payments.complete_purchase(purchase, pack, now)


def credits_left(ctx: Context, sub: str) -> Decimal:
    return sum((p.credits_remaining for p in ctx.payments.packs_of(sub)), Decimal(0))


def hold_ends(ctx: Context) -> datetime:
    return NOW + timedelta(seconds=ctx.settings.hold_seconds + 1)


# -- seats ----------------------------------------------------------------------------------


def test_a_full_pool_refuses_the_next_booking(ddb_ctx: Context, ddb_network: Network) -> None:
    """One caller at a time (runs on moto_server too: the fixtures' own check)."""
    request = day_request(ddb_network.pool)
    for i in range(8):
        book(ddb_ctx, member(f"m-{i}"), request, new_id("bkg"))
    with pytest.raises(SlotUnavailable):
        book(ddb_ctx, member("late"), request, new_id("bkg"))
    assert set(occupancy(ddb_ctx, ddb_network.relay, ddb_network.pool).values()) == {8}
    assert set(free_seats(ddb_ctx, ddb_network.relay, ddb_network.pool).values()) == {0}


@real_engine
def test_the_last_seats_of_a_pool_go_to_exactly_as_many_callers(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    # GIVEN an 8-seat pool with 3 seats already taken for the whole day
    request = day_request(ddb_network.pool)
    for i in range(3):
        book(ddb_ctx, member(f"early-{i}"), request, new_id("bkg"))
    # WHEN 24 members book the same day at the same moment
    calls = [partial(book, ddb_ctx, member(f"m-{i}"), request, new_id("bkg")) for i in range(24)]
    outcome = race(calls, watch=lambda: occupancy(ddb_ctx, ddb_network.relay, ddb_network.pool))
    # THEN exactly the 5 free seats are sold and every other caller hears "slot unavailable"
    assert len(outcome.winners) == 5, error_types(outcome)
    assert all(isinstance(outcome.errors[i], SlotUnavailable) for i in outcome.losers), error_types(
        outcome
    )
    # AND the occupancy never exceeded the capacity, during the race or after it
    seen = [count for sample in outcome.samples for count in sample.values()]
    assert seen and max(seen) <= 8
    taken = occupancy(ddb_ctx, ddb_network.relay, ddb_network.pool)
    assert len(taken) == 22 and set(taken.values()) == {8}  # 08:00–19:00
    assert set(free_seats(ddb_ctx, ddb_network.relay, ddb_network.pool).values()) == {0}
    seated = ddb_ctx.bookings.on_relay_day(ddb_network.relay, DAY.isoformat())
    assert len(seated) == 8 and all(b.status is BookingStatus.held for b in seated)


WINDOWS = [
    ("10:00", "12:00"),
    ("11:00", "13:00"),
    ("11:30", "12:30"),
    ("12:00", "13:00"),
    ("09:00", "10:30"),
    ("10:30", "11:30"),
    ("12:30", "14:00"),
    ("13:00", "14:00"),
]


@real_engine
def test_overlapping_hours_of_one_room_never_double_book_it(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    # GIVEN a meeting room for 1, WHEN 24 callers ask for overlapping hours at once
    windows = WINDOWS * 3
    calls = [
        partial(book, ddb_ctx, member(f"m-{i}"), hour_request(ddb_network.room, *w), new_id("bkg"))
        for i, w in enumerate(windows)
    ]
    outcome = race(calls, watch=lambda: occupancy(ddb_ctx, ddb_network.relay, ddb_network.room))
    won = [windows[i] for i in outcome.winners]
    # THEN no two winners overlap, and each loser lost to a winner overlapping its hours
    assert won
    for i, a in enumerate(won):
        assert not any(overlaps(a, b) for b in won[i + 1 :]), won
    for i in outcome.losers:
        assert isinstance(outcome.errors[i], SlotUnavailable), error_types(outcome)
        assert any(overlaps(windows[i], w) for w in won), (windows[i], won)
    # AND the room is never counted twice, and every winner's half hours are counted once
    seen = [count for sample in outcome.samples for count in sample.values()]
    assert seen and max(seen) <= 1
    taken = occupancy(ddb_ctx, ddb_network.relay, ddb_network.room)
    assert max(taken.values()) == 1
    assert sum(taken.values()) == sum(half_hours(w) for w in won)


# -- releasing seats ---------------------------------------------------------------------------


@real_engine
def test_a_cancel_racing_the_expiry_job_frees_the_seat_exactly_once(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    # GIVEN two seats taken all day (confirmed, paid by a manager's free booking)
    admin = Principal(sub="admin-1", groups=frozenset({"admin"}))
    for _ in range(2):
        book(ddb_ctx, admin, day_request(ddb_network.pool, payment="none"), new_id("bkg"))
    baseline = occupancy(ddb_ctx, ddb_network.relay, ddb_network.pool)
    assert set(baseline.values()) == {2}
    racer = member("racer")
    winners: list[str] = []
    for _round in range(20):
        # AND a held booking whose hold has run out
        held = book(ddb_ctx, racer, day_request(ddb_network.pool), new_id("bkg"))
        booking_id = held["booking"]["id"]
        # WHEN its owner cancels it while the expiry job runs
        outcome = race(
            [
                partial(cancel, ddb_ctx, racer, booking_id),
                partial(expire_holds, ddb_ctx, hold_ends(ddb_ctx)),
            ]
        )
        # THEN exactly one of them releases it, the other sees InvalidState or skips it
        cancel_error, job_error = outcome.errors
        assert job_error is None, repr(job_error)
        assert cancel_error is None or isinstance(cancel_error, InvalidState), repr(cancel_error)
        cancelled, expired = cancel_error is None, outcome.results[1]["processed"] == 1
        assert cancelled != expired
        final = ddb_ctx.bookings.get(booking_id)
        assert final is not None
        want = BookingStatus.cancelled if cancelled else BookingStatus.expired
        assert final.status is want
        winners.append(want.value)
        # AND its seats are given back exactly once, and no hold is left behind
        assert occupancy(ddb_ctx, ddb_network.relay, ddb_network.pool) == baseline
        assert ddb_ctx.bookings.expired_holds(hold_ends(ddb_ctx)) == []
    assert len(winners) == 20


@real_engine
def test_two_expiry_jobs_at_once_release_each_hold_once(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    gateway: Any = ddb_ctx.gateway
    for round_ in range(3):
        # GIVEN 8 holds that have all run out (the whole pool)
        ids = [
            book(ddb_ctx, member(f"m-{round_}-{i}"), day_request(ddb_network.pool), new_id("bkg"))[
                "booking"
            ]["id"]
            for i in range(8)
        ]
        cancels_before = gateway.calls.count("cancel_payment_intent")
        # WHEN two runs of the expiry job start together
        job = partial(expire_holds, ddb_ctx, hold_ends(ddb_ctx))
        outcome = race([job, job])
        # THEN each hold is released by exactly one of them
        assert outcome.errors == [None, None], outcome.errors
        assert sum(r["processed"] for r in outcome.results) == len(ids)
        assert gateway.calls.count("cancel_payment_intent") - cancels_before == len(ids)
        for booking_id in ids:
            found = ddb_ctx.bookings.get(booking_id)
            assert found is not None and found.status is BookingStatus.expired
        # AND every seat is back, none twice
        assert set(occupancy(ddb_ctx, ddb_network.relay, ddb_network.pool).values()) == {0}
        assert ddb_ctx.bookings.expired_holds(hold_ends(ddb_ctx)) == []


# -- one request, one seat ------------------------------------------------------------------------


@real_engine
def test_the_same_idempotent_booking_from_many_threads_takes_one_seat(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    # GIVEN one booking id, derived from the caller's Idempotency-Key as the API does
    caller = member("retrier")
    booking_id = derived_id("bkg", caller.sub, "retry-key-1")
    request = day_request(ddb_network.pool)
    # WHEN 8 threads submit it at once
    outcome = race([partial(book, ddb_ctx, caller, request, booking_id) for _ in range(8)])
    # THEN all of them get the same booking and the same payment
    assert outcome.errors == [None] * 8, error_types(outcome)
    assert {r["booking"]["id"] for r in outcome.results} == {booking_id}
    assert len({r["payment"]["payment_intent_id"] for r in outcome.results}) == 1
    # AND one seat is taken, by one booking
    assert set(occupancy(ddb_ctx, ddb_network.relay, ddb_network.pool).values()) == {1}
    assert [b.id for b in ddb_ctx.bookings.on_relay_day(ddb_network.relay, DAY.isoformat())] == [
        booking_id
    ]
    gateway: Any = ddb_ctx.gateway
    assert len(gateway.intents) == 1


WEEKDAYS = [date(2026, 12, d) for d in (2, 3, 4, 7, 8, 9)]


@real_engine
def test_two_credits_pay_for_exactly_two_days_whatever_the_concurrency(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    # GIVEN a member with a pack of 2 credits
    spender = member("spender")
    grant_credits(ddb_ctx, ddb_network, spender.sub, 2)
    # WHEN 6 threads book 6 different days with credits at once
    calls = [
        partial(book, ddb_ctx, spender, day_request(ddb_network.pool, d, "credits"), new_id("bkg"))
        for d in WEEKDAYS
    ]
    outcome = race(calls, watch=lambda: credits_left(ddb_ctx, spender.sub))
    # THEN exactly 2 are booked and the others are refused for lack of credits
    assert len(outcome.winners) == 2, error_types(outcome)
    assert all(isinstance(outcome.errors[i], InsufficientCredits) for i in outcome.losers), (
        error_types(outcome)
    )
    assert sum(Decimal(outcome.results[i]["booking"]["credits_used"]) for i in outcome.winners) == 2
    # AND the wallet never went below zero, and ends empty
    assert outcome.samples and min(outcome.samples) >= 0
    assert credits_left(ddb_ctx, spender.sub) == 0
    for i, day in enumerate(WEEKDAYS):
        seats = set(occupancy(ddb_ctx, ddb_network.relay, ddb_network.pool, day).values())
        assert seats == ({1} if i in outcome.winners else set())


@real_engine
def test_an_idempotent_credit_booking_retried_after_spending_the_last_credit(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    # GIVEN a member with exactly 1 credit and one idempotent day booking paid with it
    caller = member("last-credit")
    grant_credits(ddb_ctx, ddb_network, caller.sub, 1)
    booking_id = derived_id("bkg", caller.sub, "retry-key-credits")
    request = day_request(ddb_network.pool, payment="credits")
    # WHEN it is sent from 4 threads at once, then retried once more
    outcome = race([partial(book, ddb_ctx, caller, request, booking_id) for _ in range(4)])
    retried = book(ddb_ctx, caller, request, booking_id)
    # THEN every answer is that one booking, which took one seat and one credit
    assert outcome.errors == [None] * 4, error_types(outcome)
    assert retried["booking"]["id"] == booking_id
    assert set(occupancy(ddb_ctx, ddb_network.relay, ddb_network.pool).values()) == {1}
    assert credits_left(ddb_ctx, caller.sub) == 0
