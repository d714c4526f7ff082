"""Closures of a relay: `RELAY#{relay}` / `CLOSURE#{date}` (the record, versioned) and the
marker `OCC#{relay}#{date}` / `CLOSURE` that every booking transaction checks.

Listing is one Query on the relay's partition, by date; lifting a closure deletes the
record (on its version) and the marker in one transaction with its audit entry. Its count
of cancelled bookings is added to by each sweep (`add_cancelled`), never overwritten.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys
from chalicelib.adapters.keys import CLOSURE_MARKER_SK, occupancy_pk
from chalicelib.adapters.versioned_store import VersionedStore, closure_key
from chalicelib.domain.catalogue import Closure


class ClosureStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, relay_id: str, day: str) -> Closure | None:
        item = self._table.get_key(closure_key(relay_id, day))
        return Closure.model_validate(strip_keys(item)) if item else None

    def page(
        self, relay_id: str, span: tuple[str, str], limit: int, cursor: str | None
    ) -> tuple[list[Closure], str | None]:
        items, next_cursor = self._table.query_page(
            limit,
            cursor,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": keys.relay_pk(relay_id),
                ":low": keys.closure_sk(span[0]),
                ":high": keys.closure_sk(span[1]),
            },
        )
        return [Closure.model_validate(strip_keys(i)) for i in items], next_cursor

    def add_cancelled(self, relay_id: str, day: str, cancelled: int) -> Closure | None:
        """Add the bookings a sweep cancelled to the closure's count, and answer the closure
        as it now stands (None: lifted meanwhile, left so). Added, not set: two requests
        sweeping one day at once each count the bookings they cancelled themselves."""
        try:
            answer = self._table.table.update_item(
                Key=closure_key(relay_id, day),
                UpdateExpression="ADD cancelled_bookings :n",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":n": cancelled},
                ReturnValues="ALL_NEW",
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return None
        return Closure.model_validate(strip_keys(answer["Attributes"]))

    def lift(self, closure: Closure, expected: int, audit_item: dict[str, Any]) -> None:
        """Re-open the day: record and marker go, on condition of the record's version."""
        day = closure.date.isoformat()
        marker = {
            "Delete": {
                "TableName": self._table.name,
                "Key": {"PK": occupancy_pk(closure.relay_id, day), "SK": CLOSURE_MARKER_SK},
            }
        }
        VersionedStore(self._table).delete(
            closure_key(closure.relay_id, day), expected, [marker, audit_item]
        )
