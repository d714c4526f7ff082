"""`Idempotency-Key` on creating POSTs, as a small state machine per caller and key.

    (absent) --claim--> in flight --answer stored--> done
        ^                   |
        +---- released -----+   (the request failed: the caller may retry with the key)

- absent: the request runs, its answer is stored and replayed for 24 h;
- in flight, same request: 409 `idempotency_in_flight` with `Retry-After` — the API never
  waits inside a request for another one to finish (a crashed run's claim lapses);
- done, same request: the stored status and body, `Idempotent-Replayed: true`;
- any state, another request under the same key: 409 `idempotency_conflict`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib.api.responses import json_response
from chalicelib.errors import IdempotencyConflict, IdempotencyInFlight, ValidationFailed

if TYPE_CHECKING:
    from chalicelib.adapters.idempotency_store import IdempotencyStore

RETRY_AFTER_SECONDS = 1


# 1 to 255 visible ASCII characters, spaces inside (as documented in the OpenAPI document).
KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$"
_KEY = re.compile(KEY_PATTERN)


def parse_key(value: str) -> str:
    if not _KEY.fullmatch(value):
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 255 visible ASCII characters.", field="Idempotency-Key"
        )
    return value


def request_fingerprint(method: str, path: str, params: dict[str, str], body: Any) -> str:
    """What makes two requests "the same": route, path parameters and JSON body."""
    canonical = json.dumps([method, path, params, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def answer_once(
    store: IdempotencyStore,
    scope: str,
    key: str,
    fingerprint: str,
    now: float,
    run: Callable[[], Response],
) -> Response:
    """Run the request once per (scope, key); replay its answer to the same request."""
    claim_id = secrets.token_hex(8)
    existing = store.claim(scope, key, fingerprint, now, claim_id)
    if existing is None:
        try:
            response = run()
            store.complete(scope, key, response.status_code, json.loads(response.body))
        except BaseException:
            # Failed, or its answer could not be stored: the key is free again, and the
            # retry runs the request again (its ids derive from the key: no second effect).
            store.release(scope, key, claim_id)
            raise
        return response
    if existing.request_hash != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was already used with another request.")
    if existing.status != "completed":
        raise IdempotencyInFlight(
            "A request with this Idempotency-Key is still in progress; retry shortly.",
            retry_after_seconds=RETRY_AFTER_SECONDS,
        )
    replay = json_response(existing.response_body, existing.response_status or 200)
    replay.headers["Idempotent-Replayed"] = "true"
    return replay
