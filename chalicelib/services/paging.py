"""Paging through several queries, or an in-memory list, behind one opaque cursor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamo import decode_cursor, encode_cursor
from chalicelib.errors import ValidationFailed

Page = Callable[[int, str | None], tuple[list[Any], str | None]]


def chain_pages(
    pages: list[Page], limit: int, cursor: str | None, scope: str = "chain"
) -> tuple[list[Any], str | None]:
    """Page through several queries one after the other (e.g. one per relay)."""
    index: Any = 0
    inner: Any = None
    if cursor:
        position = decode_cursor(cursor, f"{scope}:{len(pages)}")
        index, inner = position.get("i"), position.get("c")
        if not isinstance(index, int) or not 0 <= index < len(pages):
            raise ValidationFailed("The cursor is not one this listing gave.", field="cursor")
        if inner is not None and not isinstance(inner, str):
            raise ValidationFailed("The cursor is not one this listing gave.", field="cursor")
    items: list[Any] = []
    while index < len(pages) and len(items) < limit:
        found, inner = pages[index](limit - len(items), inner)
        items.extend(found)
        if inner is None:
            index += 1
    if index >= len(pages):
        return items, None
    return items, encode_cursor({"i": index, "c": inner}, f"{scope}:{len(pages)}")


def page_list(
    items: list[Any], limit: int, cursor: str | None, scope: str
) -> tuple[list[Any], str | None]:
    """Page through a list already in memory (the cached catalogue)."""
    start = 0
    if cursor:
        offset = decode_cursor(cursor, scope).get("o")
        if not isinstance(offset, int) or offset < 0:
            raise ValidationFailed("The cursor is not one this listing gave.", field="cursor")
        start = offset
    end = start + limit
    next_cursor = encode_cursor({"o": end}, scope) if end < len(items) else None
    return items[start:end], next_cursor
