"""A member's invoice list filtered by operator fills its pages (services/accounting.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.services.accounting import _member_page

DOCS = [{"id": f"d{n}", "operator_id": "op_a" if n % 3 == 0 else "op_b"} for n in range(12)]


def fake_page(*, limit: int, cursor: str | None, **_: Any) -> tuple[list[dict[str, Any]], Any]:
    start = int(cursor or 0)
    end = start + limit
    return DOCS[start:end], (str(end) if end < len(DOCS) else None)


def read_all(operator_id: str | None, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        items, cursor = _member_page(fake_page, "m", operator_id, ("0", "9"), None, limit, cursor)
        pages.append([d["id"] for d in items])
        if cursor is None:
            return pages


def test_a_filtered_page_is_full_while_more_documents_exist() -> None:
    items, cursor = _member_page(fake_page, "m", "op_a", ("0", "9"), None, 2, None)
    assert ([d["id"] for d in items], cursor is not None) == (["d0", "d3"], True)


def test_paging_a_filtered_list_yields_each_document_once() -> None:
    pages = read_all("op_a", 2)
    assert [doc for page in pages for doc in page] == ["d0", "d3", "d6", "d9"]


def test_unfiltered_pages_are_the_store_pages() -> None:
    assert read_all(None, 5) == [
        ["d0", "d1", "d2", "d3", "d4"],
        ["d5", "d6", "d7", "d8", "d9"],
        ["d10", "d11"],
    ]
