"""Keyset cursors (services/paging.py) and DynamoDB start keys (adapters/dynamo.py)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamo import decode_key_cursor, encode_cursor
from chalicelib.errors import ValidationFailed
from chalicelib.services.paging import Page, Sorted, chain_pages, page_list


def by_name(item: dict[str, Any]) -> tuple[str, str]:
    return (item["name"], item["id"])


def named(*pairs: str) -> Sorted[dict[str, Any]]:
    return Sorted([{"name": p[0], "id": p} for p in pairs], key=by_name)


# -- page_list -----------------------------------------------------------------------------


def test_page_list_resumes_strictly_after_the_last_item_served() -> None:
    first, cursor = page_list(named("b1", "c1", "d1"), 2, None, "s")
    assert [i["id"] for i in first] == ["b1", "c1"]
    second, after = page_list(named("a1", "b1", "c1", "d1"), 2, cursor, "s")
    assert ([i["id"] for i in second], after) == (["d1"], None)


def test_page_list_skips_nothing_when_the_last_item_served_is_gone() -> None:
    _, cursor = page_list(named("b1", "c1", "d1", "e1"), 2, None, "s")
    second, _ = page_list(named("b1", "d1", "e1"), 2, cursor, "s")
    assert [i["id"] for i in second] == ["d1", "e1"]


def test_page_list_orders_equal_names_by_id() -> None:
    items = named("a2", "a1", "a3")
    served, cursor = [], None
    while True:
        page, cursor = page_list(items, 1, cursor, "s")
        served += [i["id"] for i in page]
        if cursor is None:
            break
    assert served == ["a1", "a2", "a3"]


def test_page_list_takes_numbers_in_its_keys() -> None:
    items = Sorted(
        [{"d": d, "id": f"r{d}"} for d in (2.5, 0.0, 1)], key=lambda i: (i["d"], i["id"])
    )
    _, cursor = page_list(items, 2, None, "s")
    assert [i["id"] for i in page_list(items, 2, cursor, "s")[0]] == ["r2.5"]


def test_page_list_needs_a_sort_key() -> None:
    with pytest.raises(TypeError):
        page_list([1, 2], 1, None, "s")


@pytest.mark.parametrize(
    "position",
    [
        {"o": 1},
        {"k": []},
        {"k": ["b"]},
        {"k": [1, "b1"]},
        {"k": ["b", 1]},
        {"k": ["b", None]},
        {"k": ["b", True]},
        {"k": "b1"},
    ],
)
def test_page_list_refuses_a_key_unlike_its_own(position: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        page_list(named("b1", "c1"), 1, encode_cursor(position, "s"), "s")
    assert [e["field"] for e in refused.value.errors] == ["cursor"]


def test_page_list_refuses_a_cursor_of_another_listing() -> None:
    _, cursor = page_list(named("b1", "c1"), 1, None, "relays")
    with pytest.raises(ValidationFailed):
        page_list(named("b1", "c1"), 1, cursor, "operators")


# -- chain_pages ---------------------------------------------------------------------------


def source(items: list[str]) -> Page:
    def page(limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
        start = int(cursor or 0)
        end = start + limit
        return items[start:end], (str(end) if end < len(items) else None)

    return page


def read_all(sources: dict[str, list[str]], limit: int, cursor: str | None = None) -> list[str]:
    served: list[str] = []
    while True:
        items, cursor = chain_pages({k: source(v) for k, v in sources.items()}, limit, cursor)
        served += items
        if cursor is None:
            return served


def test_chained_sources_are_read_in_the_order_of_their_ids() -> None:
    sources = {"r3": ["c1", "c2"], "r1": ["a1"], "r2": ["b1", "b2", "b3"]}
    assert read_all(sources, 2) == ["a1", "b1", "b2", "b3", "c1", "c2"]


@pytest.mark.parametrize("added", ["r0", "r2", "r9"])
def test_a_chain_cursor_survives_a_source_added(added: str) -> None:
    sources = {"r1": ["a1", "a2", "a3"], "r5": ["e1", "e2"]}
    first, cursor = chain_pages({k: source(v) for k, v in sources.items()}, 2, None)
    assert first == ["a1", "a2"]
    rest = read_all({**sources, added: ["new"]}, 2, cursor)
    assert rest == {"r0": ["a3", "e1", "e2"], "r2": ["a3", "new", "e1", "e2"]}.get(
        added, ["a3", "e1", "e2", "new"]
    )


def test_a_chain_cursor_goes_on_with_the_next_source_when_its_own_is_gone() -> None:
    sources = {"r1": ["a1", "a2", "a3"], "r2": ["b1"], "r5": ["e1"]}
    _, cursor = chain_pages({k: source(v) for k, v in sources.items()}, 2, None)
    assert read_all({"r2": ["b1"], "r5": ["e1"]}, 2, cursor) == ["b1", "e1"]


def test_a_chain_cursor_at_a_source_boundary_starts_that_source() -> None:
    sources = {"r1": ["a1", "a2"], "r2": ["b1"]}
    first, cursor = chain_pages({k: source(v) for k, v in sources.items()}, 2, None)
    assert first == ["a1", "a2"] and cursor
    assert read_all({"r0": ["z"], **sources}, 2, cursor) == ["b1"]


@pytest.mark.parametrize(
    "position",
    [
        {"i": 0, "c": None},
        {"k": "", "c": None},
        {"k": 3, "c": None},
        {"k": "r1", "c": 2},
        {"k": "r1", "c": ""},
    ],
)
def test_a_tampered_chain_cursor_is_refused(position: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        chain_pages({"r1": source(["a"])}, 1, encode_cursor(position, "chain:by-id"))
    assert [e["field"] for e in refused.value.errors] == ["cursor"]


def test_a_fixed_list_of_sources_still_pages_by_position() -> None:
    pages = [source(["m1", "m2"]), source(["n1"])]
    first, cursor = chain_pages(pages, 2, None, "audit")
    assert chain_pages(pages, 2, cursor, "audit") == (["n1"], None) and first == ["m1", "m2"]


@pytest.mark.parametrize("after", [{}, {"r3": []}, {"r3": [], "r4": []}])
def test_a_page_ending_with_the_last_items_has_no_cursor_whatever_empty_sources_follow(
    after: dict[str, list[str]],
) -> None:
    sources = {"r1": ["a1"], "r2": ["b1"], **after}
    assert chain_pages({k: source(v) for k, v in sources.items()}, 2, None) == (["a1", "b1"], None)
    months = [source(["m1", "m2"]), *(source([]) for _ in after)]
    assert chain_pages(months, 2, None, "audit") == (["m1", "m2"], None)


def test_a_page_ending_at_a_source_boundary_resumes_at_the_next_source_with_items() -> None:
    sources = {"r1": ["a1", "a2"], "r2": [], "r3": ["c1"]}
    first, cursor = chain_pages({k: source(v) for k, v in sources.items()}, 2, None)
    assert first == ["a1", "a2"] and cursor is not None
    assert read_all(sources, 2, cursor) == ["c1"]


# -- decode_key_cursor ---------------------------------------------------------------------

TABLE_QUERY = {"ExpressionAttributeValues": {":pk": "RELAY#r"}}
INDEX_QUERY = {"IndexName": "GSI1", "ExpressionAttributeValues": {":pk": "MEMBER#m"}}
INDEX_KEY = {"PK": "BOOKING#b", "SK": "BOOKING", "GSI1PK": "MEMBER#m", "GSI1SK": "2026-12-02#b"}


def test_a_start_key_holds_the_table_and_index_keys_of_its_query() -> None:
    cursor = encode_cursor(INDEX_KEY, "s")
    assert decode_key_cursor(cursor, "s", INDEX_QUERY) == INDEX_KEY
    table_key = {"PK": "RELAY#r", "SK": "CLOSURE#2026-12-02"}
    assert decode_key_cursor(encode_cursor(table_key, "s"), "s", TABLE_QUERY) == table_key
    assert decode_key_cursor(None, "s", TABLE_QUERY) is None


@pytest.mark.parametrize(
    "key, query",
    [
        ({"PK": "BOOKING#x"}, INDEX_QUERY),
        ({"PK": "BOOKING#b", "SK": "BOOKING"}, INDEX_QUERY),
        ({**INDEX_KEY, "GSI2PK": "RELAY#r"}, INDEX_QUERY),
        ({**INDEX_KEY, "SK": ""}, INDEX_QUERY),
        ({**INDEX_KEY, "SK": 3}, INDEX_QUERY),
        ({**INDEX_KEY, "GSI1PK": "MEMBER#other"}, INDEX_QUERY),
        (INDEX_KEY, TABLE_QUERY),
        ({"PK": "RELAY#other", "SK": "X"}, TABLE_QUERY),
        ({}, TABLE_QUERY),
    ],
)
def test_a_start_key_other_than_the_querys_own_is_refused(
    key: dict[str, Any], query: dict[str, Any]
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        decode_key_cursor(encode_cursor(key, "s"), "s", query)
    assert [e["field"] for e in refused.value.errors] == ["cursor"]
