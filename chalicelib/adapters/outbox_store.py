"""The mail outbox: each mail claimed once by its key, every attempt journaled by day.

Three kinds of items:

- the claim ``PK=MAIL#{message_key}``/``SK=MAIL`` — put with ``attribute_not_exists``
  *before* the mail is sent, so a retried flow (a webhook delivered twice, a job run
  twice) finds it and sends nothing. It carries the mail itself until it is sent or given
  up (then the body is dropped, and a member's address: the member is named by id) — an
  attachment that can be made again (a document's PDF) only by its ``source``, so that
  no claim nears the 400 KB of an item — its
  ``status`` (``sending`` → ``sent``, or ``failed`` → retried,
  or ``abandoned``), ``attempts``, ``message_id``, ``last_error``;
- the journal ``PK=OUTBOX#{yyyy-mm-dd}``/``SK={at}#{message_key}`` (UTC day and instant of
  the attempt): one item per attempt, ``status`` ``sent`` / ``failed`` / ``abandoned`` —
  what went out, or did not, on a day, in one Query (``error``: a mail that could not be
  built or claimed, never sent nor retried); to whom: ``member_id`` for a member
  (never the address, which erasure could not reach here), ``to`` for anyone else;
- the retry marker ``PK=OUTBOX_RETRY``/``SK={message_key}`` with ``due_at`` — written with
  the claim, so even a crash between sending and recording leaves it to the retry job
  (at-least-once then; exactly once otherwise); moved on failure, deleted once sent or
  given up.

Every result is recorded on condition that the claim is still at the same attempt, so
two senders never both record. Items expire (``ttl``) after `KEEP`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item

LEASE = timedelta(minutes=5)  # an attempt in flight; after that the retry job may take over
KEEP = timedelta(days=180)
BODY_ATTRIBUTES = ("text", "html", "attachments")


class _Taken(Exception):
    pass


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OutboxStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- reads ------------------------------------------------------------------------------
    def get(self, message_key: str) -> dict[str, Any] | None:
        item = self._table.get_key(keys.mail(message_key))
        return strip_keys(item) if item else None

    def journal(self, day: str) -> list[dict[str, Any]]:
        """Every attempt of a UTC day (`yyyy-mm-dd`), in order."""
        return [
            strip_keys(item)
            for item in self._table.query_all(
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": keys.outbox_pk(day)},
            )
        ]

    def due(self, now: datetime, limit: int = 100) -> list[str]:
        """Keys of the mails to try again at `now` (failed, or stuck past their lease)."""
        found: list[str] = []
        for item in self._table.query_all(
            KeyConditionExpression="PK = :pk",
            FilterExpression="due_at <= :now",
            ExpressionAttributeValues={":pk": keys.OUTBOX_RETRY_PK, ":now": utc_text(now)},
            ConsistentRead=True,
        ):
            found.append(str(item["SK"]))
            if len(found) >= limit:
                break
        return found

    # -- claims -----------------------------------------------------------------------------
    def claim(
        self, message_key: str, record: dict[str, Any], now: datetime
    ) -> dict[str, Any] | None:
        """Claim the mail `message_key` for a first attempt; None if it was claimed before.

        Answers the claim as stored (`attempts` = 1)."""
        lease = utc_text(now + LEASE)
        item = {
            **to_item(record),
            "message_key": message_key,
            "entity": "mail",
            "status": "sending",
            "attempts": 1,
            "lease_until": lease,
            "created_at": utc_text(now),
            "ttl": _ttl(now),
        }
        items = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": {**keys.mail(message_key), **item},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": {**keys.outbox_retry(message_key), "due_at": lease, "ttl": _ttl(now)},
                }
            },
        ]

        def taken(reasons: list[str]) -> None:
            raise _Taken()

        try:
            self._table.transact(items, on_cancel=taken)
        except _Taken:
            return None
        return item

    def reclaim(self, message_key: str, now: datetime) -> dict[str, Any] | None:
        """Take a failed (or stuck) mail for another attempt; None if it is not one now."""
        lease = utc_text(now + LEASE)
        try:
            response = self._table.table.update_item(
                Key=keys.mail(message_key),
                UpdateExpression="SET #status = :sending, lease_until = :lease ADD attempts :one",
                ConditionExpression="attribute_exists(PK) AND (#status = :failed OR "
                "(#status = :sending AND lease_until < :now))",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":sending": "sending",
                    ":failed": "failed",
                    ":lease": lease,
                    ":now": utc_text(now),
                    ":one": 1,
                },
                ReturnValues="ALL_NEW",
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return None
        self._table.table.put_item(
            Item={**keys.outbox_retry(message_key), "due_at": lease, "ttl": _ttl(now)}
        )
        return strip_keys(response["Attributes"])

    # -- results ----------------------------------------------------------------------------
    def record_sent(self, claim: dict[str, Any], message_id: str, now: datetime) -> bool:
        """The attempt `claim` went out: the claim is `sent` (its body dropped), the day's
        journal says so, the retry marker goes. False if another attempt took over."""
        return self._record(
            claim,
            now,
            status="sent",
            journal={"message_id": message_id},
            claim_set={"message_id": message_id, "sent_at": utc_text(now)},
            retry_at=None,
            drop_body=True,
        )

    def record_failed(
        self, claim: dict[str, Any], error: str, now: datetime, retry_at: datetime | None
    ) -> bool:
        """The attempt failed: retried from `retry_at`, or given up (`abandoned`) if None."""
        return self._record(
            claim,
            now,
            status="failed" if retry_at else "abandoned",
            journal={"error": error[:1000]},
            claim_set={"last_error": error[:1000], "failed_at": utc_text(now)},
            retry_at=retry_at,
            drop_body=retry_at is None,
        )

    def abandon(self, claim: dict[str, Any], reason: str, now: datetime) -> bool:
        """Give a failed mail up without trying again (stale, obsolete, no recipient)."""
        return self._record(
            claim,
            now,
            status="abandoned",
            journal={"error": reason},
            claim_set={"last_error": reason},
            retry_at=None,
            drop_body=True,
            expected_status=None,
        )

    def record_error(self, message_key: str, kind: str, error: str, now: datetime) -> None:
        """Journal a mail that could not be built or claimed (nothing else is written: a
        later flow may still claim its key)."""
        at = utc_text(now)
        entry = {
            "PK": keys.outbox_pk(at[:10]),
            "SK": keys.outbox_sk(at, message_key),
            "entity": "outbox",
            "message_key": message_key,
            "kind": kind,
            "status": "error",
            "error": error[:1000],
            "at": at,
            "ttl": _ttl(now),
        }
        self._table.table.put_item(Item=to_item(entry))

    def forget_retry(self, message_key: str) -> None:
        """Drop a stale retry marker (its mail was sent or given up meanwhile)."""
        self._table.table.delete_item(Key=keys.outbox_retry(message_key))

    def _record(
        self,
        claim: dict[str, Any],
        now: datetime,
        *,
        status: str,
        journal: dict[str, Any],
        claim_set: dict[str, Any],
        retry_at: datetime | None,
        drop_body: bool,
        expected_status: str | None = "sending",
    ) -> bool:
        key = str(claim["message_key"])
        attempt = int(claim["attempts"])
        at = utc_text(now)
        values: dict[str, Any] = {f":{k}": v for k, v in to_item(claim_set).items()}
        values.update({":status": status, ":attempt": attempt})
        removed = ["lease_until", *(BODY_ATTRIBUTES if drop_body else ())]
        member_id = claim.get("member_id")
        if drop_body and member_id:  # done with it: a member's address is not kept
            removed.append("to")
        names = {f"#{k}": k for k in [*claim_set, *removed, "status", "attempts"]}
        update = "SET #status = :status, " + ", ".join(f"#{k} = :{k}" for k in claim_set)
        update += " REMOVE " + ", ".join(f"#{k}" for k in removed)
        condition = "#attempts = :attempt"
        if expected_status:
            condition += " AND #status = :expected"
            values[":expected"] = expected_status
        else:
            condition += " AND #status <> :sent"
            values[":sent"] = "sent"
        entry = {
            "PK": keys.outbox_pk(at[:10]),
            "SK": keys.outbox_sk(at, key),
            "entity": "outbox",
            "message_key": key,
            "kind": claim.get("kind"),
            # A member is named by id (erasure anonymises the profile it points to), other
            # recipients (an operator's books address) by address.
            **({"member_id": member_id} if member_id else {"to": claim.get("to")}),
            "subject": claim.get("subject"),
            "status": status,
            "attempt": attempt,
            "at": at,
            "ttl": _ttl(now),
            **to_item(journal),
        }
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": keys.mail(key),
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            {"Put": {"TableName": self._table.name, "Item": to_item(entry)}},
        ]
        if retry_at is None:
            items.append({"Delete": {"TableName": self._table.name, "Key": keys.outbox_retry(key)}})
        else:
            marker = {**keys.outbox_retry(key), "due_at": utc_text(retry_at), "ttl": _ttl(now)}
            items.append({"Put": {"TableName": self._table.name, "Item": marker}})

        def lost(reasons: list[str]) -> None:
            raise _Taken()

        try:
            self._table.transact(items, on_cancel=lost)
        except _Taken:
            return False
        return True


def _ttl(now: datetime) -> int:
    return int((now + KEEP).timestamp())
