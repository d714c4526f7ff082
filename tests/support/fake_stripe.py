"""An in-memory stand-in for the Stripe gateway (moto-speed tests), and signed events."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, replace
from typing import Any

import stripe

from chalicelib.adapters.stripe_gateway import parse_webhook
from chalicelib.errors import PaymentProviderError, PaymentProviderUnavailable


@dataclass(frozen=True)
class FakeIntent:
    id: str
    client_secret: str
    status: str
    amount: int
    currency: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class FakeRefund:
    id: str
    status: str | None
    amount: int
    payment_intent: str
    reason: str | None = None  # the `reason` of its metadata
    failure_reason: str | None = None  # once it failed


class FakeGateway:
    """Honours idempotency keys like Stripe; counts every call; can be told to fail."""

    def __init__(self) -> None:
        self.intents: dict[str, FakeIntent] = {}
        self.refunds: dict[str, FakeRefund] = {}
        self.calls: list[str] = []
        self.unavailable = False
        self._by_key: dict[str, Any] = {}
        self._ids = itertools.count(1)

    def _check(self, name: str) -> None:
        self.calls.append(name)
        if self.unavailable:
            raise PaymentProviderUnavailable("Stripe is down (fake).")

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotency_key: str,
        customer: str | None = None,
    ) -> FakeIntent:
        self._check("create_payment_intent")
        if idempotency_key in self._by_key:
            return self.intents[self._by_key[idempotency_key]]
        n = next(self._ids)
        intent = FakeIntent(
            f"pi_{n}",
            f"pi_{n}_secret",
            "requires_payment_method",
            amount,
            currency.upper(),
            dict(metadata),
        )
        self.intents[intent.id] = intent
        self._by_key[idempotency_key] = intent.id
        return intent

    def retrieve_refund(self, refund_id: str) -> dict[str, Any]:
        self._check("retrieve_refund")
        if refund_id not in self.refunds:
            raise PaymentProviderError(f"No such refund: {refund_id!r} (fake).")
        refund = self.refunds[refund_id]
        return {
            "id": refund.id,
            "object": "refund",
            "amount": refund.amount,
            "status": refund.status,
            "payment_intent": refund.payment_intent,
            "metadata": {"reason": refund.reason} if refund.reason else {},
            "failure_reason": refund.failure_reason,
        }

    def retrieve_dispute(self, dispute_id: str) -> dict[str, Any]:
        self._check("retrieve_dispute")
        raise PaymentProviderError(f"No such dispute: {dispute_id!r} (fake).")

    def retrieve_payment_intent(self, payment_intent_id: str) -> FakeIntent:
        self._check("retrieve_payment_intent")
        return self.intents[payment_intent_id]

    def cancel_payment_intent(self, payment_intent_id: str, *, idempotency_key: str) -> FakeIntent:
        self._check("cancel_payment_intent")
        intent = self.intents[payment_intent_id]
        if intent.status not in ("succeeded", "canceled"):
            intent = replace(intent, status="canceled")
            self.intents[intent.id] = intent
        return intent

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int | None,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> FakeRefund:
        self._check("create_refund")
        if idempotency_key in self._by_key:
            return self.refunds[self._by_key[idempotency_key]]
        intent = self.intents[payment_intent_id]
        refund = FakeRefund(
            f"re_{next(self._ids)}",
            "succeeded",
            intent.amount if amount is None else amount,
            payment_intent_id,
            metadata.get("reason"),
        )
        self.refunds[refund.id] = refund
        self._by_key[idempotency_key] = refund.id
        return refund

    def list_refunds(self, payment_intent_id: str) -> list[FakeRefund]:
        self._check("list_refunds")
        return [r for r in self.refunds.values() if r.payment_intent == payment_intent_id]

    def fail_refund(
        self, refund_id: str, reason: str = "expired_or_canceled_card"
    ) -> dict[str, Any]:
        """Play the bank refusing a refund days later: the refund `failed`; answers it as
        the object of `charge.refund.updated`."""
        refund = replace(self.refunds[refund_id], status="failed", failure_reason=reason)
        self.refunds[refund_id] = refund
        return {
            "id": refund.id,
            "object": "refund",
            "amount": refund.amount,
            "currency": "eur",
            "status": "failed",
            "failure_reason": reason,
            "payment_intent": refund.payment_intent,
            "charge": f"ch_{refund.payment_intent}",
            "metadata": {"reason": refund.reason} if refund.reason else {},
        }

    def parse_webhook(
        self, payload: bytes, signature_header: str | None, secret: str, tolerance: int = 300
    ) -> dict[str, Any]:
        return parse_webhook(payload, signature_header, secret, tolerance)

    def succeed(self, intent_id: str) -> dict[str, Any]:
        """Play the customer paying: the intent succeeds; answers the intent as an event object."""
        intent = replace(self.intents[intent_id], status="succeeded")
        self.intents[intent_id] = intent
        return {
            "id": intent.id,
            "object": "payment_intent",
            "status": "succeeded",
            "amount": intent.amount,
            "currency": intent.currency.lower(),
            "metadata": intent.metadata,
            "latest_charge": f"ch_{intent.id}",
        }


_event_ids = itertools.count(1)


def signed_event(
    event_type: str,
    obj: dict[str, Any],
    secret: str,
    timestamp: int | None = None,
    event_id: str | None = None,
    created: int | None = None,
) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header, signed as Stripe does; the event
    `created` when given (a test's clock), else now."""
    event = {
        "id": event_id or f"evt_{next(_event_ids)}_{time.time_ns()}",
        "object": "event",
        "type": event_type,
        "data": {"object": obj},
        "created": int(time.time()) if created is None else created,
    }
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return payload.encode(), header
