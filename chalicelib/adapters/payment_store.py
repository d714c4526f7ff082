"""Payments, refunds, purchases, credit packs and Stripe event claims in the table."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, iso_text, strip_keys, to_item
from chalicelib.domain.payment import (
    DISPUTE_CLOSED_STAGE,
    REFUND_NOT_MADE,
    Dispute,
    Payment,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
    Refund,
)
from chalicelib.domain.wallet import CreditPack
from chalicelib.errors import ConcurrentUpdate, InvalidState

EVENT_CLAIM_SECONDS = 30
EVENT_TTL_SECONDS = 90 * 86400
REVOKE_ATTEMPTS = 5


def _payment_item(payment: Payment) -> dict[str, Any]:
    return {
        **keys.payment(payment.intent_id),
        "entity": "payment",
        "GSI1PK": keys.operator_payments_pk(payment.operator_id),
        "GSI1SK": keys.by_time_sk(payment.created_at.isoformat(), payment.intent_id),
        **to_item(payment.model_dump()),
    }


def _refund_item(refund: Refund) -> dict[str, Any]:
    return {
        "PK": keys.payment_pk(refund.intent_id),
        "SK": keys.refund_sk(refund.id),
        "entity": "refund",
        "GSI1PK": keys.operator_refunds_pk(refund.operator_id),
        "GSI1SK": keys.by_time_sk(refund.created_at.isoformat(), refund.id),
        **to_item(refund.model_dump()),
    }


def _closed_index(dispute: Dispute) -> dict[str, str]:
    """A closed dispute is also found by when it closed (GSI2), however long it was open."""
    if dispute.closed_at is None:
        return {}
    return {
        "GSI2PK": keys.operator_closed_disputes_pk(dispute.operator_id),
        "GSI2SK": keys.by_time_sk(dispute.closed_at.isoformat(), dispute.id),
    }


class PaymentStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- payments -------------------------------------------------------------
    def add_payment(self, payment: Payment) -> Payment:
        """Record a payment once; a second call returns the one recorded first."""
        item = _payment_item(payment)
        try:
            self._table.table.put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
            return payment
        except self._table.exceptions.ConditionalCheckFailedException:
            existing = self.payment(payment.intent_id)
            assert existing is not None
            return existing

    def payment_put(self, payment: Payment) -> dict[str, Any]:
        """The payment record as an item of another transaction (the booking it pays:
        `BookingStore.create(..., extra=)`), so it is written with it or not at all."""
        return {"Put": {"TableName": self._table.name, "Item": _payment_item(payment)}}

    def payment(self, intent_id: str) -> Payment | None:
        item = self._table.get_key(keys.payment(intent_id))
        return Payment.model_validate(strip_keys(item)) if item else None

    def mark_succeeded(self, intent_id: str, charge_id: str | None, now: datetime) -> None:
        """The recorded payment succeeded (an unrecorded one is left alone: never half an
        item that no later read could validate)."""
        with contextlib.suppress(self._table.exceptions.ConditionalCheckFailedException):
            self._table.table.update_item(
                Key=keys.payment(intent_id),
                UpdateExpression="SET #status = :ok,"
                " succeeded_at = if_not_exists(succeeded_at, :now)"
                + (", charge_id = :charge" if charge_id else ""),
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":ok": PaymentStatus.succeeded.value,
                    ":now": now.isoformat(),
                    **({":charge": charge_id} if charge_id else {}),
                },
            )

    def mark_failed(self, intent_id: str, message: str, charge_id: str | None = None) -> None:
        """A payment that failed; `charge_id`: the charge that failed (a SEPA debit's,
        which Stripe's balance shows, then takes back: `payment_failure_refund`)."""
        with contextlib.suppress(self._table.exceptions.ConditionalCheckFailedException):
            self._table.table.update_item(
                Key=keys.payment(intent_id),
                UpdateExpression="SET #status = :failed, failure_message = :msg"
                + (", charge_id = if_not_exists(charge_id, :charge)" if charge_id else ""),
                ConditionExpression="#status = :pending OR #status = :failed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":failed": "failed",
                    ":pending": "pending",
                    ":msg": message[:500],
                    **({":charge": charge_id} if charge_id else {}),
                },
            )

    def flag_dispute(self, intent_id: str) -> None:
        self._table.table.update_item(
            Key=keys.payment(intent_id),
            UpdateExpression="SET disputed = :yes",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":yes": True},
        )

    def record_dispute(self, dispute: Dispute) -> None:
        """Record a dispute or its new status, never going back (Stripe does not order its
        events: a late `charge.dispute.created` neither reopens a closed dispute nor
        undoes its review). A closed one keeps the status it first closed with, and the
        earliest close known: an event delivered late, or the dispute read from Stripe
        after its events were lost, may have recorded a later one first."""
        try:
            self._table.table.put_item(
                Item={
                    **keys.dispute(dispute.id),
                    "entity": "dispute",
                    "GSI1PK": keys.operator_disputes_pk(dispute.operator_id),
                    "GSI1SK": keys.by_time_sk(dispute.created_at.isoformat(), dispute.id),
                    **_closed_index(dispute),
                    "stage": dispute.stage,
                    **to_item(dispute.model_dump()),
                },
                ConditionExpression="attribute_not_exists(PK) OR attribute_not_exists(stage)"
                " OR stage < :stage OR (stage = :stage AND stage < :closed)",
                ExpressionAttributeValues={
                    ":stage": dispute.stage,
                    ":closed": DISPUTE_CLOSED_STAGE,
                },
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            if dispute.closed_at is not None:
                self._closed_earlier(dispute, dispute.closed_at)

    def _closed_earlier(self, dispute: Dispute, closed_at: datetime) -> None:
        """Move a closed dispute's close back to `closed_at` if that is earlier."""
        index = _closed_index(dispute)
        with contextlib.suppress(self._table.exceptions.ConditionalCheckFailedException):
            self._table.table.update_item(
                Key=keys.dispute(dispute.id),
                UpdateExpression="SET closed_at = :at, GSI2PK = :pk, GSI2SK = :sk",
                ConditionExpression="stage = :closed AND closed_at > :at",
                ExpressionAttributeValues={
                    ":at": iso_text(closed_at),
                    ":pk": index["GSI2PK"],
                    ":sk": index["GSI2SK"],
                    ":closed": DISPUTE_CLOSED_STAGE,
                },
            )

    def dispute(self, dispute_id: str) -> Dispute | None:
        item = self._table.get_key(keys.dispute(dispute_id))
        return Dispute.model_validate(strip_keys(item)) if item else None

    def add_refund(self, refund: Refund) -> bool:
        """Record a refund and add it to its payment, once; False if already recorded."""
        items = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": _refund_item(refund),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": keys.payment(refund.intent_id),
                    "UpdateExpression": "ADD refunded_amount :amount",
                    "ConditionExpression": "attribute_exists(PK)",
                    "ExpressionAttributeValues": {":amount": refund.amount},
                }
            },
        ]
        try:
            self._table.transact(items, on_cancel=_refund_seen)
        except _RefundSeen:
            return False
        return True

    def refund(self, intent_id: str, refund_id: str) -> Refund | None:
        item = self._table.get_key(keys.key(keys.payment_pk(intent_id), keys.refund_sk(refund_id)))
        return Refund.model_validate(strip_keys(item)) if item else None

    def refund_outcome(
        self, refund: Refund, status: str, failure_reason: str | None, at: datetime
    ) -> bool:
        """Stripe's later word on a recorded refund (it `succeeded`, or `failed`), never
        back from a failure; a failure's reason is filled in if it came without one.
        True: the refund moved to `status` now."""
        names = {"#status": "status"}
        values: dict[str, Any] = {":status": status, ":failed": "failed", ":canceled": "canceled"}
        not_failed = "NOT #status IN (:failed, :canceled)"
        if status in REFUND_NOT_MADE:
            update = "SET #status = :status, failed_at = if_not_exists(failed_at, :at)"
            values[":at"] = at.isoformat()
            condition = f"attribute_exists(PK) AND ({not_failed}"
            if failure_reason:
                update += ", failure_reason = :why"
                values[":why"] = failure_reason
                condition += " OR attribute_not_exists(failure_reason)"
            condition += ")"
        else:
            update = "SET #status = :status"
            condition = f"attribute_exists(PK) AND #status <> :status AND {not_failed}"
        try:
            answer = self._table.table.update_item(
                Key=keys.key(keys.payment_pk(refund.intent_id), keys.refund_sk(refund.id)),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                # The whole old item: an attribute set to the value it had may be left
                # out of UPDATED_OLD, and a failure's reason filled in later must not
                # read as the refund moving.
                ReturnValues="ALL_OLD",
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return answer.get("Attributes", {}).get("status") not in REFUND_NOT_MADE

    def note_refund_transfer(
        self, refund: Refund, transfer: dict[str, Any], extra: list[dict[str, Any]]
    ) -> bool:
        """Note the bank transfer that paid a failed, credited refund, with `extra` items
        (its audit entry) in the same transaction, once. False if a transfer is noted
        already, or the refund is not (or no longer) a failed credited one."""
        update = {
            "Update": {
                "TableName": self._table.name,
                "Key": keys.key(keys.payment_pk(refund.intent_id), keys.refund_sk(refund.id)),
                "UpdateExpression": "SET #transfer = :transfer",
                "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(#transfer)"
                " AND #status IN (:failed, :canceled)"
                " AND (attribute_not_exists(credited) OR credited = :yes)",
                "ExpressionAttributeNames": {"#transfer": "transfer", "#status": "status"},
                "ExpressionAttributeValues": {
                    ":transfer": to_item(transfer),
                    ":failed": "failed",
                    ":canceled": "canceled",
                    ":yes": True,
                },
            }
        }
        try:
            self._table.transact([update, *extra], on_cancel=_changed)
        except _Changed:
            return False
        return True

    def add_failed_refund(self, refund: Refund) -> bool:
        """Keep a refund Stripe says failed before Relais took it as made (`credited`
        False): no credit, nothing added to its payment. False if already kept."""
        try:
            self._table.table.put_item(
                Item=_refund_item(refund), ConditionExpression="attribute_not_exists(PK)"
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def refunds(self, intent_id: str) -> list[Refund]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :refund)",
            ExpressionAttributeValues={
                ":pk": keys.payment_pk(intent_id),
                ":refund": keys.REFUND_SK_PREFIX,
            },
        )
        return [Refund.model_validate(strip_keys(i)) for i in items]

    # -- purchases and packs ----------------------------------------------------
    def add_purchase(self, purchase: Purchase) -> Purchase:
        item = {
            **keys.purchase(purchase.id),
            "entity": "purchase",
            "GSI1PK": keys.member_pk(purchase.member_id),
            "GSI1SK": keys.member_purchase_sk(purchase.created_at.isoformat(), purchase.id),
            **to_item(purchase.model_dump()),
        }
        try:
            self._table.table.put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
            return purchase
        except self._table.exceptions.ConditionalCheckFailedException:
            existing = self.purchase(purchase.id)
            assert existing is not None
            return existing

    def purchase(self, purchase_id: str) -> Purchase | None:
        item = self._table.get_key(keys.purchase(purchase_id))
        return Purchase.model_validate(strip_keys(item)) if item else None

    def set_purchase_intent(self, purchase_id: str, intent_id: str) -> None:
        self._table.table.update_item(
            Key=keys.purchase(purchase_id),
            UpdateExpression="SET payment_intent_id = if_not_exists(payment_intent_id, :pi)",
            ExpressionAttributeValues={":pi": intent_id},
        )

    def complete_purchase(self, purchase: Purchase, pack: CreditPack, now: datetime) -> bool:
        """Grant the pack and close the purchase together; False if it was already done."""
        items = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": keys.purchase(purchase.id),
                    "UpdateExpression": "SET #status = :done, completed_at = :now",
                    "ConditionExpression": "#status = :pending",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":done": PurchaseStatus.completed.value,
                        ":pending": PurchaseStatus.pending.value,
                        ":now": now.isoformat(),
                    },
                }
            },
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": {
                        **keys.key(keys.member_pk(pack.member_id), _pack_sk(pack)),
                        "entity": "pack",
                        **to_item(pack.model_dump()),
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]
        try:
            self._table.transact(items, on_cancel=_refund_seen)
        except _RefundSeen:
            return False
        return True

    def revoke_pack(self, purchase_id: str, member_id: str) -> None:
        """A purchase refunded in full: it is marked refunded and its pack revoked — unused
        credits withdrawn (those already spent stay spent), none given back later by a
        cancelled booking (`booking_items.restore_credits`). Safe to repeat, and whatever
        the order against `complete_purchase`: the pack and the `completed` status are
        written together, so a purchase seen without a pack is marked refunded only on
        condition that it is still not completed (then no pack can follow), and one seen
        with its pack is marked refunded in the transaction that revokes the pack."""
        for _ in range(REVOKE_ATTEMPTS):
            packs = [p for p in self.packs_of(member_id) if p.purchase_id == purchase_id]
            try:
                if packs:
                    mark = {"TableName": self._table.name, **_purchase_refunded(purchase_id)}
                    items = [{"Update": mark}, *(_pack_revoked(self._table.name, p) for p in packs)]
                    self._table.transact(items, on_cancel=_changed)
                else:  # none yet: none may come once the purchase is refunded
                    self._table.table.update_item(
                        **_purchase_refunded(purchase_id, unless=PurchaseStatus.completed)
                    )
                return
            except (_Changed, self._table.exceptions.ConditionalCheckFailedException):
                # Completed meanwhile (its pack exists now: read again), or no such purchase.
                if self.purchase(purchase_id) is None:
                    return
        raise ConcurrentUpdate("The purchase keeps changing; please retry.")

    def pending_purchases(self, member_id: str) -> list[Purchase]:
        """The member's purchases not paid yet (their intent may still be paid)."""
        items = self._table.query_all(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :purchase)",
            FilterExpression="#status = :pending",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":pk": keys.member_pk(member_id),
                ":purchase": keys.MEMBER_PURCHASE_SK_PREFIX,
                ":pending": PurchaseStatus.pending.value,
            },
        )
        return [Purchase.model_validate(strip_keys(i)) for i in items]

    def packs_of(self, member_id: str) -> list[CreditPack]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :pack)",
            ExpressionAttributeValues={
                ":pk": keys.member_pk(member_id),
                ":pack": keys.PACK_SK_PREFIX,
            },
            ConsistentRead=True,
        )
        return [CreditPack.model_validate(strip_keys(i)) for i in items]

    # -- Stripe events ------------------------------------------------------------
    def claim_event(self, event_id: str, now: float) -> str:
        """'claimed' (process it), 'done' (already processed) or 'busy' (in flight elsewhere)."""
        try:
            self._table.table.put_item(
                Item={
                    **keys.stripe_event(event_id),
                    "status": "processing",
                    "claim_until": int(now) + EVENT_CLAIM_SECONDS,
                    "ttl": int(now) + EVENT_TTL_SECONDS,
                },
                ConditionExpression="attribute_not_exists(PK) OR "
                "(#status = :processing AND claim_until < :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":processing": "processing", ":now": int(now)},
            )
            return "claimed"
        except self._table.exceptions.ConditionalCheckFailedException:
            item = self._table.get_key(keys.stripe_event(event_id))
            return "done" if item and item.get("status") == "done" else "busy"

    def finish_event(self, event_id: str, outcome: str) -> None:
        self._table.table.update_item(
            Key=keys.stripe_event(event_id),
            UpdateExpression="SET #status = :done, outcome = :outcome",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":done": "done", ":outcome": outcome},
        )

    def release_event(self, event_id: str) -> None:
        """Give a failed event back so Stripe's next delivery processes it."""
        self._table.table.delete_item(Key=keys.stripe_event(event_id))


class _RefundSeen(Exception):
    pass


class _Changed(Exception):
    pass


def _changed(reasons: list[str]) -> None:
    raise _Changed()


def _refund_seen(reasons: list[str]) -> None:
    if reasons[0] == "ConditionalCheckFailed":
        raise _RefundSeen()
    raise InvalidState("The payment is not recorded yet.")


__all__ = ["Any", "PaymentStore"]


def _pack_sk(pack: CreditPack) -> str:
    return keys.pack_sk(pack.purchased_at.isoformat(), pack.purchase_id)


def _purchase_refunded(purchase_id: str, unless: PurchaseStatus | None = None) -> dict[str, Any]:
    """The purchase marked refunded (an update's parameters; with `unless`, on condition
    that it does not have that status)."""
    condition = "attribute_exists(PK)"
    values: dict[str, Any] = {":refunded": PurchaseStatus.refunded.value}
    if unless is not None:
        condition += " AND #status <> :unless"
        values[":unless"] = unless.value
    return {
        "Key": keys.purchase(purchase_id),
        "UpdateExpression": "SET #status = :refunded",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": values,
    }


def _pack_revoked(table: str, pack: CreditPack) -> dict[str, Any]:
    """The pack zeroed and revoked, with the rule `booking_items.restore_credits` applies
    to it: a cancelled booking gives back `credits_on_restore` (0), not what it took."""
    return {
        "Update": {
            "TableName": table,
            "Key": keys.key(keys.member_pk(pack.member_id), _pack_sk(pack)),
            "UpdateExpression": "SET credits_remaining = :zero, credits_on_restore = :zero, "
            "revoked = :yes",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": {":zero": 0, ":yes": True},
        }
    }
