"""Routes of invoices and credit notes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from chalice import Blueprint, Response
from pydantic import Field

from chalicelib.api import caching
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import DateSpan, PageQuery
from chalicelib.api.responses import binary_response, json_response
from chalicelib.api.schemas import InvoiceOut, Out
from chalicelib.domain.catalogue import Model, MoneyMoment, SingleLine
from chalicelib.domain.documents import Document
from chalicelib.services import accounting, invoice_resend, refund_transfers

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


def _conditional(
    call: Call, representation: str
) -> tuple[dict[str, Any], Document, str, Response | None]:
    """The document the caller may read (as stored, and typed), its ETag, and a 304 when
    they hold it already."""
    stored = accounting.visible_document(call.ctx, call.principal, call.params["invoice_id"])
    document = Document.of(stored)
    etag = caching.document_etag(document.hash, representation)
    if caching.matches(call.headers.get("if-none-match"), etag):
        return stored, document, etag, caching.not_modified(etag)
    return stored, document, etag, None


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
    stored, _, etag, unchanged = _conditional(call, "json")
    if unchanged is not None:
        return unchanged
    response = json_response(stored)
    response.headers.update(caching.cache_headers(etag))
    return response


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

    _, document, etag, unchanged = _conditional(call, "pdf")
    if unchanged is not None:
        return unchanged
    return binary_response(
        render_invoice_pdf(document),
        "application/pdf",
        {
            **caching.cache_headers(etag),
            "Content-Disposition": f'attachment; filename="{document.number}.pdf"',
        },
    )


@endpoint(
    bp,
    "/v1/invoices/{invoice_id}/xml",
    "GET",
    summary="The EN 16931 CII XML alone",
    tag="invoices",
    produces="application/xml",
    errors=(404,),
)
def get_invoice_xml(call: Call) -> Any:
    from chalicelib.adapters.invoice_cii import cii_xml

    _, document, etag, unchanged = _conditional(call, "xml")
    if unchanged is not None:
        return unchanged
    return Response(
        body=cii_xml(document).decode("utf-8"),
        status_code=200,
        headers={
            **caching.cache_headers(etag),
            "Content-Type": "application/xml; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{document.number}.xml"',
        },
    )


class SendAnswer(Out):
    """The document was handed to the mailer (`sent`), or failed and will be retried
    by the hourly `send_reminders` job (`failed`)."""

    invoice_id: str
    number: str
    to: str | None
    status: Literal["sent", "failed"]


class NewRefundTransfer(Model):
    """The bank transfer that paid the customer a refund Stripe could not make."""

    paid_at: MoneyMoment = Field(
        description="When the transfer left the operator's account (not in the future, "
        "not before the refund failed)."
    )
    reference: Annotated[str, Field(min_length=1, max_length=140), SingleLine] = Field(
        description="The transfer's bank reference; the same one again answers the "
        "recorded transfer."
    )


class RefundTransferOut(Out):
    credit_note_id: str
    credit_note_number: str
    refund_id: str
    amount: int
    currency: str
    reference: str
    paid_on: date
    recorded_at: datetime


@endpoint(
    bp,
    "/v1/invoices/{invoice_id}/refund-transfer",
    "POST",
    summary="Record the bank transfer that paid a customer a refund Stripe could not make",
    tag="invoices",
    body=NewRefundTransfer,
    response=RefundTransferOut,
    status=201,
    idempotent=True,
    errors=(403, 404, 409, 422),
    role="books",
)
def record_refund_transfer(call: Call) -> Any:
    body: NewRefundTransfer = call.body
    return refund_transfers.record_refund_transfer(
        call.ctx, call.principal, call.params["invoice_id"], body.paid_at, body.reference
    )


@endpoint(
    bp,
    "/v1/invoices/{invoice_id}/send",
    "POST",
    summary="E-mail an invoice or credit note to its buyer again, its Factur-X PDF attached",
    tag="invoices",
    idempotent=True,
    errors=(404, 409, 429),
    response=SendAnswer,
)
def send_invoice(call: Call) -> Any:
    return invoice_resend.resend(
        call.ctx, call.principal, call.params["invoice_id"], call.new_id("snd")
    )
