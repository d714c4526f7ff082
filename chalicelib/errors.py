"""Every error the API can answer, each with its stable `code` and HTTP status.

The API layer turns a `RelaisError` into an `application/problem+json` answer
(RFC 9457); services and the domain only raise.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RelaisError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str = "",
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        # Sent with the problem answer (`Allow`, `Retry-After`...).
        self.headers = headers or {}


class ValidationFailed(RelaisError):
    code, status, title = "validation_error", 422, "Validation failed"

    def __init__(self, detail: str, field: str | None = None, errors: list[dict] | None = None):
        if errors is None and field is not None:
            errors = [{"field": field, "message": detail}]
        super().__init__(detail, errors)


class MalformedJson(RelaisError):
    code, status, title = "malformed_json", 400, "Malformed JSON"


class Unauthenticated(RelaisError):
    """401 with its Bearer challenge (RFC 9110 §15.5.2, RFC 6750 §3): `error="invalid_token"`
    when a token was sent and refused (bad signature, expired, wrong claims)."""

    code, status, title = "unauthenticated", 401, "Authentication required"
    REALM: ClassVar[str] = "relais"

    def __init__(self, detail: str = "", *, token_refused: bool = False) -> None:
        challenge = f'Bearer realm="{self.REALM}"'
        if token_refused:
            challenge += ', error="invalid_token"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(RelaisError):
    code, status, title = "forbidden", 403, "Forbidden"


class NotFound(RelaisError):
    code, status, title = "not_found", 404, "Not found"


class SlotUnavailable(RelaisError):
    code, status, title = "slot_unavailable", 409, "Slot unavailable"


class RelayClosed(RelaisError):
    code, status, title = "relay_closed", 409, "Relay closed"


class OutsideOpeningHours(RelaisError):
    code, status, title = "outside_opening_hours", 422, "Outside opening hours"


class InsufficientCredits(RelaisError):
    code, status, title = "insufficient_credits", 409, "Insufficient credits"


class MembershipRequired(RelaisError):
    code, status, title = "membership_required", 409, "Membership required"


class InvalidState(RelaisError):
    code, status, title = "invalid_state", 409, "Invalid state"


class IdempotencyConflict(RelaisError):
    code, status, title = "idempotency_conflict", 409, "Idempotency conflict"


class IdempotencyInFlight(RelaisError):
    """The first request with this key is still running: retry after `Retry-After` seconds."""

    code, status, title = "idempotency_in_flight", 409, "Request in flight"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class AlreadyExists(RelaisError):
    code, status, title = "already_exists", 409, "Already exists"


class InvalidSignature(RelaisError):
    code, status, title = "invalid_signature", 400, "Invalid signature"


class PaymentFailed(RelaisError):
    code, status, title = "payment_failed", 402, "Payment failed"


class OffSessionChargeFailed(PaymentFailed):
    """An off-session charge did not go through (402 `payment_failed` if it ever reached a
    client). `reason` is Stripe's code, so callers can tell a card that needs its holder
    (`authentication_required`) from a refusal (`card_declined`, `insufficient_funds`...);
    `payment_intent_id` is the failed intent when the provider names it."""

    def __init__(self, detail: str, *, reason: str, payment_intent_id: str | None = None):
        super().__init__(detail)
        self.reason = reason
        self.payment_intent_id = payment_intent_id

    @property
    def needs_authentication(self) -> bool:
        return self.reason == "authentication_required"


class RateLimited(RelaisError):
    code, status, title = "rate_limited", 429, "Too many requests"

    def __init__(self, detail: str = "", retry_after: int = 1) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after)


class MethodNotAllowed(RelaisError):
    code, status, title = "method_not_allowed", 405, "Method not allowed"

    def __init__(self, detail: str, allowed: list[str]) -> None:
        super().__init__(detail, headers={"Allow": ", ".join(allowed)})


class PaymentProviderError(RelaisError):
    """Stripe refused a request we built: a bug or a configuration problem on our side."""

    code, status, title = "payment_provider_error", 502, "Payment provider error"


class PaymentProviderConflict(PaymentProviderError):
    """Stripe refused to reuse an idempotency key with other parameters: a request under
    that key exists (it may have charged), so this is never a refusal of the payment."""


RETRY_AFTER_SECONDS = 1


class ServiceUnavailable(RelaisError):
    """A dependency failed for a moment (DynamoDB throttled, timed out or errored, Stripe
    unreachable): nothing was half written, and the same request, retried after
    `Retry-After` seconds with the same Idempotency-Key, completes once."""

    code, status, title = "service_unavailable", 503, "Service unavailable"

    def __init__(self, detail: str = "", retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class PaymentProviderUnavailable(ServiceUnavailable):
    """Stripe could not be reached; the caller may retry with the same Idempotency-Key."""

    title = "Payment provider unavailable"


class ConcurrentUpdate(ServiceUnavailable):
    """A DynamoDB transaction kept conflicting; safe to retry."""

    title = "Concurrent update, retry"


class PreconditionRequired(RelaisError):
    """A PATCH or DELETE of an editable object came without `If-Match`."""

    code, status, title = "precondition_required", 428, "Precondition required"


class PreconditionFailed(RelaisError):
    """`If-Match` names a version the object no longer has: nothing was changed."""

    code, status, title = "precondition_failed", 412, "Precondition failed"


class CapacityConflict(RelaisError):
    """A lower capacity than the seats already taken on a future slot; nothing changed."""

    code, status, title = "capacity_conflict", 409, "Capacity conflict"

    def __init__(self, detail: str, conflicts: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.conflicts = conflicts


class ImmutableField(RelaisError):
    """A field that may no longer change (e.g. a SIREN once a document was issued)."""

    code, status, title = "immutable_field", 409, "Immutable field"


class SettingsLocked(RelaisError):
    """An operator's accounting settings may not change now: the fiscal year they would
    apply to already has a closed period."""

    code, status, title = "accounting_settings_locked", 409, "Accounting settings locked"


class Misconfigured(RelaisError):
    """The deployment's settings are wrong (logged once per container); nothing can run."""

    code, status, title = "misconfigured", 503, "Service misconfigured"


class TooLargeForSync(RelaisError):
    """A direct download would pass Lambda's answer limit: ask for an export instead."""

    code, status, title = "too_large", 413, "Too large for a direct download"
