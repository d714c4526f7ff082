"""Our own CPU time per request, without DynamoDB: each DynamoDB call is answered at
once from a recording of its first real answer, so what is timed is the handler's call
(Chalice and our code; not boto3, which the calls never reach, nor the bench's event).
Timed three ways: back to back (warm); right after 2 ms of busy CPU (a spin loop: time
passes, the CPU does not rest); right after the CPU sat idle for 2 ms, as it does while
DynamoDB Local answers a real request, which is what the latency section's ratios pay.
The busy figure tells the CPU's rest (a halted vCPU) apart from time passing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.latency import availability_reader, bench_days, booker, elapsed
from bench.payers import KINDS, payers
from bench.stack import World
from bench.stats import Row, median

SECTION = "our own time per request at the handler, DynamoDB answered from memory"
IDLE_SECONDS = 0.002


@contextmanager
def answered_from_memory() -> Iterator[Callable[[bool], None]]:
    """botocore's calls recorded afresh when the yielded switch is set False, then
    answered from the recording (by operation, table and index) once it is set True."""
    from botocore.client import BaseClient

    real = BaseClient._make_api_call
    recorded: dict[tuple[str, Any, Any], Any] = {}
    replaying = [False]

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        key = (operation, params.get("TableName"), params.get("IndexName"))
        if replaying[0] and key in recorded:
            return recorded[key]
        answer = real(self, operation, params)
        recorded.setdefault(key, answer)
        return answer

    def replay(on: bool) -> None:
        if not on:
            recorded.clear()
        replaying[0] = on

    BaseClient._make_api_call = call  # type: ignore[method-assign]
    try:
        yield replay
    finally:
        BaseClient._make_api_call = real  # type: ignore[method-assign]


def _timed(request: Callable[[int], Any], n: int, idle: float, busy: bool = False) -> float:
    samples = []
    for i in range(n):
        if idle and busy:
            _spin(idle)
        elif idle:
            time.sleep(idle)
        samples.append(elapsed(request, i))
    return median(samples)


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def own_cpu(world: World, n: int) -> list[Row]:
    days = bench_days()
    members = payers(world)
    requests: list[tuple[str, Callable[[int], Any]]] = [
        ("availability, one relay-day", availability_reader(world.handler, world, days))
    ]
    requests += [
        (f"booking, {kind}", booker(world.handler, members[kind], world.pool, days))
        for kind in KINDS
        if kind != "company"  # three GetItems of one table: not told apart by the recording
    ]
    rows = []
    with answered_from_memory() as replay:
        for label, request in requests:
            replay(False)
            for i in range(3):  # the real answers recorded
                request(i)
            replay(True)
            for i in range(50):
                request(i)
            warm = _timed(request, n, 0.0)
            after_busy = _timed(request, n, IDLE_SECONDS, busy=True)
            after_idle = _timed(request, n, IDLE_SECONDS)
            rows.append(
                Row(
                    SECTION,
                    f"{label}: warm / after 2 ms busy / after 2 ms idle",
                    f"{warm * 1e6:.0f} / {after_busy * 1e6:.0f} / {after_idle * 1e6:.0f} us",
                    f"x{after_busy / warm:.2f} after spinning, x{after_idle / warm:.2f} after"
                    f" idling; median of {n} each",
                    figure=after_idle / warm,
                )
            )
    return rows
