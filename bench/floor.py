"""Where the floor of availability's handler ratio is: the app against variants that
take its own work away, each measured as the `latency` section measures the app (the
same Query replayed raw, interleaved), variants alternating round by round so that all
share the machine's noise. A diagnostic, run only when named: `BENCH_ONLY=floor make
bench` (~30 s: 4 rounds of 4 variants).

- `the app as it is`;
- `constant answer`: the service still sends the relay-day's Query, then answers the
  relay-day it computed the first time (what caching whole answers could win at most);
- `constant answer, no log line`: the same, and the answer's log line not written;
- `bare Chalice, the Query only`: a Chalice app of one route, no middleware, that sends
  the same Query and answers `{"date": ...}` (what Chalice itself costs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from bench.handler import Handler
from bench.latency import _measure, availability_reader, bench_days
from bench.stack import World
from bench.stats import Row, median

SECTION = "availability at the handler: the floor (a diagnostic)"
ROUNDS = 4
N = 200
WARM = 50


def floor(world: World, rounds: int = ROUNDS, n: int = N, warm: int = WARM) -> list[Row]:
    days = bench_days()
    variants: dict[str, tuple[Callable[[], Any], Callable[[int], Any]]] = {
        "the app as it is": (_as_it_is, availability_reader(world.handler, world, days)),
        "constant answer": (_constant, availability_reader(world.handler, world, days)),
        "constant answer, no log line": (
            _constant_unlogged,
            availability_reader(world.handler, world, days),
        ),
        "bare Chalice, the Query only": (
            _as_it_is,
            availability_reader(Handler(_bare_app(world)), world, days),
        ),
    }
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    own: dict[str, list[float]] = {name: [] for name in variants}
    for patched, reader in variants.values():
        with patched():
            for i in range(3):  # caches, connections
                reader(i)
    for _ in range(rounds):
        for name, (patched, reader) in variants.items():
            with patched():
                ours, raw, _ = _measure(world, reader, n, 1, warm)
            ratios[name].append(median(ours) / median(raw))
            own[name].append((median(ours) - median(raw)) * 1e6)
    return [
        Row(
            SECTION,
            f"{name}: ratio handler / raw",
            f"{median(ratios[name]):.3f}x",
            f"median of {rounds} rounds (range {min(ratios[name]):.3f}-{max(ratios[name]):.3f});"
            f" our time in the request {median(own[name]):.0f} us; n={n} pairs a round",
            figure=median(ratios[name]),
        )
        for name in variants
    ]


@contextmanager
def _as_it_is() -> Iterator[None]:
    yield


@contextmanager
def _constant() -> Iterator[None]:
    import chalicelib.api.availability as route

    real = route.availability
    answers: dict[date, Any] = {}

    def constant(ctx: Any, day: date, **kwargs: Any) -> Any:
        if day not in answers:  # computed once, with its Query
            answers[day] = real(ctx, day, **kwargs)
        else:  # the Query alone: every request sends exactly one, as the app's
            ctx.bookings.occupancy(kwargs["relay_id"], day.isoformat())
        return answers[day]

    route.availability = constant  # type: ignore[assignment]
    try:
        yield
    finally:
        route.availability = real


@contextmanager
def _constant_unlogged() -> Iterator[None]:
    import chalicelib.observability as observability

    real = observability._answered
    observability._answered = lambda *args, **kwargs: None
    try:
        with _constant():
            yield
    finally:
        observability._answered = real


def _bare_app(world: World) -> Any:
    from chalice import Chalice

    bare = Chalice("bare")

    @bare.route("/v1/availability")
    def only_the_query() -> dict[str, str]:
        query = bare.current_request.query_params or {}
        world.ctx.bookings.occupancy(query["relay_id"], query["date"])
        return {"date": query["date"]}

    return bare
