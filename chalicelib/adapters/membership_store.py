"""Memberships in the table, the "due for a charge" index, and the period's day counter.

Item: `PK=MEMBER#{sub}`, `SK=MEMBERSHIP#{id}` (a member's state is one Query), with
`GSI1PK=MEMBERSHIP#{id}` to find one by id alone (admins cancelling), and, while a charge
is due, `GSI2PK=MEMBERSHIPS_DUE`, `GSI2SK={due instant, UTC}#{id}`: the renewal job
finds what is due with one Query, never a Scan.

State changes are compare-and-swap on `version`. `days_used` is not part of them: it
is the period's counter, kept by the booking and release transactions (`booking_item`,
`release_item`), and only a period change resets it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item
from chalicelib.domain.membership import Membership, MembershipStatus
from chalicelib.errors import ConcurrentUpdate

CAS_ATTEMPTS = 10
# Not state: the counter (see the module doc) and the keys.
_NOT_SAVED = frozenset({"days_used", "version", "id", "member_id"})


class MembershipChanged(Exception):
    """Someone else saved the membership since it was read: read it again."""


def instant(moment: datetime) -> str:
    """How instants are stored (UTC ISO 8601), so conditions can compare them as text."""
    return moment.astimezone(UTC).isoformat()


class MembershipStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- reads ---------------------------------------------------------------
    def get(self, member_id: str, membership_id: str) -> Membership | None:
        item = self._table.get_key(keys.membership(member_id, membership_id))
        return Membership.model_validate(strip_keys(item)) if item else None

    def find(self, membership_id: str) -> Membership | None:
        """A membership by id alone (one GSI1 Query, then a consistent read)."""
        response = self._table.table.query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": keys.membership_sk(membership_id)},
            Limit=1,
        )
        items = response.get("Items", [])
        return self.get(items[0]["member_id"], membership_id) if items else None

    def of_member(self, member_id: str) -> list[Membership]:
        items = self._table.query_all(**self._member_query(member_id), ConsistentRead=True)
        return [Membership.model_validate(strip_keys(i)) for i in items]

    def page_of_member(
        self, member_id: str, limit: int, cursor: str | None
    ) -> tuple[list[Membership], str | None]:
        items, next_cursor = self._table.query_page(limit, cursor, **self._member_query(member_id))
        return [Membership.model_validate(strip_keys(i)) for i in items], next_cursor

    def due(self, now: datetime) -> list[tuple[str, str]]:
        """(member, membership) of every membership due for a charge at `now`, oldest first."""
        items = self._table.query_all(
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk AND GSI2SK <= :now",
            ExpressionAttributeValues={":pk": keys.MEMBERSHIPS_DUE_PK, ":now": f"{instant(now)}~"},
        )
        return [(i["member_id"], i["id"]) for i in items]

    # -- writes --------------------------------------------------------------
    def add(self, membership: Membership) -> Membership:
        """Record a new membership; the same id again answers the one recorded first."""
        item = {
            **self._key(membership),
            "entity": "membership",
            "GSI1PK": keys.membership_sk(membership.id),
            "GSI1SK": keys.MEMBERSHIP_GSI1SK,
            **to_item(membership.model_dump()),
        }
        try:
            self._table.table.put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
            return membership
        except self._table.exceptions.ConditionalCheckFailedException:
            existing = self.get(membership.member_id, membership.id)
            assert existing is not None
            return existing

    def save(self, old: Membership, new: Membership) -> Membership:
        """Write `new` over `old` if nobody saved in between (else `MembershipChanged`)."""
        fields = {k: v for k, v in new.model_dump().items() if k not in _NOT_SAVED}
        if new.period != old.period:
            fields["days_used"] = new.days_used  # a new period starts its count afresh
        due = new.due_at
        fields["GSI2PK"] = keys.MEMBERSHIPS_DUE_PK if due else None
        fields["GSI2SK"] = keys.membership_due_sk(instant(due), new.id) if due else None
        stored = to_item(fields)
        removed = [k for k in fields if k not in stored]
        names = {f"#{k}": k for k in fields}
        values = {f":{k}": v for k, v in stored.items()}
        values |= {":version": old.version, ":next": old.version + 1}
        expression = "SET " + ", ".join([f"#{k} = :{k}" for k in stored] + ["#version = :next"])
        if removed:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removed)
        names["#version"] = "version"
        try:
            self._table.table.update_item(
                Key=self._key(old),
                UpdateExpression=expression,
                ConditionExpression="#version = :version",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._table.exceptions.ConditionalCheckFailedException as exc:
            raise MembershipChanged(old.id) from exc
        return new.model_copy(update={"version": old.version + 1})

    def update(
        self, member_id: str, membership_id: str, change: Callable[[Membership], Membership]
    ) -> tuple[Membership, bool] | None:
        """Apply `change` to the membership as it is now, retrying on concurrent saves;
        answers (the membership after, whether this call wrote it), None if unknown."""
        for attempt in range(CAS_ATTEMPTS):
            current = self.get(member_id, membership_id)
            if current is None:
                return None
            new = change(current)
            if new == current:
                return current, False
            try:
                return self.save(current, new), True
            except MembershipChanged:
                time.sleep(min(0.2, 0.005 * 2**attempt) * random.random())
        raise ConcurrentUpdate("The membership keeps changing; please retry.")

    # -- the day counter, inside booking transactions --------------------------
    def booking_item(
        self, membership: Membership, days: Decimal, start: datetime
    ) -> dict[str, Any]:
        """Count `days` against the current period, on condition that the membership is
        active, the booking starts before the period ends and the days are there.
        (A past_due member has not paid the period being collected: no booking.)
        DynamoDB conditions have no arithmetic, hence `days_used <= limit - n`."""
        conditions = ["#status = :active", "current_period_end > :start"]
        values: dict[str, Any] = {
            ":active": MembershipStatus.active.value,
            ":start": instant(start),
            ":n": days,
        }
        if membership.days_per_period is not None:
            conditions.append("days_used <= :ceiling")
            values[":ceiling"] = membership.days_per_period - days
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": self._key(membership),
                "UpdateExpression": "ADD days_used :n",
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": values,
            }
        }

    def release_item(
        self, membership: Membership, days: Decimal, start: datetime
    ) -> dict[str, Any] | None:
        """Give `days` back to the period the booking was counted in, if it is still the
        current one (a booking of a past period restores nothing); the condition makes a
        period change in between fail the release, which is then read again."""
        period_start, period_end = membership.current_period_start, membership.current_period_end
        if period_start is None or period_end is None or not period_start <= start < period_end:
            return None
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": self._key(membership),
                "UpdateExpression": "ADD days_used :minus",
                "ConditionExpression": "current_period_start = :period_start",
                "ExpressionAttributeValues": {
                    ":minus": -days,
                    ":period_start": instant(period_start),
                },
            }
        }

    # -- shapes ----------------------------------------------------------------
    def _key(self, membership: Membership) -> dict[str, str]:
        return keys.membership(membership.member_id, membership.id)

    def _member_query(self, member_id: str) -> dict[str, Any]:
        return {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": keys.member_pk(member_id),
                ":prefix": keys.MEMBERSHIP_SK_PREFIX,
            },
        }
