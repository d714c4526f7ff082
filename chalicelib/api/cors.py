"""Cross-origin rules: which origins may call the API from a browser, and what they see.

Origins are matched exactly against `ALLOWED_ORIGINS`; a disallowed origin gets no CORS
header at all (its request is still answered: the browser is what refuses it).
Tokens travel in `Authorization`, so credentials (cookies) are never allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "Accept-Language",
    "X-Request-Id",
)
EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "X-Request-Id",
    "Retry-After",
    "Content-Disposition",
    "Idempotent-Replayed",
    "Allow",
    "WWW-Authenticate",  # a 401's Bearer challenge
)
PREFLIGHT_MAX_AGE_SECONDS = 600


def parse_origins(setting: str) -> frozenset[str]:
    """`https://a.example, https://b.example` → the set; blanks and trailing slashes dropped."""
    return frozenset(o.strip().rstrip("/") for o in setting.split(",") if o.strip())


def allowed_origin(origin: str | None, allowed: Iterable[str]) -> str | None:
    """The origin to echo back, or None (unknown, missing, or not in the list)."""
    if origin is None or len(origin) > 200 or not origin.isprintable():
        return None
    return origin if origin in allowed else None


def response_headers(origin: str | None) -> dict[str, str]:
    """Headers of an actual answer: `Vary: Origin` always, the rest for an allowed origin."""
    headers = {"Vary": "Origin"}
    if origin is not None:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    return headers


def preflight_headers(origin: str | None, methods: Iterable[str]) -> dict[str, str | list[str]]:
    """Headers of the answer to a preflight `OPTIONS` for a route with these methods."""
    allow = ", ".join(methods)
    headers: dict[str, str | list[str]] = {"Vary": "Origin", "Allow": allow}
    if origin is not None:
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": allow,
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
            }
        )
    return headers
