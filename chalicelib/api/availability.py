"""Route of the availability search."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.schemas import AvailabilityOut
from chalicelib.domain.catalogue import ResourceKind
from chalicelib.domain.geo import parse_near
from chalicelib.services.availability import availability

bp = Blueprint(__name__)


class AvailabilityQuery(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    date: dt.date = Field(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31))
    relay_id: str | None = None
    kind: ResourceKind | None = None
    near: str | None = None

    @field_validator("near")
    @classmethod
    def _near(cls, value: str | None) -> str | None:
        if value is not None:
            parse_near(value)
        return value


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
