"""Route of the availability search."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import Near, Query, QueryDate
from chalicelib.api.schemas import AvailabilityOut
from chalicelib.domain.catalogue import ResourceKind
from chalicelib.domain.geo import parse_near
from chalicelib.services.availability import availability

bp = Blueprint(__name__)


class AvailabilityQuery(Query):
    date: QueryDate = Field(description="The day, `YYYY-MM-DD` (2000 to 2100).")
    relay_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="Only this relay."
    )
    kind: ResourceKind | None = Field(default=None, description="Only resources of this kind.")
    near: Near | None = None


@endpoint(
    bp,
    "/v1/availability",
    "GET",
    summary="Free seats per 30-minute slot",
    tag="availability",
    auth="public",
    query=AvailabilityQuery,
    errors=(404, 422),
    response=AvailabilityOut,
)
def get_availability(call: Call) -> Any:
    q: AvailabilityQuery = call.query
    near = parse_near(q.near) if q.near else None
    return availability(call.ctx, q.date, relay_id=q.relay_id, kind=q.kind, near=near)
