"""What the accountants read: documents, the hash chain check, FEC, VAT per month, CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.documents import Document, DocumentLine
from chalicelib.domain.fec import FecIndex, fec_filename, render_fec
from chalicelib.domain.invoice import GENESIS_HASH, chain_hash
from chalicelib.domain.lettering import letters
from chalicelib.errors import NotFound, RelaisError, TooLargeForSync
from chalicelib.services import entry_numbers
from chalicelib.services.accounting_settings import settings_for
from chalicelib.services.catalogue import get_operator
from chalicelib.services.company_payments import vat_received
from chalicelib.services.context import Context
from chalicelib.services.invoicing import get_document
from chalicelib.services.paging import chain_pages
from chalicelib.services.periods import fiscal_lines, legacy_validation_days


def list_documents(
    ctx: Context,
    principal: Principal,
    *,
    operator_id: str | None,
    span: tuple[date | None, date | None],
    doc_type: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    low = span[0].isoformat() if span[0] else "0000"
    high = span[1].isoformat() if span[1] else "9999"
    invoices = ctx.invoices
    if not (principal.is_admin or principal.is_accountant):
        items, next_cursor = _member_page(
            invoices.page, principal.sub, operator_id, (low, high), doc_type, limit, cursor
        )
        return {"items": items, "next_cursor": next_cursor}
    operators = [operator_id] if operator_id else sorted(ctx.catalogue.get().operators)
    # Keyed by operator id: the cursor names the operator it stopped at, so an operator
    # added meanwhile does not invalidate it.
    pages = {op: _operator_pages(ctx, op, (low, high), doc_type) for op in operators}
    items, next_cursor = chain_pages(pages, limit, cursor)
    return {"items": items, "next_cursor": next_cursor}


def _member_page(
    page: Any,
    member_id: str,
    operator_id: str | None,
    span: tuple[str, str],
    doc_type: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A member's documents, of one operator if asked: reads on until the page is full.

    Each read asks for no more than the room left, so no document is skipped past the
    cursor handed back; filtering after a single read answered short or empty pages."""
    items: list[dict[str, Any]] = []
    while True:
        found, cursor = page(
            member_id=member_id,
            operator_id=None,
            span=span,
            doc_type=doc_type,
            limit=limit - len(items),
            cursor=cursor,
        )
        items.extend(d for d in found if not operator_id or d["operator_id"] == operator_id)
        if cursor is None or len(items) >= limit:
            return items, cursor


def _operator_pages(
    ctx: Context, operator_id: str, span: tuple[str, str], doc_type: str | None
) -> Any:
    def page(limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return ctx.invoices.page(
            member_id=None,
            operator_id=operator_id,
            span=span,
            doc_type=doc_type,
            limit=limit,
            cursor=cursor,
        )

    return page


def visible_document(ctx: Context, principal: Principal, document_id: str) -> dict[str, Any]:
    document = get_document(ctx, document_id)
    owner = Document.of(document).member_id
    if principal.is_admin or principal.is_accountant or owner == principal.sub:
        return document
    raise NotFound(f"No invoice with id {document_id!r}.")


def integrity(ctx: Context, operator_id: str) -> dict[str, Any]:
    """Recompute every document's hash from its stored text and the chain."""
    _require_operator(ctx, operator_id)
    checked = 0
    invoices = ctx.invoices
    for year in invoices.years(operator_id):
        previous = GENESIS_HASH
        for number, text in invoices.raw_documents(operator_id, year):
            checked += 1
            document = json.loads(text)
            if (
                document.get("previous_hash") != previous
                or chain_hash(document, previous) != document.get("hash")
                or document.get("number") != number
            ):
                return {"ok": False, "documents_checked": checked, "first_broken_number": number}
            previous = document["hash"]
        _, head_hash = invoices.head(operator_id, year)
        if head_hash != previous:
            return {
                "ok": False,
                "documents_checked": checked,
                "first_broken_number": f"head of {year}",
            }
    return {"ok": True, "documents_checked": checked, "first_broken_number": None}


def vat_report(ctx: Context, operator_id: str, year: int, month: int) -> dict[str, Any]:
    """VAT collected per rate on payments received less refunds made in the month; a
    closed month answers the report frozen when it closed."""
    _require_operator(ctx, operator_id)
    prefix = f"{year:04d}-{month:02d}"
    period = ctx.periods.periods(operator_id).get(prefix) or {}
    if period.get("status") == "closed" and period.get("vat_report"):
        frozen: dict[str, Any] = json.loads(str(period["vat_report"]))
        return frozen
    return computed_vat_report(ctx, operator_id, year, month)


def computed_vat_report(ctx: Context, operator_id: str, year: int, month: int) -> dict[str, Any]:
    """The month's VAT from the books: a document counts in the month it was booked for
    VAT (the month it was paid, or the first open month after it when that was closed)."""
    prefix = f"{year:04d}-{month:02d}"
    bases: dict[str, list[int]] = {}
    invoices = ctx.invoices
    for doc in invoices.booked_documents(operator_id, year) + invoices.booked_documents(
        operator_id, year + 1
    ):
        document = Document.of(doc["body"])
        paid_at = document.payment.paid_at or ""
        if document.payment.status != "paid" or (doc["vat_period"] or paid_at[:7]) != prefix:
            continue
        for vat in document.vat_breakdown:
            sums = bases.setdefault(vat.rate, [0, 0])
            sums[0] += vat.base
            sums[1] += vat.vat

    for rate in vat_received(ctx, operator_id, year, month):
        sums = bases.setdefault(rate["rate"], [0, 0])
        sums[0] += int(rate["base"])
        sums[1] += int(rate["vat"])
    lines = [
        {"rate": r, "base": b, "vat": v}
        for r, (b, v) in sorted(bases.items(), key=lambda kv: Decimal(kv[0]), reverse=True)
    ]
    return {
        "operator_id": operator_id,
        "month": prefix,
        "currency": "EUR",
        "lines": lines,
        "total_vat": sum(line["vat"] for line in lines),
    }


# A direct FEC download answers within Lambda's 6 MB: about 220 bytes of FEC per ledger
# line, so at most ~ 4.5 MB of text; beyond, the route answers 413 `too_large` and the
# FEC is an asynchronous export (POST /v1/exports).
SYNC_FEC_MAX_LINES = 20_000
SYNC_CSV_MAX_BYTES = 5_000_000  # the same limit for the invoices CSV, in bytes

CSV_COLUMNS = [
    "number",
    "type",
    "issued_at",
    "operator_id",
    "buyer_name",
    "buyer_siren",
    "description",
    "service_date",
    "quantity",
    "unit_price_excl_vat",
    "vat_rate",
    "amount_excl_vat",
    "vat_amount",
    "amount_incl_vat",
    "payment_status",
    "payment_method",
    "refers_to_number",
]


def invoices_csv(
    ctx: Context,
    operator_id: str,
    span: tuple[date | None, date | None],
    dialect: str = "default",
) -> str:
    """One row per document line. `excel-fr` (French spreadsheets): `;` separated,
    amounts in euros with a decimal comma, ISO dates, a UTF-8 byte-order mark (the
    caller encodes the text as UTF-8). The default dialect is unchanged. Beyond
    `SYNC_CSV_MAX_BYTES`, TooLargeForSync: the CSV is then an export (POST /v1/exports)."""
    text = "".join(invoices_csv_chunks(ctx, operator_id, span, dialect))
    if len(text.encode()) > SYNC_CSV_MAX_BYTES:
        raise TooLargeForSync(
            f"The invoices CSV of {operator_id} for this range passes the"
            f" {SYNC_CSV_MAX_BYTES // 1_000_000} MB a direct download carries: ask for it with"
            ' POST /v1/exports {"kind": "invoices_csv", ...}, or a shorter range.'
        )
    return text


def invoices_csv_chunks(
    ctx: Context,
    operator_id: str,
    span: tuple[date | None, date | None],
    dialect: str = "default",
) -> Iterator[str]:
    """The text of `invoices_csv`, a year of documents at a time (exports stream it)."""
    _require_operator(ctx, operator_id)
    low = span[0].isoformat() if span[0] else "0000"
    high = span[1].isoformat() if span[1] else "9999"
    french = dialect == "excel-fr"
    out = io.StringIO()
    if french:
        out.write("\ufeff")
    # Default: RFC 4180 (`,`, decimal points); excel-fr: what a French spreadsheet reads.
    writer = csv.writer(out, delimiter=";" if french else ",", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    invoices = ctx.invoices
    for year in invoices.years(operator_id):
        if not int(low[:4]) - 1 <= year <= int(high[:4]) + 1:  # a year's documents
            continue  # were numbered in Paris time; `issued_at` may be a day off in UTC
        for _number, text in invoices.raw_documents(operator_id, year):
            document = Document.of(text)
            if not low <= document.issued_on <= high:
                continue
            for line in document.lines:
                writer.writerow(_csv_row(document, line, french))
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def _csv_row(document: Document, line: DocumentLine, french: bool = False) -> list[Any]:
    def euros(cents: int) -> str:
        text = f"{cents / 100:.2f}"
        return text.replace(".", ",") if french else text

    def decimal(value: Any) -> str:
        return str(value).replace(".", ",") if french else str(value)

    return [
        document.number,
        document.type,
        document.issued_on if french else document.issued_at,
        document.operator_id,
        document.buyer.company_name or document.buyer.name,
        document.buyer.siren or "",
        line.description,
        line.service_date,
        decimal(line.quantity),
        euros(line.unit_price_excl_vat),
        decimal(line.vat_rate),
        euros(line.amount_excl_vat),
        euros(line.vat_amount),
        euros(line.amount_incl_vat),
        document.payment.status,
        document.payment.method,
        document.refers_to_number or "",
    ]


def fec_export(ctx: Context, operator_id: str, year: int) -> tuple[str, str]:
    """(file name, FEC text) of an operator's fiscal year `year` (the fiscal year ending
    in `year`; the calendar year with the default start in January): every entry with
    the number it was first given, entries new since the last FEC numbered on after it
    (services/entry_numbers.py); settled customer lines are lettered."""
    operator = _require_operator(ctx, operator_id)
    start = settings_for(ctx, operator_id).fiscal_year_start_month
    lines = fiscal_lines(ctx, operator_id, year, start)
    if len(lines) > SYNC_FEC_MAX_LINES:
        raise TooLargeForSync(
            f"The {year} FEC of {operator_id} has {len(lines)} lines, more than the"
            f" {SYNC_FEC_MAX_LINES} a direct download carries: ask for it with"
            ' POST /v1/exports {"kind": "fec", ...}.'
        )
    try:
        index = FecIndex(year, start_month=start)
        for line in lines:
            index.add(line)
        numbers = entry_numbers.numbered(ctx, operator_id, year, start, index)
        text = render_fec(
            lines,
            year,
            numbers=numbers,
            letters=letters(lines, by_year=start != 1),
            start_month=start,
            validated_on=legacy_validation_days(ctx, operator_id, year, start),
        )
    except ValueError as exc:  # the books themselves are wrong: say so, never a bad file
        raise RelaisError(f"The {year} ledger cannot be exported: {exc}") from exc
    return fec_filename(operator.siren, year, start), text


def _require_operator(ctx: Context, operator_id: str) -> Any:
    return get_operator(ctx, operator_id)
