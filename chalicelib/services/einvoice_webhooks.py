"""Lifecycle statuses pushed by the operator's accredited platform (webhook).

The platform calls `POST /v1/einvoicing/platforms/{operator_id}/webhook` with, for one
flow, the statuses it knows — the same shape as its `GET /v1/flows/{flowId}`:
`{"flowId", "trackingId", "lifecycle": [{"code", "at"}...]}`, signed with the
operator's webhook secret (domain/webhook_signature.py; the secret is set with the
platform settings and kept in SSM beside the client secret), or, for an operator on the
deployment-wide platform, the deployment's (`EREPORTING_PLATFORM_WEBHOOK_SECRET*`).
The statuses are applied by the same rule as the hourly poll
(`domain/lifecycle.with_reported`): each once, never back from a final status, so a
replayed or late delivery changes nothing. Polling stays: a status whose webhook was lost
is read by the next `route_einvoices` run.

A delivery for an unknown flow (another attempt's, or one whose deposit is not recorded
yet) is answered 200 `ignored`: the poll will read it. A bad signature is 400
`invalid_signature` (also when the operator has no webhook secret, or is unknown: the
answer says nothing more).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain import webhook_signature
from chalicelib.domain.lifecycle import with_reported
from chalicelib.errors import ConcurrentUpdate, InvalidSignature, NotFound, ValidationFailed
from chalicelib.observability import count, logger
from chalicelib.services.catalogue import get_operator
from chalicelib.services.context import Context
from chalicelib.services.platform import webhook_secret

ATTEMPTS = 3


def receive_status_webhook(
    ctx: Context, operator_id: str, payload: bytes, header: str | None
) -> dict[str, Any]:
    try:  # an unknown operator costs no SSM read (the path is anyone's to call)
        get_operator(ctx, operator_id)
    except NotFound as exc:
        raise InvalidSignature("No webhook secret is configured for this operator.") from exc
    if not header:  # unsigned: refused before any secret is read
        raise InvalidSignature("The request is not signed.")
    secret = webhook_secret(ctx, operator_id)
    if not secret:
        raise InvalidSignature("No webhook secret is configured for this operator.")
    try:
        webhook_signature.check(payload, header, secret, ctx.clock.now().timestamp())
    except webhook_signature.BadSignature as exc:
        count("EInvoiceWebhookBadSignature")
        raise InvalidSignature(str(exc)) from exc
    flow_id, tracking_id, reported = _event(payload)
    document_id = _document_id(tracking_id)
    for _ in range(ATTEMPTS):
        state = ctx.einvoices.get(operator_id, document_id)
        if state is None or state.get("flow_id") != flow_id:
            return {"received": True, "outcome": "ignored"}
        attempt = int(state.get("attempt") or 1)
        history = with_reported(list(state.get("history") or []), reported, attempt)
        if history is None:
            return {"received": True, "duplicate": True, "outcome": "unchanged"}
        if ctx.einvoices.update(operator_id, state, history):
            logger().info(
                "einvoice_status_pushed",
                extra={"document_id": document_id, "codes": [c for c, _ in reported]},
            )
            count("EInvoiceStatusesPushed")
            return {"received": True, "outcome": "updated"}
    raise ConcurrentUpdate("The invoice's lifecycle kept changing; deliver again.")


def _event(payload: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    """The flow id, tracking id and `(code, at)` statuses of a signed delivery; 422
    naming the field when it is not that shape."""
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise ValidationFailed("The body is not JSON.", "body") from exc
    if not isinstance(event, dict):
        raise ValidationFailed("The body must be an object.", "body")
    for name in ("flowId", "trackingId"):
        value = event.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= 200:
            raise ValidationFailed("must be a non-empty string", name)
    lifecycle = event.get("lifecycle")
    if not isinstance(lifecycle, list) or len(lifecycle) > 50:
        raise ValidationFailed("must be a list of {code, at}", "lifecycle")
    reported: list[tuple[str, str]] = []
    for entry in lifecycle:
        code = entry.get("code") if isinstance(entry, dict) else None
        at = entry.get("at") if isinstance(entry, dict) else None
        if not isinstance(code, str) or not isinstance(at, str) or len(at) > 40:
            raise ValidationFailed("each status needs a string code and at", "lifecycle")
        reported.append((code, at))
    return event["flowId"], event["trackingId"], reported


def _document_id(tracking_id: str) -> str:
    """A document's first flow is tracked by its id, a resend by `{id}.{attempt}`."""
    base, _, attempt = tracking_id.rpartition(".")
    return base if base and attempt.isdigit() else tracking_id
