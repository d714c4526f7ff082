"""Routes of the accountants: FEC, VAT, integrity, CSV exports."""

from __future__ import annotations

from typing import Any, Literal

from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import DateSpan, Month, MonthQuery, OperatorQuery, QueryInt
from chalicelib.api.schemas import ClearingReport, IntegrityReport, VatReport
from chalicelib.services import accounting
from chalicelib.services.clearing import clearing as settle_month
from chalicelib.services.clearing import clearing_csv

bp = Blueprint(__name__)


class FecQuery(OperatorQuery):
    year: QueryInt = Field(ge=2000, le=2100, description="The fiscal year.", examples=[2026])


class SpanQuery(OperatorQuery, DateSpan):
    pass


class CsvQuery(SpanQuery):
    dialect: str = Field(default="default", pattern=r"^(default|excel-fr)$")


@endpoint(
    bp,
    "/v1/accounting/fec",
    "GET",
    summary="FEC file of an operator's year",
    tag="accounting",
    query=FecQuery,
    produces="text/plain",
    errors=(403, 404, 413, 422),
    role="books",
)
def fec(call: Call) -> Any:
    name, text = accounting.fec_export(call.ctx, call.query.operator_id, call.query.year)
    return Response(
        body=text,
        status_code=200,
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@endpoint(
    bp,
    "/v1/accounting/vat",
    "GET",
    summary="VAT collected per rate in a month",
    tag="accounting",
    query=MonthQuery,
    errors=(403, 404, 422),
    role="books",
    response=VatReport,
)
def vat(call: Call) -> Any:
    year, month = (int(part) for part in call.query.month.split("-"))
    return accounting.vat_report(call.ctx, call.query.operator_id, year, month)


@endpoint(
    bp,
    "/v1/accounting/integrity",
    "GET",
    summary="Recompute the hash chain",
    tag="accounting",
    query=OperatorQuery,
    errors=(403, 404, 422),
    role="books",
    response=IntegrityReport,
)
def integrity(call: Call) -> Any:
    return accounting.integrity(call.ctx, call.query.operator_id)


@endpoint(
    bp,
    "/v1/accounting/invoices.csv",
    "GET",
    summary="One row per document line",
    tag="accounting",
    query=CsvQuery,
    produces="text/csv",
    errors=(403, 404, 413, 422),
    role="books",
)
def invoices_csv(call: Call) -> Any:
    q: CsvQuery = call.query
    text = accounting.invoices_csv(call.ctx, q.operator_id, (q.from_, q.to), q.dialect)
    span = f"{q.from_ or 'debut'}_{q.to or 'fin'}"
    return Response(
        body=text,
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="invoices-{q.operator_id}-{span}.csv"',
        },
    )


class ClearingQuery(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    month: Month
    format: Literal["json", "csv"] = Field(
        default="json", description="`csv` answers text/csv (as does `Accept: text/csv`)."
    )


@endpoint(
    bp,
    "/v1/accounting/clearing",
    "GET",
    summary="What operators owe each other for credits used across the network",
    tag="accounting",
    query=ClearingQuery,
    errors=(403, 422),
    role="books",
    response=ClearingReport,
)
def clearing(call: Call) -> Any:
    year, month = (int(part) for part in call.query.month.split("-"))
    report = settle_month(call.ctx, year, month)
    if call.query.format == "csv" or "text/csv" in call.headers.get("accept", ""):
        return Response(
            body=clearing_csv(report),
            status_code=200,
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="clearing-{call.query.month}.csv"',
            },
        )
    return report
