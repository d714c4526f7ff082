"""Conditional GETs of issued documents: strong ETags, `If-None-Match`, immutable caching.

An issued invoice or credit note never changes (its hash seals it), so each of its
representations has a strong ETag built from that hash and may be cached for a year.
"""

from __future__ import annotations

import re

from chalice import Response

IMMUTABLE = "private, max-age=31536000, immutable"
_TAG = re.compile(r'\s*(?:W/)?("[\x21\x23-\x7e]*")\s*')


def document_etag(document_hash: str, representation: str) -> str:
    suffix = "" if representation == "json" else f"-{representation}"
    return f'"{document_hash}{suffix}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names this tag (weak comparison, as RFC 9110 asks).

    A malformed header matches nothing: the full answer is sent.
    """
    if not if_none_match or len(if_none_match) > 2000:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = []
    for part in if_none_match.split(","):
        found = _TAG.fullmatch(part)
        if found is None:
            return False
        tags.append(found.group(1))
    return etag in tags


def cache_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": IMMUTABLE}


def not_modified(etag: str) -> Response:
    headers: dict[str, str | list[str]] = {**cache_headers(etag)}
    return Response(body="", status_code=304, headers=headers)
