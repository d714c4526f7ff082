"""Per-member limit on writes: a fixed window counted in DynamoDB, 429 with Retry-After."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.adapters.rate_limit_store import EXPIRY_GRACE_SECONDS, RateLimitStore
from chalicelib.config import Settings
from tests.conftest import make_settings
from tests.support.api import Api, assert_problem, booking_body

LIMIT, WINDOW = 2, 60
WRITES = [
    ("/v1/bookings", booking_body("res_unknown")),
    ("/v1/purchases", {"product_id": "prd_unknown"}),
    ("/v1/memberships", {"product_id": "prd_unknown", "payment_method_type": "card"}),
]


@pytest.fixture
def settings(auth_keys: tuple[Path, Path]) -> Settings:
    return make_settings(
        auth_keys[1], MEMBER_WRITES_PER_WINDOW=LIMIT, MEMBER_WRITE_WINDOW_SECONDS=WINDOW
    )


def _purchase(api: Api, token: str, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else None
    return api.post("/v1/purchases", {"product_id": "prd_unknown"}, token=token, headers=headers)


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_a_write_past_the_limit_answers_429_with_retry_after(
    api: Api, member: str, path: str, body: dict[str, Any]
) -> None:
    for _ in range(LIMIT):
        assert api.post(path, body, token=member).status == 404

    refused = api.post(path, body, token=member)

    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"] == "60"  # the clock stands at a window's start


def test_retry_after_counts_the_seconds_left_in_the_window(
    api: Api, member: str, clock: FixedClock
) -> None:
    clock.advance(seconds=45)
    for _ in range(LIMIT):
        _purchase(api, member)

    assert _purchase(api, member).headers["Retry-After"] == "15"


def test_the_limit_is_per_member(api: Api, member: str) -> None:
    for _ in range(LIMIT + 1):
        _purchase(api, member)

    assert _purchase(api, api.token("member-2")).status == 404


def test_writes_are_allowed_again_in_the_next_window(
    api: Api, member: str, clock: FixedClock
) -> None:
    for _ in range(LIMIT + 1):
        _purchase(api, member)

    clock.advance(seconds=WINDOW)

    assert _purchase(api, member).status == 404


def test_reads_are_not_counted(api: Api, member: str) -> None:
    for _ in range(LIMIT + 3):
        assert api.get("/v1/wallet", token=member).status == 200

    assert _purchase(api, member).status == 404


def test_a_window_counts_in_one_item_that_expires(table: Table) -> None:
    store = RateLimitStore(table)

    answers = [store.hit("MEMBER#m", 1_800_000_000, WINDOW, LIMIT) for _ in range(3)]

    item = table.get("RATE#MEMBER#m", "WINDOW#1800000000")
    assert answers == [True, True, False]
    assert item is not None
    assert item["hits"] == LIMIT
    assert item["ttl"] == 1_800_000_000 + WINDOW + EXPIRY_GRACE_SECONDS


def test_no_limit_by_default(auth_keys: tuple[Path, Path]) -> None:
    assert make_settings(auth_keys[1]).member_writes_per_window == 0
