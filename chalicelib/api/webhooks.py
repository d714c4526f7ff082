"""Stripe's webhook endpoint: the signature is checked on the raw body before anything."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.schemas import WebhookAnswer
from chalicelib.services.webhooks import handle_stripe_webhook

bp = Blueprint(__name__)


@endpoint(
    bp,
    "/v1/webhooks/stripe",
    "POST",
    summary="Stripe events (signed)",
    tag="webhooks",
    auth="public",
    errors=(400,),
    response=WebhookAnswer,
)
def stripe_webhook(call: Call) -> Any:
    return handle_stripe_webhook(call.ctx, call.raw_body, call.headers.get("stripe-signature"))
