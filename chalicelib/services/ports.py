"""What the services need from the outside: the payment provider (the Stripe gateway
implements it) and the mailer (SES, or a memory mailer in tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from chalicelib.adapters.mailer import OutgoingMail


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
    @property
    def reason(self) -> str | None: ...  # the `reason` we gave it; None from the dashboard


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

    def list_refunds(self, payment_intent_id: str) -> Sequence[RefundResult]: ...

    def parse_webhook(
        self, payload: bytes, signature_header: str | None, secret: str, tolerance: int = 300
    ) -> dict[str, Any]: ...

    # -- reconciliation (appended) ----------------------------------------------------

    def list_balance_transactions(
        self, *, starting_after: str | None, limit: int = 100
    ) -> tuple[Sequence[BalanceEntry], bool]: ...

    def list_payouts(
        self, *, starting_after: str | None, limit: int = 100
    ) -> tuple[Sequence[PayoutEntry], bool]: ...

    def list_payout_transactions(
        self, payout_id: str, *, starting_after: str | None, limit: int = 100
    ) -> tuple[Sequence[BalanceEntry], bool]: ...

    def retrieve_dispute(self, dispute_id: str) -> dict[str, Any]:
        """A dispute as `charge.dispute.*` events carry it."""
        ...

    def retrieve_refund(self, refund_id: str) -> dict[str, Any]:
        """A refund as `charge.refunded` lists it."""
        ...


class BalanceEntry(Protocol):
    """One Stripe balance transaction (a charge, a refund, the payout itself...)."""

    @property
    def id(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def fee(self) -> int: ...
    @property
    def net(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def source(self) -> str | None: ...
    @property
    def created(self) -> int: ...


class PayoutEntry(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def arrival_date(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def created(self) -> int: ...
    @property
    def reconciliation_status(self) -> str: ...


# -- memberships: saved payment methods and off-session charges --------------------------


class SetupInfo(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def client_secret(self) -> str: ...
    @property
    def status(self) -> str: ...


class MembershipGateway(PaymentGateway, Protocol):
    def create_customer(
        self, *, email: str, name: str, idempotency_key: str, metadata: dict[str, str]
    ) -> str: ...

    def delete_customer(self, customer: str) -> None:
        """Delete the customer and its saved payment methods at the provider; a customer
        already deleted (or unknown) is not an error."""

    def create_setup_intent(
        self,
        *,
        customer: str,
        payment_method_types: list[str],
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> SetupInfo: ...

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupInfo: ...

    def charge_off_session(
        self,
        *,
        customer: str,
        payment_method: str,
        payment_method_type: str,
        amount: int,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> IntentInfo:
        """Charge a saved payment method (`card` or `sepa_debit`) now, without its holder:
        answers the intent `succeeded` or `processing` (SEPA), or raises
        `OffSessionChargeFailed`."""
        ...


# -- mail -------------------------------------------------------------------------------------


class Mailer(Protocol):
    """Sends one mail; answers the provider's message id, raises `MailNotSent`."""

    def send(self, message: OutgoingMail) -> str: ...
