"""Stripe balance transactions, payouts and the reconcile job's cursors in the table.

- balance transaction: `STRIPE_BT#{txn}` / `BT`; while it waits for its payment or
  refund, GSI1 `STRIPE_BT_PENDING` / `{created}#{txn}` (sparse: removed once attributed);
- charge seen for a payment: `STRIPE_MATCH#{intent}` / `CHARGE`;
- payout: `STRIPE_PAYOUT#{payout}` / `PAYOUT`; while paid and not settled, GSI1
  `STRIPE_PAYOUT_OPEN` / `{created}#{payout}` (sparse); `returned` once it came back
  (a `payout_failure` or `payout_cancel` transaction);
- a transaction a payout paid out: `STRIPE_PAYOUT#{payout}` / `BT#{txn}`;
- an operator's part of a payout: `PAYOUTS#{operator}` / `{arrival date}#{payout}`
  (`PAYOUTS#UNATTRIBUTED` for what no operator can be named for);
- the cursor of a stream: `RECONCILE` / `CURSOR#{stream}`.

Every access is a GetItem, a BatchGetItem or a Query. A transaction is recorded once
(`attribute_not_exists`), attributed once (condition `state = pending`); a settled payout
is never touched again (condition `attribute_not_exists(settled)`) but to mark it
returned, which `settle_payout` checks (`attribute_not_exists(returned)`); a cursor moves only
from the version it was read at, so two runs never rewind each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys
from chalicelib.domain.payment import Dispute, Payment, Refund

UNATTRIBUTED = "UNATTRIBUTED"  # the operator of what could not be attributed to one
BATCH_GET_SIZE = 100


@dataclass(frozen=True)
class Cursor:
    """Where a stream (newest first) stands: the finished sweeps reached `watermark`
    (`created` of the newest item seen); a sweep in progress resumes `starting_after`."""

    version: int = 0
    watermark: int | None = None
    starting_after: str | None = None
    top: int | None = None  # newest `created` of the sweep in progress
    floor: int | None = None  # payouts: oldest `created` still open in the sweep

    def advanced(self, **changes: Any) -> Cursor:
        return replace(self, **changes)


class ReconciliationStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- balance transactions -----------------------------------------------------------
    def record_transaction(self, txn: dict[str, Any], pending: bool) -> bool:
        """Record a balance transaction once; False if it was already recorded."""
        item = {**keys.stripe_bt(txn["id"]), "entity": "stripe_bt", **txn}
        if pending:
            item["GSI1PK"] = keys.STRIPE_BT_PENDING_PK
            item["GSI1SK"] = keys.created_sk(int(txn["created"]), txn["id"])
        try:
            self._table.table.put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def transactions(self, txn_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = [keys.stripe_bt(txn_id) for txn_id in dict.fromkeys(txn_ids)]
        return {str(item["id"]): strip_keys(item) for item in self._batch_get(wanted)}

    def pending_transactions(self) -> list[dict[str, Any]]:
        items = self._table.query_all(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": keys.STRIPE_BT_PENDING_PK},
        )
        return [strip_keys(item) for item in items]

    def attribute(self, txn_id: str, attribution: dict[str, Any], charge_of: str | None) -> bool:
        """Attribute a pending transaction to its payment or refund (and so to an operator);
        False if another run did it first."""
        names = {f"#{k}": k for k in attribution}
        update: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": keys.stripe_bt(txn_id),
            "UpdateExpression": "SET "
            + ", ".join(f"#{k} = :{k}" for k in attribution)
            + ", #state = :attributed REMOVE GSI1PK, GSI1SK",
            "ConditionExpression": "#state = :pending",
            "ExpressionAttributeNames": {**names, "#state": "state"},
            "ExpressionAttributeValues": {
                **{f":{k}": v for k, v in attribution.items()},
                ":attributed": "attributed",
                ":pending": "pending",
            },
        }
        items: list[dict[str, Any]] = [{"Update": update}]
        if charge_of is not None:
            marker = {**keys.stripe_match(charge_of), "txn_id": txn_id}
            items.append({"Put": {"TableName": self._table.name, "Item": marker}})
        try:
            self._table.transact(items, on_cancel=_already_done)
        except _AlreadyDone:
            return False
        return True

    def give_up(self, txn_id: str) -> bool:
        """A transaction nothing here will ever explain: out of the pending queue. False
        if it was not pending any more (attributed or given up meanwhile)."""
        try:
            self._table.table.update_item(
                Key=keys.stripe_bt(txn_id),
                UpdateExpression="SET #state = :gone REMOVE GSI1PK, GSI1SK",
                ConditionExpression="#state = :pending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":gone": "unattributed", ":pending": "pending"},
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def charged_intents(self, intent_ids: Iterable[str]) -> set[str]:
        """The intents whose charge was seen in Stripe's balance."""
        wanted = [keys.stripe_match(intent) for intent in dict.fromkeys(intent_ids)]
        return {
            str(item["PK"]).removeprefix(keys.STRIPE_MATCH_PREFIX)
            for item in self._batch_get(wanted)
        }

    # -- payouts ------------------------------------------------------------------------
    def upsert_payout(self, payout: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        """Record a payout or its new status; None once it is settled (final)."""
        values = {f":{k}": v for k, v in payout.items()}
        sets = [f"#{k} = :{k}" for k in payout]
        sets.append("recorded_at = if_not_exists(recorded_at, :now)")
        sets.append("entity = :entity")
        if payout["status"] == "paid":
            sets += ["GSI1PK = :open", "GSI1SK = :order"]
            values[":open"] = keys.STRIPE_PAYOUT_OPEN_PK
            values[":order"] = keys.created_sk(int(payout["created"]), payout["id"])
        expression = "SET " + ", ".join(sets)
        if payout["status"] != "paid":
            expression += " REMOVE GSI1PK, GSI1SK"
        try:
            answer = self._table.table.update_item(
                Key=keys.stripe_payout(payout["id"]),
                UpdateExpression=expression,
                ConditionExpression="attribute_not_exists(settled)",
                ExpressionAttributeNames={f"#{k}": k for k in payout},
                ExpressionAttributeValues={
                    **values,
                    ":now": now.isoformat(),
                    ":entity": "stripe_payout",
                },
                ReturnValues="ALL_NEW",
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return None
        return strip_keys(answer["Attributes"])

    def open_payouts(self) -> list[dict[str, Any]]:
        items = self._table.query_all(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": keys.STRIPE_PAYOUT_OPEN_PK},
        )
        return [strip_keys(item) for item in items]

    def add_payout_members(self, payout_id: str, txns: list[dict[str, Any]]) -> None:
        with self._table.table.batch_writer() as batch:
            for txn in txns:
                batch.put_item(
                    Item={
                        "PK": keys.stripe_payout_pk(payout_id),
                        "SK": keys.payout_bt_sk(txn["id"]),
                        **txn,
                    }
                )

    def mark_itemized(self, payout_id: str, itemizable: bool) -> None:
        self._table.table.update_item(
            Key=keys.stripe_payout(payout_id),
            UpdateExpression="SET itemized = :yes, itemizable = :itemizable",
            ExpressionAttributeValues={":yes": True, ":itemizable": itemizable},
        )

    def payout_members(self, payout_id: str) -> list[dict[str, Any]]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :bt)",
            ExpressionAttributeValues={
                ":pk": keys.stripe_payout_pk(payout_id),
                ":bt": keys.PAYOUT_BT_PREFIX,
            },
            ConsistentRead=True,
        )
        return [strip_keys(item) for item in items]

    def put_parts(self, head: dict[str, Any], parts: list[dict[str, Any]]) -> None:
        """Write a payout's part per operator; parts of an earlier attempt that no longer
        exist are deleted."""
        day = str(parts[0]["arrival_date"]) if parts else ""
        kept = {str(part["operator_id"]) for part in parts}
        with self._table.table.batch_writer() as batch:
            for part in parts:
                batch.put_item(
                    Item={
                        "PK": keys.operator_payouts_pk(part["operator_id"]),
                        "SK": keys.operator_payout_sk(day, head["id"]),
                        "entity": "payout_part",
                        **part,
                    }
                )
            for operator_id in set(head.get("parts") or []) - kept:
                batch.delete_item(
                    Key=keys.key(
                        keys.operator_payouts_pk(operator_id),
                        keys.operator_payout_sk(day, head["id"]),
                    )
                )
        self._table.table.update_item(
            Key=keys.stripe_payout(head["id"]),
            UpdateExpression="SET parts = :parts",
            ExpressionAttributeValues={":parts": sorted(kept)},
        )

    def payout(self, payout_id: str) -> dict[str, Any] | None:
        item = self._table.get_key(keys.stripe_payout(payout_id))
        return strip_keys(item) if item else None

    def settle_payout(self, payout_id: str, matched: bool) -> bool:
        """Nothing more will be done for this payout: out of the open queue, for good.
        False if it came back meanwhile (`mark_returned`): its settling run reverses it."""
        try:
            self._table.table.update_item(
                Key=keys.stripe_payout(payout_id),
                UpdateExpression="SET settled = :yes, matched = :matched REMOVE GSI1PK, GSI1SK",
                ConditionExpression="attribute_not_exists(returned)",
                ExpressionAttributeValues={":yes": True, ":matched": matched},
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark_returned(self, payout_id: str, returned: dict[str, Any]) -> dict[str, Any]:
        """The payout came back (failed or cancelled): settled for good with its new
        status. Answers the payout as written: `matched` there says whether it was booked
        before (then the caller reverses it; booked after, `settle_payout` says so)."""
        answer = self._table.table.update_item(
            Key=keys.stripe_payout(payout_id),
            UpdateExpression="SET returned = :returned, #status = :status, settled = :yes"
            " REMOVE GSI1PK, GSI1SK",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":returned": returned,
                ":status": returned["status"],
                ":yes": True,
            },
            ReturnValues="ALL_NEW",
        )
        return strip_keys(answer["Attributes"])

    def payout_parts(self, operator_id: str, low: str, high: str) -> list[dict[str, Any]]:
        """An operator's parts of the payouts arriving between two dates (inclusive)."""
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": keys.operator_payouts_pk(operator_id),
                ":low": low,
                ":high": high + "~",
            },
        )
        return [strip_keys(item) for item in items]

    # -- the payment store's own index, read here --------------------------------------
    def payments(self, operator_id: str, low: str, high: str | None = None) -> list[Payment]:
        """An operator's payments created from `low` (to `high`, excluded) — GSI1
        `PAYMENTS#{operator}` by creation time."""
        return [
            Payment.model_validate(strip_keys(item))
            for item in self._by_time(keys.operator_payments_pk(operator_id), low, high)
        ]

    def refunds(self, operator_id: str, low: str, high: str | None = None) -> list[Refund]:
        return [
            Refund.model_validate(strip_keys(item))
            for item in self._by_time(keys.operator_refunds_pk(operator_id), low, high)
        ]

    def disputes(self, operator_id: str, low: str, high: str | None = None) -> list[Dispute]:
        """An operator's disputes opened from `low` (to `high`) — GSI1 `DISPUTES#{operator}`."""
        return [
            Dispute.model_validate(strip_keys(item))
            for item in self._by_time(keys.operator_disputes_pk(operator_id), low, high)
        ]

    def closed_disputes(self, operator_id: str, low: str, high: str) -> list[Dispute]:
        """An operator's disputes closed from `low` to `high` (GSI2 `DISPUTES_CLOSED#…`)."""
        pk = keys.operator_closed_disputes_pk(operator_id)
        return [
            Dispute.model_validate(strip_keys(item))
            for item in self._by_time(pk, low, high, index="GSI2")
        ]

    def _by_time(
        self, pk: str, low: str, high: str | None, index: str = "GSI1"
    ) -> Iterator[dict[str, Any]]:
        if high is None:
            condition, values = f"{index}SK >= :low", {":pk": pk, ":low": low}
        else:
            condition = f"{index}SK BETWEEN :low AND :high"
            values = {":pk": pk, ":low": low, ":high": high}
        return self._table.query_all(
            IndexName=index,
            KeyConditionExpression=f"{index}PK = :pk AND {condition}",
            ExpressionAttributeValues=values,
        )

    # -- cursors --------------------------------------------------------------------------
    def cursor(self, stream: str) -> Cursor:
        item = self._table.get_key(keys.reconcile_cursor(stream))
        if not item:
            return Cursor()
        state = item["state"]

        def number(key: str) -> int | None:
            return int(state[key]) if key in state else None

        return Cursor(
            version=int(item["version"]),
            watermark=number("watermark"),
            starting_after=state.get("starting_after"),
            top=number("top"),
            floor=number("floor"),
        )

    def save_cursor(self, stream: str, cursor: Cursor) -> Cursor | None:
        """Store `cursor` over the version it was read at; None if another run moved it."""
        state = {k: v for k, v in asdict(cursor).items() if k != "version" and v is not None}
        condition = "attribute_not_exists(PK)" if cursor.version == 0 else "version = :expected"
        values: dict[str, Any] = {":state": state, ":next": cursor.version + 1}
        if cursor.version:
            values[":expected"] = cursor.version
        try:
            self._table.table.update_item(
                Key=keys.reconcile_cursor(stream),
                UpdateExpression="SET #state = :state, version = :next",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=values,
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return None
        return cursor.advanced(version=cursor.version + 1)

    # -- helpers --------------------------------------------------------------------------
    def _batch_get(self, wanted: list[keys.Key]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), BATCH_GET_SIZE):
            request: dict[str, Any] = {
                self._table.name: {
                    "Keys": wanted[start : start + BATCH_GET_SIZE],
                    "ConsistentRead": True,
                }
            }
            while request:
                answer = self._table.resource.batch_get_item(RequestItems=request)
                found.extend(answer.get("Responses", {}).get(self._table.name, []))
                request = answer.get("UnprocessedKeys") or {}
        return found


class _AlreadyDone(Exception):
    pass


def _already_done(reasons: list[str]) -> None:
    raise _AlreadyDone()
