"""Fixed-window request counters: one item per caller and window, counted with one
conditional update, so concurrent requests can never push a window past its limit.

DynamoDB's TTL removes a window's item a while after the window ends (it deletes
late, but an ended window is never read again: the next window is another item).
"""

from __future__ import annotations

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table

# Keep a window's item this long after it ends (TTL deletes within days anyway).
EXPIRY_GRACE_SECONDS = 3600


class RateLimitStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def hit(self, scope: str, window_start: int, window_seconds: int, limit: int) -> bool:
        """Count one request of `scope` in the window starting at `window_start` (epoch
        seconds); False, counting nothing, when the window already holds `limit`."""
        try:
            self._table.table.update_item(
                Key=keys.rate_window(scope, window_start),
                UpdateExpression="ADD hits :one SET #ttl = if_not_exists(#ttl, :ttl)",
                ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":one": 1,
                    ":limit": limit,
                    ":ttl": window_start + window_seconds + EXPIRY_GRACE_SECONDS,
                },
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True
