"""Delivering signed Stripe events to the app in tests."""

from __future__ import annotations

from typing import Any

from chalicelib.config import Settings
from tests.support.api import Api
from tests.support.fake_stripe import signed_event


def deliver(
    api: Api,
    settings: Settings,
    event_type: str,
    obj: dict[str, Any],
    event_id: str | None = None,
    created: int | None = None,
) -> Any:
    """`obj` as the object of a signed `event_type` event, created at `created` (else now)."""
    payload, header = signed_event(
        event_type, obj, settings.stripe_webhook_secret, event_id=event_id, created=created
    )
    return api.post("/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header})
