"""What DynamoDB is given for Python values (`adapters.dynamo.to_item`)."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal

from chalicelib.adapters.dynamo import to_item


class Kind(enum.StrEnum):
    hot_desk = "hot_desk"


class Level(enum.IntEnum):
    high = 3


def test_plain_values_are_stored_as_they_are() -> None:
    assert [to_item(v) for v in ("a", "", 0, 7, True, False, None, Decimal("1.5"))] == [
        "a",
        "",
        0,
        7,
        True,
        False,
        None,
        Decimal("1.5"),
    ]


def test_floats_dates_and_enums_become_what_dynamodb_stores() -> None:
    assert to_item(1.25) == Decimal("1.25")
    assert to_item(date(2026, 12, 2)) == "2026-12-02"
    assert to_item(datetime(2026, 12, 2, 7, tzinfo=UTC)) == "2026-12-02T07:00:00+00:00"
    assert to_item(Kind.hot_desk) == "hot_desk"
    assert type(to_item(Kind.hot_desk)) is str  # the value, not the member
    assert to_item(Level.high) == 3 and type(to_item(Level.high)) is int


def test_maps_drop_empty_attributes_lists_and_tuples_become_lists() -> None:
    value = {"a": None, "b": "", "c": [1.5, (Kind.hot_desk, {"d": None, "e": 0})], "f": {}}

    assert to_item(value) == {"c": [Decimal("1.5"), ["hot_desk", {"e": 0}]], "f": {}}
