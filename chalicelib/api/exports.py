"""Routes of asynchronous exports: ask for one (202 and its `Location`), read it back."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.responses import json_response
from chalicelib.api.schemas import Out
from chalicelib.domain.exports import ExportRequest
from chalicelib.services import exports

bp = Blueprint(__name__)


class ExportBody(BaseModel):
    """An export: the FEC or the sealed archives of a `year`, the invoices CSV of a range
    (`from`/`to`, either open), or the invoice PDFs of at most 31 days (`from` and `to`)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", populate_by_name=True)
    kind: Literal["fec", "invoices_csv", "invoices_pdf_zip", "archive"]
    operator_id: str = Field(min_length=1, max_length=100, examples=["op_xbbuwbj7hc5rku7yue5a"])
    year: int | None = Field(default=None, ge=2000, le=2100, examples=[2026])
    from_: dt.date | None = Field(default=None, alias="from", examples=["2026-11-01"])
    to: dt.date | None = Field(default=None, examples=["2026-11-30"])
    dialect: Literal["default", "excel-fr"] = "default"


class ExportOut(Out):
    """An export; once `done`, a link valid 15 minutes to its file, its size and SHA-256."""

    id: str
    kind: str
    status: Literal["pending", "running", "done", "failed"]
    operator_id: str
    parameters: dict[str, str | int]
    created_at: str
    attempts: int
    file_name: str | None = None
    finished_at: str | None = None
    error: str | None = None
    url: str | None = None
    expires_at: str | None = None
    size: int | None = None
    sha256: str | None = None


@endpoint(
    bp,
    "/v1/exports",
    "POST",
    summary="Ask for an export (FEC, invoices CSV, invoice PDFs, archives), made asynchronously",
    tag="accounting",
    body=ExportBody,
    status=202,
    idempotent=True,
    errors=(401, 403, 404, 409, 422),
    role="books",
    response=ExportOut,
)
def request_export(call: Call) -> Any:
    body: ExportBody = call.body
    request = ExportRequest(
        kind=body.kind,
        operator_id=body.operator_id,
        year=body.year,
        from_=body.from_,
        to=body.to,
        dialect=body.dialect,
    )
    answer = exports.request_export(call.ctx, call.principal, request, call.new_id("exp"))
    response = json_response(answer, 202)
    response.headers["Location"] = f"/v1/exports/{answer['id']}"
    return response


@endpoint(
    bp,
    "/v1/exports/{export_id}",
    "GET",
    summary="An export's status; once done, a link to its file valid 15 minutes",
    tag="accounting",
    errors=(401, 403, 404),
    role="books",
    response=ExportOut,
)
def get_export(call: Call) -> Any:
    return exports.get_export(call.ctx, call.principal, call.params["export_id"])
