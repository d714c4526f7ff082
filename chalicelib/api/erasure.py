"""The member's own erasure: `DELETE /v1/me` → 204 (see services/erasure.py for what it does)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.services import erasure

bp = Blueprint(__name__)


@endpoint(
    bp,
    "/v1/me",
    "DELETE",
    summary="Erase me: bookings cancelled, memberships and company link ended, data anonymised",
    tag="members",
    status=204,
    produces="text/plain",
)
def delete_me(call: Call) -> Any:
    erasure.erase_member(call.ctx, call.principal)
    return Response(body="", status_code=204)
