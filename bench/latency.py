"""Latency through the whole HTTP stack vs the bare DynamoDB call of the same shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.hooks import capturing
from bench.stack import DAY, World
from bench.stats import Row, median, ms, p95, ratio, timed
from chalicelib.domain.identifiers import new_id

N = 200
WARMUP = 10


def _replace(value: Any, old: str, new: str) -> Any:
    """A copy of `value` with `old` replaced by `new` in every string (a booking id)."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


def _interleaved(
    http: Callable[[], Any], raw: Callable[[], Any], n: int
) -> tuple[list[float], list[float]]:
    """Time `n` calls of each, alternating which goes first; after a short warm-up."""
    for _ in range(WARMUP):
        http()
        raw()
    http_times: list[float] = []
    raw_times: list[float] = []
    for i in range(n):
        if i % 2:
            raw_times.append(timed(raw))
            http_times.append(timed(http))
        else:
            http_times.append(timed(http))
            raw_times.append(timed(raw))
    return http_times, raw_times


def _rows(section: str, label: str, http: list[float], raw: list[float]) -> list[Row]:
    return [
        Row(section, f"{label} via HTTP, median", ms(median(http)), f"p95 {ms(p95(http))}"),
        Row(section, f"{label} raw call, median", ms(median(raw)), f"p95 {ms(p95(raw))}"),
        Row(
            section,
            "ratio HTTP / raw",
            ratio(median(http), median(raw)),
            f"p95 {ratio(p95(http), p95(raw))}, n={len(http)} each, interleaved",
        ),
    ]


def booking(world: World) -> list[Row]:
    """POST /v1/bookings (a manager's free day: one TransactWriteItems, no Stripe) vs that
    TransactWriteItems sent with a fresh booking id."""
    token = world.http.token("bench-admin", "admin")
    body = {"resource_id": world.pool, "date": DAY.isoformat(), "unit": "day", "payment": "none"}
    client = world.ctx.table.client

    def via_http() -> None:
        answer = world.http.call("POST", "/v1/bookings", body, token=token)
        assert answer.status == 201, answer.body

    with capturing(client, "TransactWriteItems") as captured:
        first = world.http.call("POST", "/v1/bookings", body, token=token)
    assert first.status == 201 and len(captured) == 1, (first.body, captured)
    template, template_id = captured[0], first.body["booking"]["id"]

    # Built beforehand: only the call itself is timed.
    prepared = iter([_replace(template, template_id, new_id("bkg")) for _ in range(N + WARMUP)])

    def raw() -> None:
        client.transact_write_items(**next(prepared))

    http_times, raw_times = _interleaved(via_http, raw, N)
    section = f"booking latency (one TransactWriteItems: {json_shape(template)}), DynamoDB Local"
    return _rows(section, "book a day", http_times, raw_times)


def json_shape(params: dict[str, Any]) -> str:
    return "+".join(next(iter(item)) for item in params["TransactItems"])


def availability(world: World) -> list[Row]:
    """GET /v1/availability for one relay-day (warm catalogue) vs its one Query."""
    path = f"/v1/availability?date={DAY.isoformat()}&relay_id={world.relay}"
    client = world.ctx.table.client

    def via_http() -> None:
        answer = world.http.call("GET", path)
        assert answer.status == 200, answer.body

    via_http()  # the catalogue is cached from here on
    with capturing(client, "Query") as captured:
        via_http()
    assert len(captured) == 1, captured
    query = captured[0]

    def raw() -> None:
        client.query(**query)

    http_times, raw_times = _interleaved(via_http, raw, N)
    section = "availability of one relay-day (warm catalogue), DynamoDB Local"
    return _rows(section, "one relay-day", http_times, raw_times)
