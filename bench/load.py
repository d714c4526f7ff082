"""HTTP load on the loopback stack: 16 clients, each with its own keep-alive connection
and member, alternately reading availability and booking (the last seat of a one-person
office, or a hot desk), until a request count or a time limit is reached, whichever comes
first. Then the oversell check: seats granted never exceed capacity, counted both from
the 201 answers and from the table's per-slot counters."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from bench.latency import bench_days
from bench.stack import World
from bench.stats import Row, median, ms, p95

CLIENTS = 16
SECTION = f"HTTP load, {CLIENTS} concurrent clients on 127.0.0.1 (the loopback server, threaded)"


def load(world: World, max_requests: int, max_seconds: float) -> list[Row]:
    days = bench_days(40)[30:40]  # days the latency benchmark leaves alone
    office, desk = world.resources[2], world.pool  # capacity 1 and 500
    capacity = {office: 1, desk: 500}
    stop_at = time.monotonic() + max_seconds
    budget = iter(range(max_requests))
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    times: list[float] = []
    granted: Counter[tuple[str, date]] = Counter()

    def client(k: int) -> None:
        token = world.token(f"bench-load-{k}")
        rng = random.Random(k)
        while time.monotonic() < stop_at:
            with lock:
                if next(budget, None) is None:
                    return
            day = rng.choice(days)
            started = time.perf_counter()
            if rng.random() < 0.5:
                path = f"/v1/availability?date={day.isoformat()}&relay_id={world.relay}"
                answer = world.http.call("GET", path)
                resource = None
            else:
                resource = office if rng.random() < 0.5 else desk
                body = {"resource_id": resource, "date": day.isoformat(), "unit": "day"}
                answer = world.http.call("POST", "/v1/bookings", {**body, "payment": "card"}, token)
            elapsed = time.perf_counter() - started
            with lock:
                statuses[answer.status] += 1
                times.append(elapsed)
                if resource is not None and answer.status == 201:
                    granted[(resource, day)] += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    wall = time.perf_counter() - began
    oversold = [k for k, n in granted.items() if n > capacity[k[0]]]
    counters = _counter_excess(world, days, capacity)
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    done = sum(statuses.values())
    mix = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
    return [
        Row(
            SECTION,
            "requests, throughput",
            f"{done / wall:.1f} req/s",
            f"{done} in {wall:.1f} s; {mix}",
            figure=done / wall,
        ),
        Row(SECTION, "latency p50 / p95", f"{ms(median(times))} / {ms(p95(times))}"),
        Row(SECTION, "5xx answers", f"{server_errors}", "goal 0", figure=server_errors, goal=0),
        Row(
            SECTION,
            "oversold resource-days",
            f"{len(oversold) + len(counters)}",
            f"goal 0: from 201s {len(oversold)}, from slot counters {len(counters)}; "
            f"office seats granted {sum(n for (r, _), n in granted.items() if r == office)} "
            f"over {len(days)} days",
            figure=len(oversold) + len(counters),
            goal=0,
        ),
    ]


def _counter_excess(world: World, days: list[date], capacity: dict[str, int]) -> list[str]:
    """Slots whose stored count of seats taken is above the resource's capacity."""
    excess: list[str] = []
    for day in days:
        _closed, taken = world.ctx.bookings.occupancy(world.relay, day.isoformat())
        for resource, slots in taken.items():
            limit = capacity.get(resource)
            if limit is not None and any(n > limit for n in slots.values()):
                excess.append(f"{resource}@{day}")
    return excess
