"""Paging through several queries, or an in-memory list, behind one opaque cursor.

Cursors are keysets, never offsets: a cursor names the last item served (its sort key)
or the page source it stopped in (its id), so an item or a source added or removed
between two pages makes none of those that stayed served twice or skipped.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from chalicelib.adapters.dynamo import decode_cursor, encode_cursor
from chalicelib.errors import ValidationFailed

Page = Callable[[int, str | None], tuple[list[Any], str | None]]
SortKey = tuple[str | int | float, ...]
T = TypeVar("T")


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed("The cursor is not one this listing gave.", field="cursor")


def chain_pages(
    pages: Sequence[Page] | Mapping[str, Page],
    limit: int,
    cursor: str | None,
    scope: str = "chain",
) -> tuple[list[Any], str | None]:
    """Page through several queries one after the other.

    `pages` keyed by the id of their source (e.g. `{relay_id: page}`) are read in the
    order of those ids, and the cursor names the source it stopped in: a source added or
    removed meanwhile does not invalidate it. A plain sequence is for a fixed list of
    sources that `scope` fully determines (e.g. the months of a date span)."""
    if isinstance(pages, Mapping):
        return _chain_by_id(pages, limit, cursor, scope)
    index: Any = 0
    inner: Any = None
    if cursor:
        position = decode_cursor(cursor, f"{scope}:{len(pages)}")
        index, inner = position.get("i"), position.get("c")
        if type(index) is not int or not 0 <= index < len(pages) or not _inner_ok(inner):
            raise _bad_cursor()
    items: list[Any] = []
    while index < len(pages) and len(items) < limit:
        found, inner = pages[index](limit - len(items), inner)
        items.extend(found)
        if inner is None:
            index += 1
    if inner is None:
        index = _next_with_items(list(pages), index)
    if index >= len(pages):
        return items, None
    return items, encode_cursor({"i": index, "c": inner}, f"{scope}:{len(pages)}")


def _next_with_items(pages: list[Page], index: int) -> int:
    """The first source from `index` on that has an item (len(pages) if none): a page
    that ends with a source answers a cursor only if something follows, so the last page
    never has an empty successor. Each source is asked for one item."""
    while index < len(pages) and not pages[index](1, None)[0]:
        index += 1
    return index


def _chain_by_id(
    pages: Mapping[str, Page], limit: int, cursor: str | None, scope: str
) -> tuple[list[Any], str | None]:
    """Sources in the order of their ids; the cursor holds the id of the source to go on
    with and that source's own cursor. A source that is gone is passed over: paging
    resumes at the first source whose id follows it, from that source's start."""
    ids = sorted(pages)
    index, inner = 0, None
    scope = f"{scope}:by-id"
    if cursor:
        position = decode_cursor(cursor, scope)
        source, inner = position.get("k"), position.get("c")
        if not isinstance(source, str) or not source or not _inner_ok(inner):
            raise _bad_cursor()
        index = bisect_left(ids, source)
        if index == len(ids) or ids[index] != source:
            inner = None  # that source is gone: the next one from its start
    items: list[Any] = []
    while index < len(ids) and len(items) < limit:
        found, inner = pages[ids[index]](limit - len(items), inner)
        items.extend(found)
        if inner is None:
            index += 1
    if inner is None:
        index = _next_with_items([pages[i] for i in ids], index)
    if index >= len(ids):
        return items, None
    return items, encode_cursor({"k": ids[index], "c": inner}, scope)


def _inner_ok(inner: Any) -> bool:
    return inner is None or (isinstance(inner, str) and inner != "")


class Sorted(list[T]):
    """Items in ascending order of `key`, a tuple of strings and numbers whose last part
    is the item's unique id, so that `page_list` can resume strictly after a key."""

    def __init__(self, items: Iterable[T], key: Callable[[T], SortKey]) -> None:
        super().__init__(sorted(items, key=key))
        self.key = key


def page_list(
    items: Sequence[Any],
    limit: int,
    cursor: str | None,
    scope: str,
    key: Callable[[Any], SortKey] | None = None,
) -> tuple[list[Any], str | None]:
    """Page through a list already in memory (the cached catalogue), sorted by `key`
    (by default the key of a `Sorted` list). The cursor holds the sort key of the last
    item served and the next page starts strictly after it: an item added before it is
    not seen, none of the others is served twice or skipped."""
    order = key or getattr(items, "key", None)
    if order is None:
        raise TypeError("page_list needs the sort key of its items (pass key= or a Sorted)")
    start = 0
    if cursor:
        after: Any = decode_cursor(cursor, scope).get("k")
        expected = order(items[0]) if items else None
        if not _key_ok(after, expected):
            raise _bad_cursor()
        start = bisect_right(items, tuple(after), key=order)
    page = list(items[start : start + limit])
    if start + limit >= len(items):
        return page, None
    return page, encode_cursor({"k": list(order(page[-1]))}, scope)


def _key_ok(after: Any, expected: SortKey | None) -> bool:
    """A sort key from a cursor: a non-empty list of strings and finite numbers, part by
    part of the same kinds as the listing's own keys (so that comparing never fails)."""
    if not isinstance(after, list) or not after:
        return False
    if expected is not None and len(after) != len(expected):
        return False
    for n, part in enumerate(after):
        if isinstance(part, str):
            kind: type = str
        elif type(part) in (int, float) and math.isfinite(part):
            kind = float
        else:
            return False
        if expected is not None and kind is not (str if isinstance(expected[n], str) else float):
            return False
    return True
