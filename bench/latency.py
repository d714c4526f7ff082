"""Booking (by each payment) and availability, over HTTP and at the Lambda handler, each
against the raw DynamoDB calls the request makes (captured, replayed with fresh ids),
interleaved so that both sides share the machine's noise."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from bench.answers import Answer, Caller
from bench.payers import KINDS, Payer, payers
from bench.replay import Call, capturing_all, fresh_ids, player, renamed, shape
from bench.stack import DAY, World
from bench.stats import Row, median, ms, p95, ratio

GOALS = {"HTTP": 1.2, "handler": 1.1}
DAYS = 30  # weekdays booked in turn, so that no day runs out of seats
# Pairs run and thrown away before timing: DynamoDB Local's JVM compiles its hot paths
# over the first few hundred calls (a Query took ~3.9 ms in the first section of a run,
# ~1.5 ms in the last), and our code's caches fill.
WARM = 100


def bench_days(count: int = DAYS) -> list[date]:
    """Weekdays from DAY on, the year-end holidays left out."""
    days: list[date] = []
    day = DAY
    while len(days) < count:
        holidays = (day.month == 12 and day.day >= 24) or (day.month == 1 and day.day <= 2)
        if day.weekday() < 5 and not holidays:
            days.append(day)
        day += timedelta(days=1)
    return days


def elapsed(call: Callable[[int], Any], i: int) -> float:
    """Seconds the `i`th call took: the app's own figure when it answers an `Answer`
    (the handler's call, or the HTTP exchange: see `Answer.elapsed`), else the whole call."""
    start = time.perf_counter()
    result = call(i)
    end = time.perf_counter()
    return result.elapsed if isinstance(result, Answer) else end - start


def interleaved(
    ours: Callable[[int], Any], raw: Callable[[int], Any], n: int
) -> tuple[list[float], list[float]]:
    """Time `n` calls of each, alternating which goes first."""
    our_times: list[float] = []
    raw_times: list[float] = []
    for i in range(n):
        first, second = (raw, ours) if i % 2 else (ours, raw)
        times = [elapsed(first, i), elapsed(second, i)]
        if i % 2:
            times.reverse()
        our_times.append(times[0])
        raw_times.append(times[1])
    return our_times, raw_times


def _measure(
    world: World, request: Callable[[int], Any], n: int, templates: int, warm: int
) -> tuple[list[float], list[float], str]:
    """Capture the calls of `templates` requests (one per day), then time `n` more
    requests against replays of the captured calls of the same day, after `warm`
    untimed pairs."""
    client = world.ctx.table.client
    captured: list[list[Call]] = []
    for i in range(templates):
        with capturing_all(client) as calls:
            request(i)
        captured.append(calls)
    ids = fresh_ids(captured)
    batches = iter([renamed(captured[i % templates], ids) for i in range(warm + n)])
    play = player(client, batches)
    interleaved(request, lambda _: play(), warm)
    ours, raw = interleaved(lambda i: request(warm + i), lambda _: play(), n)
    return ours, raw, shape(captured[0])


def _rows(
    section: str, level: str, label: str, ours: list[float], raw: list[float], calls: str
) -> list[Row]:
    goal = GOALS[level]
    return [
        Row(section, f"{label} via {level}, median", ms(median(ours)), f"p95 {ms(p95(ours))}"),
        Row(section, f"{label} raw calls, median", ms(median(raw)), f"p95 {ms(p95(raw))}; {calls}"),
        Row(
            section,
            f"{label} ratio {level} / raw",
            ratio(median(ours), median(raw)),
            f"goal <= {goal}x; n={len(ours)} each, interleaved; median of the pairs' "
            f"own ratios {median([o / r for o, r in zip(ours, raw, strict=True)]):.2f}x",
            figure=median(ours) / median(raw),
            goal=goal,
        ),
    ]


def booker(caller: Caller, payer: Payer, resource: str, days: list[date]) -> Callable[[int], Any]:
    def book(i: int) -> Answer:
        body = {
            "resource_id": resource,
            "date": days[i % len(days)].isoformat(),
            "unit": "day",
            "payment": payer.kind,
        }
        answer = caller.call("POST", "/v1/bookings", body, token=payer.token)
        assert answer.status == 201, (payer.kind, answer.body)
        return answer

    return book


def availability_reader(caller: Caller, world: World, days: list[date]) -> Callable[[int], Any]:
    def read(i: int) -> Answer:
        path = f"/v1/availability?date={days[i % len(days)].isoformat()}&relay_id={world.relay}"
        answer = caller.call("GET", path)
        assert answer.status == 200, answer.body
        return answer

    return read


def latencies(world: World, n: int, warm: int = WARM) -> list[Row]:
    """Every operation at both levels; a section per level."""
    days = bench_days()
    members = payers(world)
    rows: list[Row] = []
    for level, caller in (("handler", world.handler), ("HTTP", world.http)):
        section = f"latency via {level} vs the same DynamoDB calls sent raw (DynamoDB Local)"
        for i in range(3):  # warm: catalogue cache, profiles, connections
            availability_reader(caller, world, days)(i)
        ours, raw, calls = _measure(world, availability_reader(caller, world, days), n, 1, warm)
        rows += _rows(section, level, "availability, one relay-day", ours, raw, calls)
        for kind in KINDS:
            book = booker(caller, members[kind], world.pool, days)
            book(0)  # a member's first booking creates the profile: not the steady state
            ours, raw, calls = _measure(world, book, n, min(len(days), max(2, n)), warm)
            rows += _rows(section, level, f"booking, {kind}", ours, raw, calls)
    return rows
