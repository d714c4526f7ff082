"""Routes of a relay's closures: list (public) and lift (If-Match). Creating one is
`POST /v1/relays/{relay_id}/closures` in catalogue.py."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import DateSpan, PageQuery
from chalicelib.domain.catalogue import Closure
from chalicelib.services import closures

bp = Blueprint(__name__)


class ClosureFilters(PageQuery, DateSpan):
    pass


@endpoint(
    bp,
    "/v1/relays/{relay_id}/closures",
    "GET",
    summary="Closures of a relay, by date",
    tag="catalogue",
    auth="public",
    query=ClosureFilters,
    response=list[Closure],
    errors=(404, 422),
)
def list_closures(call: Call) -> Any:
    query: ClosureFilters = call.query
    items, next_cursor = closures.list_closures(
        call.ctx, call.params["relay_id"], (query.from_, query.to), query.limit, query.cursor
    )
    return {"items": items, "next_cursor": next_cursor}


@endpoint(
    bp,
    "/v1/relays/{relay_id}/closures/{closure_id}",
    "DELETE",
    summary="Re-open a closed day (If-Match); cancelled bookings stay cancelled",
    tag="catalogue",
    status=204,
    produces="text/plain",
    errors=(403, 404, 412, 428),
    role="staff",
)
def delete_closure(call: Call) -> Any:
    raw = call.headers.get("if-match")
    closures.lift(call.ctx, call.principal, call.params["relay_id"], call.params["closure_id"], raw)
    return Response(body="", status_code=204)
