"""Idempotency records: one item per caller and key, claimed with a conditional put.

A record is `in_progress` while its request runs (a crashed run's claim lapses
after `CLAIM_SECONDS`), then `completed` with the answer to replay. DynamoDB's
TTL deletes records a day later.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table

CLAIM_SECONDS = 60


@dataclass(frozen=True)
class IdempotencyRecord:
    request_hash: str
    status: str  # "in_progress" | "completed"
    response_status: int | None = None
    response_body: Any = None


class IdempotencyStore:
    def __init__(self, table: Table, ttl_seconds: int) -> None:
        self._table = table
        self._ttl_seconds = ttl_seconds

    def claim(
        self, scope: str, key: str, request_hash: str, now: float, claim_id: str = ""
    ) -> IdempotencyRecord | None:
        """Claim the key for this request; None if claimed, else the existing record."""
        try:
            self._table.table.put_item(
                Item={
                    **self._key(scope, key),
                    "request_hash": request_hash,
                    "status": "in_progress",
                    "claim_id": claim_id or "-",
                    "claim_until": int(now) + CLAIM_SECONDS,
                    "ttl": int(now) + self._ttl_seconds,
                },
                ConditionExpression="attribute_not_exists(PK) OR "
                "(#status = :in_progress AND claim_until < :now) OR #ttl < :now",
                ExpressionAttributeNames={"#status": "status", "#ttl": "ttl"},
                ExpressionAttributeValues={":in_progress": "in_progress", ":now": int(now)},
            )
            return None
        except self._table.exceptions.ConditionalCheckFailedException:
            existing = self.get(scope, key)
            if existing is None:  # released between our put and our read: try again
                return self.claim(scope, key, request_hash, now, claim_id)
            return existing

    def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        keys = self._key(scope, key)
        item = self._table.get(keys["PK"], keys["SK"])
        if item is None:
            return None
        body = item.get("response_body")
        return IdempotencyRecord(
            request_hash=item["request_hash"],
            status=item["status"],
            response_status=int(item["response_status"]) if "response_status" in item else None,
            response_body=json.loads(body) if body is not None else None,
        )

    def complete(self, scope: str, key: str, status: int, body: Any) -> None:
        self._table.table.update_item(
            Key=self._key(scope, key),
            UpdateExpression="SET #status = :done, response_status = :code, response_body = :body",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":done": "completed",
                ":code": status,
                ":body": json.dumps(body, separators=(",", ":")),
            },
        )

    def release(self, scope: str, key: str, claim_id: str = "") -> None:
        """Give the key back after a failed attempt, so the caller can retry with it —
        only our own claim: one that lapsed and was taken over is not ours to drop."""
        with contextlib.suppress(self._table.exceptions.ConditionalCheckFailedException):
            self._table.table.delete_item(
                Key=self._key(scope, key),
                ConditionExpression="#status = :in_progress AND claim_id = :mine",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":in_progress": "in_progress", ":mine": claim_id or "-"},
            )

    @staticmethod
    def _key(scope: str, key: str) -> dict[str, str]:
        return keys.idempotency(scope, key)
