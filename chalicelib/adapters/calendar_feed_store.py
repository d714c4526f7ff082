"""Members' secret calendar-feed tokens. Two items keep one: `CALFEED#{token}`/`CALFEED` →
the member (what the public feed URL reads) and `MEMBER#{sub}`/`CALFEED` → the token (so
the member gets the same URL back until they rotate it). Both are written, moved and
deleted together, in one transaction conditioned on the member's current token."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table


class FeedMoved(Exception):
    """The member's token is no longer the one expected: read it again."""


class CalendarFeedStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def member_of(self, token: str) -> str | None:
        item = self._table.get_key(keys.feed_token(token))
        return str(item["member_id"]) if item else None

    def token_of(self, member_id: str) -> str | None:
        item = self._table.get_key(keys.member_feed(member_id))
        return str(item["token"]) if item else None

    def move(self, member_id: str, *, old: str | None, new: str | None, at: str) -> None:
        """Move the member's token from `old` to `new` (None: none), on condition that it
        still is `old`; FeedMoved if it is not. `at` is the UTC time written."""
        table = self._table.name
        items: list[dict[str, Any]] = []
        if new is not None:
            mine = {**keys.member_feed(member_id), "token": new, "created_at": at}
            items.append({"Put": {"TableName": table, "Item": mine, **_expect_token(old)}})
            token_item = {
                **keys.feed_token(new),
                "entity": "calendar_feed",
                "member_id": member_id,
                "created_at": at,
            }
            items.append(
                {
                    "Put": {
                        "TableName": table,
                        "Item": token_item,
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
        else:
            delete = {"TableName": table, "Key": keys.member_feed(member_id)}
            items.append({"Delete": {**delete, **_expect_token(old)}})
        if old is not None:
            items.append({"Delete": {"TableName": table, "Key": keys.feed_token(old)}})

        def moved(reasons: list[str]) -> None:
            raise FeedMoved()

        self._table.transact(items, on_cancel=moved)


def _expect_token(old: str | None) -> dict[str, Any]:
    if old is None:
        return {"ConditionExpression": "attribute_not_exists(PK)"}
    return {
        "ConditionExpression": "#token = :old",
        "ExpressionAttributeNames": {"#token": "token"},
        "ExpressionAttributeValues": {":old": old},
    }
