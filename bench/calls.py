"""DynamoDB calls per request, counted on the table's client with botocore event hooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench.hooks import counting, reads, writes
from bench.stack import DAY, World
from bench.stats import Row

SECTION = "DynamoDB calls per request (before-call hooks on the table's client)"


def _row(world: World, name: str, request: Callable[[], Any]) -> Row:
    with counting(world.ctx.table.client) as seen:
        answer = request()
    assert answer.status < 300, answer.body
    detail = ", ".join(f"{op} {n}" for op, n in sorted(seen.items()))
    return Row(SECTION, name, f"{writes(seen)} W / {reads(seen)} R", detail)


def per_request(world: World) -> list[Row]:
    """Requests of a returning caller (warm catalogue), plus a new member's first booking."""
    http = world.handler
    member, admin = world.token("bench-member"), world.token("bench-admin", "admin")
    newcomer = world.token("bench-newcomer")
    day = (DAY + timedelta(days=1)).isoformat()
    card = {"resource_id": world.pool, "date": day, "unit": "day", "payment": "card"}
    free = {**card, "payment": "none"}
    path = f"/v1/availability?date={day}&relay_id={world.relay}"

    def post(body: dict[str, Any], token: str, key: str = "") -> Callable[[], Any]:
        return lambda: http.call("POST", "/v1/bookings", body, token=token, key=key)

    for body, token in ((free, admin), (card, member)):  # warm: catalogue, profiles
        post(body, token)()
    return [
        _row(world, "availability, one relay-day", lambda: http.call("GET", path)),
        _row(world, "booking, manager, free", post(free, admin)),
        _row(world, "booking, member, card", post(card, member)),
        _row(world, "booking, member, card, Idempotency-Key", post(card, member, "bench-1")),
        _row(world, "  same key replayed", post(card, member, "bench-1")),
        _row(world, "booking, new member's first, card", post(card, newcomer)),
    ]
