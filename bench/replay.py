"""The raw DynamoDB calls of one request, captured on the table's client, and replayed
with fresh ids: the same calls with the same payloads, without our code around them."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.identifiers import new_id

# An id (ours: `bkg_` + 20 base32; Stripe's: `pi_...`): the fresh ones are found by
# comparing two requests' calls, since the catalogue's and the member's ids repeat.
_ID = re.compile(r"\b([a-z][a-z0-9]*)_([A-Za-z0-9]+)\b")


@dataclass(frozen=True)
class Call:
    method: str  # the client's method, e.g. "transact_write_items"
    params: dict[str, Any]


@contextmanager
def capturing_all(client: Any) -> Iterator[list[Call]]:
    """Every DynamoDB call the client makes meanwhile, with the caller's parameters
    (copied before boto3's resource layer serialises them in place)."""
    methods = {api: name for name, api in client.meta.method_to_api_mapping.items()}
    captured: list[Call] = []

    def keep(params: dict[str, Any], model: Any, **_: Any) -> None:
        captured.append(Call(methods[model.name], copy.deepcopy(params)))

    client.meta.events.register("provide-client-params.dynamodb.*", keep)
    try:
        yield captured
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.*", keep)


def shape(calls: list[Call]) -> str:
    """`transact_write_items(4)+put_item`: what a request sends, in order."""
    parts = []
    for call in calls:
        items = call.params.get("TransactItems")
        parts.append(f"{call.method}({len(items)})" if items else call.method)
    return " + ".join(parts)


def ids_in(calls: list[Call]) -> set[str]:
    found: set[str] = set()
    _walk([c.params for c in calls], found)
    return found


def fresh_ids(captures: list[list[Call]]) -> set[str]:
    """The ids that requests of the same kind do not all share: those made for each
    (the catalogue's and the member's appear in every one)."""
    seen = [ids_in(calls) for calls in captures]
    return set().union(*seen) - set.intersection(*seen) if len(seen) > 1 else set()


def _walk(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.update(m.group(0) for m in _ID.finditer(value))
    elif isinstance(value, dict):
        for v in value.values():
            _walk(v, found)
    elif isinstance(value, list):
        for v in value:
            _walk(v, found)


def renamed(calls: list[Call], ids: set[str]) -> list[Call]:
    """A copy of `calls` with each id of `ids` replaced by a new one of its prefix."""
    mapping = {old: new_id(old.split("_", 1)[0]) for old in ids}

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return _ID.sub(lambda m: mapping.get(m.group(0), m.group(0)), value)
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    return [Call(c.method, swap(c.params)) for c in calls]


def player(client: Any, batches: Iterator[list[Call]]) -> Callable[[], None]:
    """A function that sends the next prepared batch of calls, in order."""

    def play() -> None:
        for call in next(batches):
            getattr(client, call.method)(**call.params)

    return play
