"""Closing an operator's month, its sealed archive, and the check of the archive chain.

A close runs in three steps, each safe to run again: mark the month `closing` (from then
on every writer books in the next month), number its entries no FEC has numbered yet
(services/entry_numbers.py) and seal its archive in S3, then mark it `closed` with the
archive's hash. A close interrupted midway is finished by closing the month again.
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.adapters.period_store import PeriodMoved
from chalicelib.adapters.reconciliation_store import UNATTRIBUTED
from chalicelib.auth import Principal
from chalicelib.domain import archive as sealing
from chalicelib.domain import periods as rules
from chalicelib.domain.catalogue import Operator
from chalicelib.domain.fec import FecIndex
from chalicelib.domain.fiscal_year import fiscal_year_of_month, is_last_month
from chalicelib.domain.ledger import AccountingSettings
from chalicelib.domain.opening import opening_entry
from chalicelib.errors import InvalidState, NotFound
from chalicelib.services import (
    accounting,
    accounting_settings,
    archive,
    audit,
    entry_numbers,
    periods,
)
from chalicelib.services.catalogue import get_operator
from chalicelib.services.context import Context

logger = logging.getLogger("relais.periods")


def operator_for_books(ctx: Context, principal: Principal, operator_id: str) -> Operator:
    principal.require_books_access()
    return get_operator(ctx, operator_id)


def _known_month(operator: Operator, month: str) -> None:
    if month < periods.start_month(operator):
        raise NotFound(f"The books of {operator.id} start after {month}.")


def unreconciled_payouts(ctx: Context, operator_id: str, month: str) -> list[str]:
    """The payouts arriving in `month` (the operator's parts, and those nobody's) that
    are not matched to the payments, refunds and fees they pay out."""
    low, high = f"{month}-01", f"{month}-31"
    store = ctx.reconciliation
    parts = store.payout_parts(operator_id, low, high) + [
        p for p in store.payout_parts(UNATTRIBUTED, low, high) if not p.get("operators")
    ]
    return sorted({str(p["payout_id"]) for p in parts if not p.get("matched")})


def close_period(
    ctx: Context,
    principal: Principal,
    operator_id: str,
    month: str,
    *,
    force: bool = False,
    reason: str | None = None,
) -> dict[str, Any]:
    operator = operator_for_books(ctx, principal, operator_id)
    _known_month(operator, month)
    start, store = periods.start_month(operator), ctx.periods
    known = store.periods(operator_id)
    statuses = {m: str(item["status"]) for m, item in known.items()}
    waiting = [] if force else unreconciled_payouts(ctx, operator_id, month)
    refusal = rules.refusal(month, start, periods.current_month(ctx), statuses, waiting)
    if refusal:
        raise InvalidState(refusal)
    previous = rules.previous_month(month) if month > start else None
    facts: dict[str, Any] = {
        "closed_at": ctx.clock.now().isoformat(timespec="seconds"),
        "closed_by": principal.sub,
        "forced": force,
    }
    if force and reason:
        facts["force_reason"] = reason
        logger.warning("Period %s of %s closed by force: %s", month, operator_id, reason)
    try:
        store.begin_close(operator_id, month, previous, facts)
    except PeriodMoved as exc:
        raise InvalidState(f"The period {month} changed meanwhile; read it again.") from exc
    previous_item = known.get(previous) if previous else None
    # Read once the month is `closing`: from then on the settings cannot change.
    books = accounting_settings.settings_for(ctx, operator_id)
    fy_start = books.fiscal_year_start_month
    try:
        sealed = _number_and_seal(ctx, operator_id, month, previous_item, fy_start)
    except ValueError as exc:  # books that cannot make a FEC (an unbalanced entry)
        store.abort_close(operator_id, month, list(facts))
        raise InvalidState(f"The period {month} cannot be sealed: {exc}") from exc
    if is_last_month(month, fy_start):  # the fiscal year closes: open the next one
        _open_next_year(ctx, operator_id, fiscal_year_of_month(month, fy_start), books)
    try:
        closed = store.finish_close(operator_id, month, sealed)
    except PeriodMoved as exc:
        raise InvalidState(f"The period {month} is already closed.") from exc
    changes: dict[str, list[Any]] = {"status": ["open", "closed"]}
    if force:
        changes["force_reason"] = [None, reason]
    audit.record(
        ctx,
        principal,
        "close",
        "period",
        f"{operator_id}/{month}",
        operator_id=operator_id,
        changes=changes,
    )
    return periods.period_view(operator_id, month, closed)


def _open_next_year(ctx: Context, operator_id: str, year: int, books: AccountingSettings) -> None:
    """Book the `AN` entry of fiscal year `year + 1` (domain/opening.py), once: a close
    retried after a crash finds it written (same entry id) and writes nothing more."""
    start = books.fiscal_year_start_month
    lines = opening_entry(
        periods.fiscal_lines(ctx, operator_id, year, start),
        operator_id,
        year,
        ctx.clock.now(),
        books,
    )
    periods.book(ctx, lines)


def _number_and_seal(
    ctx: Context,
    operator_id: str,
    month: str,
    previous_item: dict[str, Any] | None,
    start_month: int,
) -> dict[str, Any]:
    year = fiscal_year_of_month(month, start_month)
    index = FecIndex(year, start_month=start_month)
    for line in ctx.invoices.ledger_month(operator_id, month):
        index.add(line)
    numbers = entry_numbers.numbered(ctx, operator_id, year, start_month, index)
    calendar_year, number = int(month[:4]), int(month[5:])
    vat = archive.vat_report_text(
        accounting.computed_vat_report(ctx, operator_id, calendar_year, number)
    )
    previous_hash = str((previous_item or {}).get("archive_sha256") or rules.ZERO_HASH)
    key, data = _sealed_archive(ctx, operator_id, month, vat, previous_hash)
    return {
        "archive_sha256": sealing.sha256(data),
        "previous_archive_sha256": previous_hash,
        "last_entry_num": max(numbers.values(), default=0),
        periods.VALID_DATES: periods.RECORDING_DAY,
        "vat_report": vat,
        "archive_key": key,
    }


def _sealed_archive(
    ctx: Context, operator_id: str, month: str, vat: str, previous: str
) -> tuple[str, bytes]:
    """(S3 key, bytes) of the month's archive, stored under its own hash: a close run
    twice at once stores two archives, and the period names the one whose run won."""
    files = archive.record_files(ctx, operator_id, month, vat)
    files.update(archive.pdf_files(ctx, operator_id, month))
    data = sealing.seal(operator_id, month, previous, files)
    digest = sealing.sha256(data)
    s3 = archive.archive_store(ctx)
    key = s3.key(operator_id, month, digest)
    s3.put(key, data, digest)
    return key, data


def closed_period(
    ctx: Context, principal: Principal, operator_id: str, month: str
) -> dict[str, Any]:
    operator = operator_for_books(ctx, principal, operator_id)
    _known_month(operator, month)
    item = ctx.periods.periods(operator_id).get(month) or {}
    if item.get("status") != rules.CLOSED:
        raise InvalidState(f"The period {month} is not closed: it has no archive yet.")
    return item


def archive_link(
    ctx: Context, principal: Principal, operator_id: str, month: str
) -> dict[str, Any]:
    """`{url, sha256}` of a closed period's archive: a link valid 15 minutes."""
    item = closed_period(ctx, principal, operator_id, month)
    url = archive.archive_store(ctx).presigned_url(str(item["archive_key"]))
    return {"url": url, "sha256": str(item["archive_sha256"])}


def archive_bytes(ctx: Context, principal: Principal, operator_id: str, month: str) -> bytes:
    item = closed_period(ctx, principal, operator_id, month)
    data = archive.archive_store(ctx).get(str(item["archive_key"]))
    if data is None:
        raise NotFound(f"The archive of {month} is missing from the archive store.")
    return data


def verify(ctx: Context, principal: Principal, operator_id: str) -> dict[str, Any]:
    """Re-hash every closed period's archive, in order: the stored ZIP must hash to the
    period's `archive_sha256`, name the previous archive's hash, match its manifest, and
    hold the files the books give again (FEC extract, documents, VAT report)."""
    operator_for_books(ctx, principal, operator_id)
    closed = [
        (month, item)
        for month, item in sorted(ctx.periods.periods(operator_id).items())
        if item.get("status") == rules.CLOSED
    ]
    previous = rules.ZERO_HASH
    for checked, (month, item) in enumerate(closed, start=1):
        if not _period_intact(ctx, operator_id, month, item, previous):
            return {"ok": False, "periods_checked": checked, "first_broken_period": month}
        previous = str(item["archive_sha256"])
    return {"ok": True, "periods_checked": len(closed), "first_broken_period": None}


def _period_intact(
    ctx: Context, operator_id: str, month: str, item: dict[str, Any], previous: str
) -> bool:
    data = archive.archive_store(ctx).get(str(item.get("archive_key") or ""))
    if data is None or sealing.sha256(data) != item.get("archive_sha256"):
        return False
    if item.get("previous_archive_sha256") != previous:
        return False
    try:
        listing, files = sealing.unseal(data)
    except ValueError:
        return False
    if listing.get("previous_archive_sha256") != previous or sealing.broken_files(listing, files):
        return False
    again = archive.record_files(
        ctx,
        operator_id,
        month,
        str(item.get("vat_report") or ""),
        periods.legacy_validation_day(item),
    )
    return all(files.get(name) == content for name, content in again.items()) and not (
        {n for n in files if not n.endswith(".pdf")} - set(again)
    )
