"""HMAC signatures of the status webhooks an accredited platform sends (pure rules).

The platform signs each delivery with the operator's webhook secret, the way Stripe
signs its events: header `X-PA-Signature: t={unix seconds},v1={hex}` where the hex is
HMAC-SHA256(secret, "{t}.{raw body}"). Relais checks it on the raw body, in constant
time, and refuses a timestamp further than the tolerance from now (a replayed delivery).
Several `v1=` values are accepted (a secret being rotated).
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-PA-Signature"
TOLERANCE_SECONDS = 300


class BadSignature(ValueError):
    """Missing, malformed, wrong or stale signature."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def check(
    body: bytes, header: str | None, secret: str, now: float, tolerance: int = TOLERANCE_SECONDS
) -> None:
    """Raise BadSignature unless `header` signs `body` with `secret` within `tolerance`."""
    if not header:
        raise BadSignature(f"Missing {HEADER} header.")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)  # ASCII digits only: "²" is a digit to isdigit, not to int
        elif name == "v1" and value.isascii() and value:
            candidates.append(value)  # compare_digest refuses a str that is not ASCII
    if timestamp is None or not candidates:
        raise BadSignature(f"Malformed {HEADER} header.")
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in candidates):
        raise BadSignature("No signature matches the operator's webhook secret.")
    if abs(now - timestamp) > tolerance:
        raise BadSignature("Signature timestamp outside the tolerance.")
