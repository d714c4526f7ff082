"""Paging through several queries one after the other, behind one opaque cursor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamo import decode_cursor, encode_cursor

Page = Callable[[int, str | None], tuple[list[Any], str | None]]


def chain_pages(pages: list[Page], limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    """Page through several queries one after the other, behind one opaque cursor."""
    position = decode_cursor(cursor) if cursor else {"PK": "0"}
    assert position is not None
    index, inner = int(position.get("PK", "0")), position.get("SK") or None
    items: list[Any] = []
    while index < len(pages) and len(items) < limit:
        found, inner = pages[index](limit - len(items), inner)
        items.extend(found)
        if inner is None:
            index += 1
    if index >= len(pages):
        return items, None
    return items, encode_cursor({"PK": str(index), "SK": inner or ""})
