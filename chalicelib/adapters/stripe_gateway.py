"""Stripe gateway: the only module of the app that talks to Stripe.

Every method is one Stripe call made through the official SDK (`stripe.StripeClient`,
`client.v1.*`, params dicts) and answers a small frozen dataclass, never a Stripe object.
Every POST carries the caller's deterministic idempotency key, so a retried use case
(Lambda retry, client retry with the same `Idempotency-Key`) never moves money twice.

Stripe failures become domain errors from `chalicelib.errors`:

- card declined, authentication required/failed -> `PaymentFailed` (402 `payment_failed`);
- a request Stripe refuses (unknown id, bad parameter, unsupported by the server, bad
  API key) -> `PaymentProviderError`;
- network failures, timeouts, Stripe 5xx and rate limits -> `PaymentProviderUnavailable`
  (safe to retry with the same idempotency key).

`stripe` is imported lazily: importing this module costs nothing, and the client is built
on first use (cold starts and `chalice package` stay cheap).

Payment method types: the SDK's API version (2026-10-28.endive) no longer accepts
`payment_method_types` on PaymentIntents and SetupIntents (400
`payment_method_types_no_longer_supported`); `allowed_payment_method_types` replaces it.

Local sandbox: with `api_base` set the gateway talks to a Stripe-compatible server
(localstripe 1.15), which rejects any parameter it does not know: it has no
`allowed_payment_method_types` nor `automatic_payment_methods` (it takes the old
`payment_method_types`), and no `description` on a PaymentIntent (the description then
travels in `metadata["description"]`). See `localstripe_compat`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from chalicelib.errors import (
    InvalidSignature,
    Misconfigured,
    OffSessionChargeFailed,
    PaymentFailed,
    PaymentProviderConflict,
    PaymentProviderError,
    PaymentProviderUnavailable,
    RelaisError,
)

if TYPE_CHECKING:
    import stripe
    from stripe.params import (
        BalanceTransactionListParams,
        CustomerCreateParams,
        PaymentIntentCreateParams,
        PayoutListParams,
        RefundCreateParams,
        RefundListParams,
        SetupIntentCreateParams,
    )

__all__ = [
    "BalanceTransactionInfo",
    "PaymentIntentInfo",
    "PayoutInfo",
    "RefundInfo",
    "SetupIntentInfo",
    "StripeGateway",
    "map_stripe_error",
    "parse_webhook",
]

# Stripe error codes that mean "the customer's payment did not go through" even when
# Stripe answers them as an invalid request (HTTP 400) rather than a card error (402).
_PAYMENT_FAILURE_CODES = frozenset(
    {
        "authentication_required",
        "card_declined",
        "expired_card",
        "incorrect_cvc",
        "insufficient_funds",
        "payment_intent_authentication_failure",
        "payment_intent_payment_attempt_failed",
        "payment_method_unactivated",
    }
)
# States from which cancelling is a no-op for us: answer the intent as it is.
_TERMINAL_INTENT_STATES = frozenset({"canceled", "succeeded"})
# An off-session intent answered without an error but not paid: why, as Stripe's code.
_OFF_SESSION_REASONS = {"requires_action": "authentication_required"}


@dataclass(frozen=True, slots=True)
class PaymentIntentInfo:
    id: str
    client_secret: str
    # requires_payment_method | requires_confirmation | requires_action | processing
    # | requires_capture | canceled | succeeded
    status: str
    amount: int
    currency: str  # ISO 4217, upper case ("EUR")
    latest_charge: str | None

    @classmethod
    def from_stripe(cls, intent: stripe.PaymentIntent) -> PaymentIntentInfo:
        return cls(
            id=intent.id,
            client_secret=intent.client_secret or "",
            status=intent.status,
            amount=intent.amount,
            currency=intent.currency.upper(),
            latest_charge=_ref(intent.latest_charge),
        )


@dataclass(frozen=True, slots=True)
class RefundInfo:
    id: str
    status: str | None  # pending | requires_action | succeeded | failed | canceled
    amount: int
    charge: str | None
    payment_intent: str | None
    reason: str | None = None  # ours (`metadata.reason`); None: made in the dashboard

    @classmethod
    def from_stripe(cls, refund: Any) -> RefundInfo:
        metadata = refund.metadata.to_dict() if refund.metadata else {}
        return cls(
            id=refund.id,
            status=refund.status,
            amount=refund.amount,
            charge=_ref(refund.charge),
            payment_intent=_ref(refund.payment_intent),
            reason=metadata.get("reason"),
        )


@dataclass(frozen=True, slots=True)
class SetupIntentInfo:
    id: str
    client_secret: str
    status: str


@dataclass(frozen=True, slots=True)
class BalanceTransactionInfo:
    id: str
    amount: int
    fee: int
    net: int
    type: str  # charge | refund | payout | stripe_fee | adjustment | ...
    source: str | None  # id of the charge, refund, payout... behind it
    created: int  # Unix time


@dataclass(frozen=True, slots=True)
class PayoutInfo:
    id: str
    amount: int
    arrival_date: int  # Unix time
    status: str  # paid | pending | in_transit | canceled | failed
    created: int  # Unix time
    # Stripe's own reconciliation of the payout: its balance transactions can be listed
    # by `?payout=` once `completed` (`in_progress` before; `not_applicable`: manual).
    reconciliation_status: str = "completed"


class StripeGateway:
    """One Stripe account, reached through one lazily built `stripe.StripeClient`."""

    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        timeout_seconds: float = 10,
        max_retries: int = 2,
        *,
        localstripe_compat: bool | None = None,
    ) -> None:
        self._api_key = api_key
        self._api_base = api_base
        self._timeout_seconds = timeout_seconds
        self._max_retries = max_retries
        # Only send what localstripe understands; defaults to "a local server is used".
        self._localstripe_compat = (
            api_base is not None if localstripe_compat is None else localstripe_compat
        )
        self._client: stripe.StripeClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> stripe.StripeClient:
        """The underlying SDK client (built on first use). For tooling and tests."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    def _build_client(self) -> stripe.StripeClient:
        import stripe

        return stripe.StripeClient(
            self._api_key,
            base_addresses={"api": self._api_base.rstrip("/")} if self._api_base else None,
            max_network_retries=self._max_retries,
            http_client=stripe.RequestsClient(timeout=self._timeout_seconds),
        )

    def _payment_method_types(self, types: list[str]) -> dict[str, list[str]]:
        key = "payment_method_types" if self._localstripe_compat else "allowed_payment_method_types"
        return {key: list(types)}

    # -- payment intents -------------------------------------------------------------

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotency_key: str,
        customer: str | None = None,
    ) -> PaymentIntentInfo:
        """A PaymentIntent for a card payment, to be confirmed by the frontend."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "metadata": dict(metadata),
            **self._payment_method_types(["card"]),
        }
        if self._localstripe_compat:
            params["metadata"] = {"description": description, **metadata}
        else:
            params["description"] = description
        if customer is not None:
            params["customer"] = customer
        with _stripe_errors():
            intent = self.client.v1.payment_intents.create(
                params=cast("PaymentIntentCreateParams", params),
                options={"idempotency_key": idempotency_key},
            )
        return PaymentIntentInfo.from_stripe(intent)

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntentInfo:
        with _stripe_errors():
            intent = self.client.v1.payment_intents.retrieve(payment_intent_id)
        return PaymentIntentInfo.from_stripe(intent)

    def cancel_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str
    ) -> PaymentIntentInfo:
        """Cancel an intent; an intent already cancelled or succeeded is answered as is.

        The caller decides what a `succeeded` answer means (e.g. refund instead).
        """
        import stripe

        try:
            intent = self.client.v1.payment_intents.cancel(
                payment_intent_id, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as exc:
            # Stripe: 400 payment_intent_unexpected_state; localstripe: 400 "Bad request".
            if exc.http_status == 404:
                raise map_stripe_error(exc) from exc
            current = self.retrieve_payment_intent(payment_intent_id)
            if current.status in _TERMINAL_INTENT_STATES:
                return current
            raise map_stripe_error(exc) from exc
        except stripe.StripeError as exc:
            raise map_stripe_error(exc) from exc
        return PaymentIntentInfo.from_stripe(intent)

    # -- refunds, customers, setup intents -------------------------------------------

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int | None,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> RefundInfo:
        """Refund `amount` cents of a succeeded intent (None = what is left of it)."""
        params: RefundCreateParams = {
            "payment_intent": payment_intent_id,
            "metadata": dict(metadata),
        }
        if amount is not None:
            params["amount"] = amount
        with _stripe_errors():
            refund = self.client.v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        return RefundInfo.from_stripe(refund)

    def list_refunds(self, payment_intent_id: str) -> list[RefundInfo]:
        """Every refund of a payment intent, ours and the dashboard's (all pages)."""
        params: RefundListParams = {"payment_intent": payment_intent_id, "limit": 100}
        with _stripe_errors():
            page = self.client.v1.refunds.list(params=params)
            refunds = list(page.auto_paging_iter())
        return [RefundInfo.from_stripe(refund) for refund in refunds]

    def create_customer(
        self, *, email: str, name: str, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        """A Stripe customer; answers its id (`cus_...`)."""
        params: CustomerCreateParams = {"email": email, "name": name, "metadata": dict(metadata)}
        with _stripe_errors():
            customer = self.client.v1.customers.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        return customer.id

    def delete_customer(self, customer: str) -> None:
        """Delete a customer (its saved cards and mandates go with it); `resource_missing`
        means it is already gone: a retried erasure finds nothing left to delete."""
        import stripe

        try:
            self.client.v1.customers.delete(customer)
        except stripe.InvalidRequestError as exc:
            # Stripe says `resource_missing`; localstripe answers a bare 404.
            if exc.code != "resource_missing" and exc.http_status != 404:
                raise map_stripe_error(exc) from exc
        except stripe.StripeError as exc:
            raise map_stripe_error(exc) from exc

    def create_setup_intent(
        self,
        *,
        customer: str,
        payment_method_types: list[str],
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> SetupIntentInfo:
        """Save a payment method (card or sepa_debit) for later off-session charges."""
        params: dict[str, Any] = {
            "customer": customer,
            "usage": "off_session",
            "metadata": dict(metadata),
            **self._payment_method_types(payment_method_types),
        }
        with _stripe_errors():
            intent = self.client.v1.setup_intents.create(
                params=cast("SetupIntentCreateParams", params),
                options={"idempotency_key": idempotency_key},
            )
        return SetupIntentInfo(
            id=intent.id, client_secret=intent.client_secret or "", status=intent.status
        )

    def retrieve_dispute(self, dispute_id: str) -> dict[str, Any]:
        """A dispute as `charge.dispute.*` events carry it (for one whose events never
        came: the reconciliation found its balance transaction)."""
        with _stripe_errors():
            dispute = self.client.v1.disputes.retrieve(dispute_id)
        return dict(dispute.to_dict())

    def retrieve_refund(self, refund_id: str) -> dict[str, Any]:
        """A refund as `charge.refunded` lists it (for one made in the Dashboard whose
        event never came: the reconciliation found its balance transaction)."""
        with _stripe_errors():
            refund = self.client.v1.refunds.retrieve(refund_id)
        return dict(refund.to_dict())

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupIntentInfo:
        with _stripe_errors():
            intent = self.client.v1.setup_intents.retrieve(setup_intent_id)
        return SetupIntentInfo(
            id=intent.id, client_secret=intent.client_secret or "", status=intent.status
        )

    # -- off-session charges (memberships) --------------------------------------------

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
    ) -> PaymentIntentInfo:
        """Charge a saved card or SEPA mandate now, without its holder (`confirm` +
        `off_session`). Answers the intent when it `succeeded` or is `processing` (a SEPA
        debit settles days later; its outcome comes as a webhook), raises
        `OffSessionChargeFailed` otherwise: `reason="authentication_required"` when the
        bank wants the cardholder (Stripe answers 402 with that code; localstripe leaves
        the intent in `requires_action`), Stripe's decline code for a refusal.
        The saved method's type is allowed explicitly (as the SetupIntent that saved it
        did): left out, the intent would follow the Dashboard's payment method
        configuration, which may not enable it (a SEPA renewal refused)."""
        import stripe

        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer,
            "payment_method": payment_method,
            "confirm": True,
            "off_session": True,
            "metadata": dict(metadata),
            **self._payment_method_types([payment_method_type]),
        }
        if self._localstripe_compat:
            params["metadata"] = {"description": description, **metadata}
        else:
            params["description"] = description
        try:
            intent = self.client.v1.payment_intents.create(
                params=cast("PaymentIntentCreateParams", params),
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            mapped = map_stripe_error(exc)
            if not isinstance(mapped, PaymentFailed):
                raise mapped from exc
            error = exc.error
            raise OffSessionChargeFailed(
                mapped.detail,
                reason=(error.code if error else None) or exc.code or "payment_failed",
                payment_intent_id=_ref(error.payment_intent if error else None),
            ) from exc
        info = PaymentIntentInfo.from_stripe(intent)
        if info.status not in ("succeeded", "processing"):
            raise OffSessionChargeFailed(
                f"Off-session charge not completed (status={info.status}).",
                reason=_OFF_SESSION_REASONS.get(info.status, "payment_failed"),
                payment_intent_id=info.id,
            )
        return info

    # -- reconciliation --------------------------------------------------------------

    def list_balance_transactions(
        self, *, starting_after: str | None, limit: int = 100, payout: str | None = None
    ) -> tuple[list[BalanceTransactionInfo], bool]:
        """One page of balance transactions, newest first; answers (page, has_more).

        `payout` restricts to the transactions paid out by that (automatic) payout;
        localstripe does not support that filter (-> `PaymentProviderError`).
        """
        params: BalanceTransactionListParams = {"limit": limit}
        if starting_after is not None:
            params["starting_after"] = starting_after
        if payout is not None:
            params["payout"] = payout
        with _stripe_errors():
            page = self.client.v1.balance_transactions.list(params=params)
        items = [
            BalanceTransactionInfo(
                id=txn.id,
                amount=txn.amount,
                fee=txn.fee,
                net=txn.net,
                type=txn.type,
                source=_ref(txn.source),
                created=txn.created,
            )
            for txn in page.data
        ]
        return items, bool(page.has_more)

    def list_payouts(
        self, *, starting_after: str | None, limit: int = 100
    ) -> tuple[list[PayoutInfo], bool]:
        """One page of payouts, as Stripe orders them; answers (page, has_more)."""
        params: PayoutListParams = {"limit": limit}
        if starting_after is not None:
            params["starting_after"] = starting_after
        with _stripe_errors():
            page = self.client.v1.payouts.list(params=params)
        items = [
            PayoutInfo(
                id=payout.id,
                amount=payout.amount,
                arrival_date=payout.arrival_date,
                status=payout.status,
                created=payout.created,
                # localstripe's payouts have none: taken as reconciled
                reconciliation_status=getattr(payout, "reconciliation_status", None) or "completed",
            )
            for payout in page.data
        ]
        return items, bool(page.has_more)

    # -- webhooks --------------------------------------------------------------------

    def parse_webhook(
        self, payload: bytes, signature_header: str | None, secret: str, tolerance: int = 300
    ) -> dict[str, Any]:
        """See the module-level `parse_webhook` (needs no API key nor client)."""
        return parse_webhook(payload, signature_header, secret, tolerance)

    # -- reconciliation: what a payout paid out --------------------------------------

    def list_payout_transactions(
        self, payout_id: str, *, starting_after: str | None, limit: int = 100
    ) -> tuple[list[BalanceTransactionInfo], bool]:
        """One page of the balance transactions paid out by `payout_id` (its own `payout`
        transaction included); answers (page, has_more).

        Stripe itemizes automatic payouts only (a manual payout is refused ->
        `PaymentProviderError`). localstripe refuses the `payout` filter altogether and
        only has manual payouts: there the answer is an empty page with has_more False,
        i.e. "nothing known to be in this payout".
        """
        try:
            return self.list_balance_transactions(
                starting_after=starting_after, limit=limit, payout=payout_id
            )
        except PaymentProviderError:
            if self._localstripe_compat:
                return [], False
            raise


def parse_webhook(
    payload: bytes, signature_header: str | None, secret: str, tolerance: int = 300
) -> dict[str, Any]:
    """Verify a `Stripe-Signature` header against the raw body; answer the event as a dict.

    Raises `InvalidSignature` when the header is missing or malformed, no signature
    matches `secret`, the timestamp is older than `tolerance` seconds, or the signed
    body is not a JSON event object. The check is `stripe.WebhookSignature.verify_header`
    (what `stripe.Webhook.construct_event` runs) followed by a plain `json.loads`, so no
    Stripe object is built.
    """
    import stripe

    if not signature_header:
        raise InvalidSignature("Missing Stripe-Signature header.")
    if not signature_header.isascii():  # the SDK's compare_digest would raise TypeError
        raise InvalidSignature("Unable to extract timestamp and signatures from header.")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSignature("Webhook body is not UTF-8.") from exc
    try:
        stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature(exc.user_message or "Invalid Stripe-Signature header.") from exc
    # The SDK refuses a timestamp too old only; one too far ahead is refused here too.
    if _signed_at(signature_header) > time.time() + tolerance:
        raise InvalidSignature("Timestamp outside the tolerance zone (in the future).")
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise InvalidSignature("Signed webhook body is not JSON.") from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise InvalidSignature("Signed webhook body is not a Stripe event.")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict) or any(
        not isinstance(obj.get(name), (dict, type(None))) for name in EVENT_OBJECT_MAPS
    ):
        raise InvalidSignature("Signed webhook body is not a Stripe event: no object in it.")
    return event


# The fields of an event's object that Stripe always sends as maps (or not at all) and
# that Relais reads into: anything else is not Stripe's event, refused here (400) rather
# than failing half-way through a handler.
EVENT_OBJECT_MAPS = ("metadata", "evidence_details", "charges", "refunds", "last_payment_error")


def _signed_at(signature_header: str) -> int:
    """The `t=` of a Stripe-Signature header the SDK has verified (so it has one)."""
    for part in signature_header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    raise InvalidSignature("Unable to extract timestamp and signatures from header.")


@contextmanager
def _stripe_errors() -> Iterator[None]:
    """Turn the Stripe SDK's errors into domain errors (other exceptions pass through)."""
    import stripe

    try:
        yield
    except stripe.StripeError as exc:
        raise map_stripe_error(exc) from exc


def map_stripe_error(exc: stripe.StripeError) -> RelaisError:
    """The domain error for an error raised by the Stripe SDK."""
    import stripe

    message = exc.user_message or exc.__class__.__name__
    # The SDK sets `code` on card and parameter errors only; an idempotency error's (and a
    # 409's) is in the error object it read from the body.
    code = exc.code or (getattr(exc.error, "code", None) if exc.error is not None else None)
    status = exc.http_status
    described = f"{message} (code={code})" if code else message

    if isinstance(exc, stripe.CardError):
        return PaymentFailed(described)
    if isinstance(exc, stripe.InvalidRequestError) and code in _PAYMENT_FAILURE_CODES:
        return PaymentFailed(described)
    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)):
        return PaymentProviderUnavailable(f"Payment provider unreachable: {described}")
    if status == 409 or code == "idempotency_key_in_use":
        # The same key is being processed by a concurrent request (the SDK's own retry
        # of a slow call: Stripe answers 409, which the SDK raises as a plain APIError):
        # the first may have charged. Retry shortly: the key then answers its result.
        return PaymentProviderUnavailable(f"Payment provider busy: {described}")
    if isinstance(exc, stripe.IdempotencyError):  # the key was first used otherwise
        return PaymentProviderConflict(f"Payment provider refused the key: {described}")
    if isinstance(exc, stripe.APIError) and (status is None or status >= 500):
        return PaymentProviderUnavailable(f"Payment provider error (HTTP {status}): {described}")
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        # Our key is wrong, revoked or lacks a permission: nothing the request or the
        # customer did (never a refused charge: no membership goes past due for it).
        return Misconfigured(f"The payment provider refused our credentials: {described}")
    # InvalidRequestError (unknown id, bad parameter), IdempotencyError, APIError 4xx
    # (e.g. an endpoint the server does not have answering a non-JSON 404/405).
    return PaymentProviderError(
        f"Payment provider refused the request (HTTP {status}): {described}"
    )


def _ref(value: object) -> str | None:
    """The id behind an expandable field (an id string, or an expanded object)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    ref = getattr(value, "id", None)
    if ref is None and isinstance(value, dict):
        ref = value.get("id")
    return ref if isinstance(ref, str) else None
