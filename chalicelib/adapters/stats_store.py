"""What occupancy statistics read: a relay's bookings by date, through GSI2.

GSI2 holds every booking under `RELAY#{relay}` sorted by `{date}#…` (the manager's day
view), so the bookings of a relay over a period are one Query, never a Scan.
"""

from __future__ import annotations

from collections.abc import Iterator

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys
from chalicelib.domain.booking import Booking


class StatsStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def relay_bookings(self, relay_id: str, low: str, high: str) -> Iterator[Booking]:
        return relay_bookings(self._table, relay_id, low, high)

    def closed_days(self, relay_id: str, low: str, high: str) -> set[str]:
        return closed_days(self._table, relay_id, low, high)


def relay_bookings(table: Table, relay_id: str, low: str, high: str) -> Iterator[Booking]:
    """Every booking of the relay dated from `low` to `high` (inclusive ISO dates)."""
    for item in table.query_all(
        IndexName="GSI2",
        KeyConditionExpression="GSI2PK = :pk AND GSI2SK BETWEEN :low AND :high",
        ExpressionAttributeValues={
            ":pk": keys.relay_pk(relay_id),
            ":low": low,
            ":high": f"{high}~",
        },
    ):
        yield Booking.model_validate(strip_keys(item))


def closed_days(table: Table, relay_id: str, low: str, high: str) -> set[str]:
    """The dates the relay is closed, from `low` to `high`: one Query on its partition."""
    items = table.query_all(
        KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
        ExpressionAttributeValues={
            ":pk": keys.relay_pk(relay_id),
            ":low": keys.closure_sk(low),
            ":high": keys.closure_sk(high),
        },
        ProjectionExpression="SK",
    )
    return {item["SK"].removeprefix(keys.closure_sk("")) for item in items}
