"""Stripe webhooks: verified, claimed once per event id, then dispatched by type."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.errors import ServiceUnavailable
from chalicelib.observability import count, measure
from chalicelib.services import membership_charges, payments, refund_failures
from chalicelib.services.context import Context
from chalicelib.services.wallet import purchase_paid


def handle_stripe_webhook(ctx: Context, payload: bytes, signature: str | None) -> dict[str, Any]:
    event = ctx.gateway.parse_webhook(
        payload,
        signature,
        ctx.secrets.stripe_webhook_secret.get(),
        ctx.settings.stripe_webhook_tolerance,
    )
    event_id = str(event.get("id") or "")
    if _claim(ctx, event_id) == "done":
        return {"received": True, "duplicate": True}
    handler = HANDLERS.get(event["type"])
    dated = DATED_HANDLERS.get(event["type"])
    try:
        obj = (event.get("data") or {}).get("object") or {}
        if dated:
            outcome = dated(ctx, obj, occurred_at(event))
        else:
            outcome = handler(ctx, obj) if handler else "ignored"
        # Not recorded as done (throttled...): given back too, so that Stripe's next
        # delivery does it again (every handler is idempotent) rather than wait on a
        # claim nobody holds any more.
        ctx.payments.finish_event(event_id, outcome)
    except Exception:
        ctx.payments.release_event(event_id)
        count("WebhookFailures")  # Stripe delivers it again; the alarm says if it persists
        raise
    _observe(ctx, event)
    return {"received": True, "outcome": outcome}


# How long a delivery waits for a concurrent one of the same event (Stripe retrying a
# slow first attempt) to finish or fail, before asking Stripe to deliver it again later.
BUSY_WAIT_SECONDS = 5.0
BUSY_POLL_SECONDS = 0.1


def _claim(ctx: Context, event_id: str) -> str:
    """'claimed' (process it) or 'done' (already processed: a duplicate). An event in
    flight elsewhere is waited for: answering it as a duplicate (200) would tell Stripe
    it was delivered, and if that other attempt then failed, nothing would deliver it
    again. Still in flight after the wait: 503, and Stripe delivers it again later."""
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        claim = ctx.payments.claim_event(event_id, ctx.clock.now().timestamp())
        if claim != "busy":
            return claim
        if time.monotonic() >= deadline:
            raise ServiceUnavailable(
                "This event is being processed by another delivery; deliver it again later.",
                retry_after=60,
            )
        time.sleep(BUSY_POLL_SECONDS)


# The events whose count is a business figure: what each one means, as a metric name.
EVENT_METRICS = {
    "payment_intent.succeeded": "PaymentsSucceeded",
    "payment_intent.payment_failed": "PaymentsFailed",
    "charge.refunded": "RefundsSettled",
    "charge.dispute.created": "DisputesOpened",
}


def _observe(ctx: Context, event: dict[str, Any]) -> None:
    """Metrics of an event taken into account (once: duplicates never get here)."""
    metric = EVENT_METRICS.get(str(event.get("type")))
    if metric:
        count(metric)
    created = event.get("created")
    if isinstance(created, (int, float)) and not isinstance(created, bool):
        # From Stripe creating the event to Relais acting on it: redeliveries show here.
        measure("WebhookLag", "Seconds", max(0.0, ctx.clock.now().timestamp() - created))


def occurred_at(event: dict[str, Any]) -> datetime | None:
    """When Stripe says the event happened (`created`), if it says so."""
    created = event.get("created")
    if isinstance(created, int) and not isinstance(created, bool):
        return datetime.fromtimestamp(created, UTC)
    return None


def intent_succeeded(ctx: Context, intent: dict[str, Any]) -> str:
    metadata = intent.get("metadata") or {}
    kind = metadata.get("kind")
    if kind == "booking":
        booking = ctx.bookings.get(str(metadata.get("booking_id")))
        return payments.booking_paid(ctx, intent, booking) if booking else "ignored"
    if kind == "purchase":
        purchase = ctx.payments.purchase(str(metadata.get("purchase_id")))
        return purchase_paid(ctx, intent, purchase) if purchase else "ignored"
    if kind == "membership":
        return membership_charges.intent_succeeded(ctx, intent)
    return "ignored"


def intent_failed(ctx: Context, intent: dict[str, Any]) -> str:
    if (intent.get("metadata") or {}).get("kind") == "membership":
        return membership_charges.intent_failed(ctx, intent)
    return payments.payment_failed(ctx, intent)


HANDLERS: dict[str, Callable[[Context, dict[str, Any]], str]] = {
    "payment_intent.succeeded": intent_succeeded,
    "payment_intent.processing": membership_charges.intent_processing,
    "payment_intent.payment_failed": intent_failed,
    "setup_intent.succeeded": membership_charges.setup_succeeded,
    "charge.refunded": payments.charge_refunded,
    # A refund's later status (a card closed since: `failed`). Stripe sends the first
    # for charges; `refund.*` for every refund on current API versions.
    "charge.refund.updated": refund_failures.refund_updated,
    "refund.updated": refund_failures.refund_updated,
    "refund.failed": refund_failures.refund_updated,
}

# The handlers that also take when the event happened: a dispute closes when Stripe says
# so, not when its event reaches Relais (Stripe retries a failed delivery for three days,
# and the close decides which reconciliation report lists it).
DATED_HANDLERS: dict[str, Callable[[Context, dict[str, Any], datetime | None], str]] = {
    # A dispute's life: Stripe takes the money when it is opened, gives it back if won.
    "charge.dispute.created": payments.dispute_changed,
    "charge.dispute.updated": payments.dispute_changed,
    "charge.dispute.closed": payments.dispute_changed,
}
