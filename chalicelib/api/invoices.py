"""Routes of invoices and credit notes."""

from __future__ import annotations

from typing import Any, Literal

from chalice import Blueprint, Response
from pydantic import Field

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import DateSpan, PageQuery
from chalicelib.api.schemas import InvoiceOut
from chalicelib.services import accounting

bp = Blueprint(__name__)


class InvoiceFilters(PageQuery, DateSpan):
    operator_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="Only this operator's documents."
    )
    type: Literal["invoice", "credit_note"] | None = Field(
        default=None, description="Only invoices, or only credit notes."
    )


@endpoint(
    bp,
    "/v1/invoices",
    "GET",
    summary="List invoices and credit notes",
    tag="invoices",
    query=InvoiceFilters,
    errors=(422,),
    response=list[InvoiceOut],
)
def list_invoices(call: Call) -> Any:
    f: InvoiceFilters = call.query
    return accounting.list_documents(
        call.ctx,
        call.principal,
        operator_id=f.operator_id,
        span=(f.from_, f.to),
        doc_type=f.type,
        limit=f.limit,
        cursor=f.cursor,
    )


@endpoint(
    bp,
    "/v1/invoices/{invoice_id}",
    "GET",
    summary="Read an invoice or credit note",
    tag="invoices",
    errors=(404,),
    response=InvoiceOut,
)
def get_invoice(call: Call) -> Any:
    return accounting.visible_document(call.ctx, call.principal, call.params["invoice_id"])


@endpoint(
    bp,
    "/v1/invoices/{invoice_id}/pdf",
    "GET",
    summary="The Factur-X PDF",
    tag="invoices",
    produces="application/pdf",
    errors=(404,),
)
def get_invoice_pdf(call: Call) -> Any:
    from chalicelib.adapters.invoice_pdf import render_invoice_pdf

    document = accounting.visible_document(call.ctx, call.principal, call.params["invoice_id"])
    return Response(
        body=render_invoice_pdf(document),
        status_code=200,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="{document["number"]}.pdf"',
        },
    )
