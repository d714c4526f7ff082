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


def test_a_maps_values_keep_or_change_their_type_as_alone() -> None:
    value = {"s": "x", "k": Kind.hot_desk, "l": Level.high, "t": True, "f": False, "z": 0,
             "d": Decimal("2.5"), "r": 0.5, "day": date(2026, 12, 2)}  # fmt: skip

    item = to_item(value)

    assert item == {k: to_item(v) for k, v in value.items()}
    assert [type(v) for v in item.values()] == [str, str, int, bool, bool, int, Decimal,
                                                Decimal, str]  # fmt: skip


def test_index_instants_are_utc_to_the_second_with_a_z() -> None:
    from datetime import timedelta, timezone

    from chalicelib.adapters.booking_items import utc_z

    paris = timezone(timedelta(hours=1))
    moments = [
        datetime(2026, 12, 2, 8, 0, tzinfo=paris),
        datetime(2026, 12, 2, 7, 0, 59, 999_999, tzinfo=UTC),  # microseconds dropped
        datetime(2027, 1, 1, 0, 30, tzinfo=paris),  # the day before in UTC
    ]
    assert [utc_z(m) for m in moments] == [
        "2026-12-02T07:00:00Z",
        "2026-12-02T07:00:59Z",
        "2026-12-31T23:30:00Z",
    ]
    assert all(utc_z(m) == m.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for m in moments)


def test_instants_and_days_are_written_as_isoformat_writes_them() -> None:
    import random
    from datetime import timedelta, timezone
    from zoneinfo import ZoneInfo

    from chalicelib.adapters.dynamo import iso_text

    draw = random.Random(7)
    zones = [UTC, ZoneInfo("Europe/Paris"), timezone(timedelta(hours=-3, minutes=-30)), None]
    for _ in range(2000):
        moment = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=draw.randrange(10**9))
        moment = moment.replace(microsecond=draw.choice([0, draw.randrange(10**6)]))
        zone = draw.choice(zones)
        local = moment.astimezone(zone) if zone else moment.replace(tzinfo=None)
        assert iso_text(local) == local.isoformat()
        assert iso_text(local.date()) == local.date().isoformat()
        assert to_item(local) == local.isoformat()
    assert iso_text(date(999, 1, 2)) == "0999-01-02"
