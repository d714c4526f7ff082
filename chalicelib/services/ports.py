"""What the services need from the payment provider (the Stripe gateway implements it)."""

from __future__ import annotations

from typing import Any, Protocol


class IntentInfo(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def client_secret(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def amount(self) -> int: ...


class RefundResult(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str | None: ...
    @property
    def amount(self) -> int: ...


class PaymentGateway(Protocol):
    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotency_key: str,
        customer: str | None = None,
    ) -> IntentInfo: ...

    def retrieve_payment_intent(self, payment_intent_id: str) -> IntentInfo: ...

    def cancel_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str
    ) -> IntentInfo: ...

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int | None,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> RefundResult: ...

    def parse_webhook(
        self, payload: bytes, signature_header: str | None, secret: str, tolerance: int = 300
    ) -> dict[str, Any]: ...
