"""`GET /v1/stats/occupancy`: figures per relay, resource kind and period, JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any, Literal, Self

from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import Query, QueryDate
from chalicelib.domain.occupancy_stats import FIGURES
from chalicelib.errors import ValidationFailed
from chalicelib.services import stats

bp = Blueprint(__name__)
MAX_DAYS = 366
COLUMNS = ("relay_id", "resource_kind", "period_start", *FIGURES)


class OccupancyRow(BaseModel):
    model_config = ConfigDict(defer_build=True)

    relay_id: str
    resource_kind: str
    period_start: date
    seat_hours_open: float
    seat_hours_booked: float
    seat_hours_checked_in: float
    bookings: int
    cancellations: int
    no_shows: int
    unique_members: int
    revenue_excl_vat: int


class OccupancyReport(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[OccupancyRow]


class OccupancyQuery(Query):
    from_: QueryDate = Field(alias="from", description="First day, inclusive (`YYYY-MM-DD`).")
    to: QueryDate = Field(description="Last day, inclusive (`YYYY-MM-DD`), not before `from`.")
    granularity: Literal["day", "week", "month"] = "day"
    operator_id: str | None = Field(default=None, min_length=1, max_length=200)
    relay_id: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _span(self) -> Self:
        if self.to < self.from_:
            # Raised as is (not a ValueError): the problem then names the field `from`.
            raise ValidationFailed("`from` must not be after `to`.", field="from")
        if (self.to - self.from_).days + 1 > MAX_DAYS:
            raise ValueError(f"from and to cover at most {MAX_DAYS} days")
        return self


@endpoint(
    bp,
    "/v1/stats/occupancy",
    "GET",
    summary="Occupancy figures per relay, resource kind and period (JSON or text/csv)",
    tag="stats",
    query=OccupancyQuery,
    response=OccupancyReport,
    errors=(403, 404, 422),
    role="reports",
)
def occupancy(call: Call) -> Any:
    query: OccupancyQuery = call.query
    rows = stats.occupancy(
        call.ctx,
        call.principal,
        (query.from_, query.to),
        query.granularity,
        query.operator_id,
        query.relay_id,
    )
    if "text/csv" in call.headers.get("accept", ""):
        return Response(
            body=as_csv(rows),
            status_code=200,
            headers={"Content-Type": "text/csv; charset=utf-8"},
        )
    return {"items": rows}


def as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
