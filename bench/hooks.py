"""botocore event hooks on the table's client: count DynamoDB calls, capture their params."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


@contextmanager
def counting(client: Any) -> Iterator[Counter[str]]:
    """Every DynamoDB operation the client makes meanwhile, by name (`before-call`: one per
    API call, retries not included)."""
    seen: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        seen[model.name] += 1

    client.meta.events.register("before-call.dynamodb.*", count)
    try:
        yield seen
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", count)


def writes(seen: Counter[str]) -> int:
    return sum(n for op, n in seen.items() if op in WRITES)


def reads(seen: Counter[str]) -> int:
    return sum(n for op, n in seen.items() if op not in WRITES)


@contextmanager
def capturing(client: Any, operation: str) -> Iterator[list[dict[str, Any]]]:
    """The parameters of each `operation` call meanwhile, as the caller gave them (copied
    before boto3's resource layer serialises them in place)."""
    captured: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        captured.append(copy.deepcopy(params))

    event = f"provide-client-params.dynamodb.{operation}"
    client.meta.events.register(event, keep)
    try:
        yield captured
    finally:
        client.meta.events.unregister(event, keep)
