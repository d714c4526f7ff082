"""Route of the e-reporting files (flux 10.1 / 10.3, 10.4) an operator's data produced."""

from __future__ import annotations

from typing import Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import PageQuery
from chalicelib.services import ereporting
from chalicelib.services.paging import page_list

bp = Blueprint(__name__)


class EReport(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    id: str
    operator_id: str
    kind: Literal["transactions", "payments"]
    # 10.3 / 10.4 B2C days; 10.1 / 10.2 sales to businesses of other EU states and their
    # payments; both kinds in one file.
    flux: Literal["10.1", "10.3", "10.1+10.3", "10.2", "10.4", "10.2+10.4"]
    period_start: str
    period_end: str
    sequence: int
    type_code: Literal["IN", "RE"]
    status: Literal["produced", "submitted", "rejected"]
    produced_at: str
    # The operator's calendar row when produced, and the last day to transmit it (DSE).
    regime: Literal["normal_monthly", "normal_quarterly", "simplified", "franchise"] | None = None
    due_by: str | None = None
    days: int
    invoices: int = 0  # the flux 10.1 sales (10.2: their payments) it reports one by one
    transmission: dict[str, Any] | None = None  # flow id, or the platform's refusal


class EReportList(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    items: list[EReport]
    next_cursor: str | None


@endpoint(
    bp,
    "/v1/operators/{operator_id}/ereports",
    "GET",
    summary="The operator's e-reporting files (B2C and international B2B) and their status",
    tag="accounting",
    errors=(403, 404),
    role="books",
    query=PageQuery,
    response=EReportList,
)
def list_ereports(call: Call) -> Any:
    query: PageQuery = call.query
    operator_id = call.params["operator_id"]
    reports = ereporting.list_reports(call.ctx, operator_id)
    page, next_cursor = page_list(reports, query.limit, query.cursor, f"ereports:{operator_id}")
    return {"items": page, "next_cursor": next_cursor}
