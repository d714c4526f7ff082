"""What a closed period's archive holds: FEC extract, documents (JSON, CII XML, PDF),
VAT report. Everything but the PDFs is derived again byte for byte from the books;
a PDF embeds the time it was rendered, so it is rendered once, when the period closes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from chalicelib.adapters.archive_store import ArchiveStore
from chalicelib.domain.documents import Document
from chalicelib.domain.fec import render_fec
from chalicelib.domain.fiscal_year import fiscal_year_of_month
from chalicelib.domain.lettering import letters
from chalicelib.services import accounting_settings, periods
from chalicelib.services.context import Context

PdfRenderer = Callable[[Document], bytes]


def archive_store(ctx: Context) -> ArchiveStore:
    settings = ctx.settings
    return ArchiveStore(settings.archive_bucket, settings.aws_region, settings.s3_endpoint_url)


def period_documents(ctx: Context, operator_id: str, month: str) -> list[tuple[str, str]]:
    """(number, stored JSON text) of the documents booked in `month`."""
    invoices = ctx.invoices
    year = int(month[:4])
    years = [year - 1, year] if month.endswith("-01") else [year]
    found = []
    for each in years:
        for doc in invoices.booked_documents(operator_id, each):
            booked = doc["period"] or Document.of(doc["body"]).issued_at[:7]
            if booked == month:
                found.append((doc["number"], doc["body"]))
    return found


def fec_extract(
    ctx: Context, operator_id: str, month: str, validated_on: date | None = None
) -> bytes:
    """The month's FEC lines, with the numbers they were given (by its close at the
    latest), customer lines lettered with what settled them up to the month's end;
    `validated_on`: the `ValidDate` of a month closed under the old rule (its close day)."""
    start = accounting_settings.settings_for(ctx, operator_id).fiscal_year_start_month
    year = fiscal_year_of_month(month, start)
    so_far = [
        line
        for line in periods.fiscal_lines(ctx, operator_id, year, start)
        if f"{line.entry_date:%Y-%m}" <= month
    ]
    lines = [line for line in so_far if f"{line.entry_date:%Y-%m}" == month]
    numbers = ctx.periods.numbers(operator_id, month)
    text = render_fec(
        lines,
        year,
        numbers=numbers,
        validated_on={month: validated_on} if validated_on else None,
        letters=letters(so_far, by_year=start != 1),
        start_month=start,
    )
    return text.encode()


def record_files(
    ctx: Context,
    operator_id: str,
    month: str,
    vat_report: str,
    validated_on: date | None = None,
) -> dict[str, bytes]:
    """The files derived from the books (all but the PDFs)."""
    from chalicelib.adapters.invoice_cii import cii_xml

    files = {
        f"FEC-{month}.txt": fec_extract(ctx, operator_id, month, validated_on),
        f"VAT-{month}.json": vat_report.encode(),
    }
    for number, text in period_documents(ctx, operator_id, month):
        files[f"documents/{number}.json"] = text.encode()
        files[f"documents/{number}.xml"] = cii_xml(Document.of(text))
    return files


def render_pdf(document: Document | dict[str, Any]) -> bytes:
    """A document's Factur-X PDF (fpdf2 and the fonts are loaded on the first one)."""
    from chalicelib.adapters.invoice_pdf import render_invoice_pdf

    return render_invoice_pdf(document)


def pdf_files(
    ctx: Context, operator_id: str, month: str, render: PdfRenderer | None = None
) -> dict[str, bytes]:
    if render is None:
        from chalicelib.adapters.invoice_pdf import render_invoice_pdf

        render = render_invoice_pdf
    return {
        f"documents/{number}.pdf": render(Document.of(text))
        for number, text in period_documents(ctx, operator_id, month)
    }


def vat_report_text(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
