"""Asynchronous exports: asked for over the API, run by a worker, read back as a link.

`request_export` stores a pending export (its id derived from the Idempotency-Key, so
a retried request finds the same export) and hands it to the export queue (SQS);
without a queue (locally) the `run_exports` job runs it at its next tick. `run_export`
is the worker: it claims the export under a lease (domain/exports.py), writes the file
straight into S3 by multipart upload with bounded memory (the FEC as a stream of
records, month by month; CSV a year of documents at a time; ZIPs one file at a time),
then records its size and SHA-256. A crash leaves a lease that runs out; the export is
then run again from the start under a new object key. One export, one file: each run
notes its key on the export before writing it; a run that lost its lease, or whose
`finish` failed, deletes what it wrote (never the file a `done` export points to), and
the run that finishes deletes the files of the runs before it (a Lambda timed out after
its upload leaves one), so no listing of the bucket is needed.

The bucket deletes export files `EXPORT_FILES_DAYS` after they were written; an export
is answered until `available_until`, a link's lifetime before its file can go (the
same moment is its `ttl`), then it is `not_found`, even before DynamoDB deletes it.
"""

from __future__ import annotations

import json
import secrets
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import IO, Any

from chalicelib.adapters.archive_store import EXPORT_FILES_DAYS, PRESIGN_SECONDS, ArchiveStore
from chalicelib.adapters.export_queue import ExportQueue
from chalicelib.auth import Principal
from chalicelib.domain import exports as rules
from chalicelib.domain.documents import Document
from chalicelib.domain.fec import fec_filename, index_fec, write_fec
from chalicelib.domain.fiscal_year import months_of
from chalicelib.domain.ledger import LedgerLine
from chalicelib.errors import NotFound, RelaisError, ValidationFailed
from chalicelib.observability import logger
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

CHUNK_BYTES = 256 * 1024  # text is written to the upload in chunks of about this size
Producer = Callable[[Any], None]  # writes the file into a binary sink (S3Upload)


class ExportRefused(Exception):
    """The books themselves cannot be exported (an unbalanced entry...): no retry helps."""


def request_export(
    ctx: Context, principal: Principal, request: rules.ExportRequest, export_id: str
) -> dict[str, Any]:
    principal.require_books_access()
    problems = request.problems()
    if problems:
        field, message = problems[0]
        raise ValidationFailed(
            f"`{field}` {message}.",
            errors=[{"field": f, "message": m} for f, m in problems],
        )
    get_operator(ctx, request.operator_id)
    export = {
        "id": export_id,
        "kind": request.kind,
        "operator_id": request.operator_id,
        "parameters": request.parameters(),
        "requested_by": principal.sub,
        "created_at": rules.iso(ctx.clock.now()),
        "attempts": 0,
    }
    if ctx.exports.create(export):
        audit.record(
            ctx,
            principal,
            "request",
            "export",
            export_id,
            operator_id=request.operator_id,
            changes={"kind": [None, request.kind]},
        )
        queue = export_queue(ctx)
        if queue is not None:
            queue.send(export_id)
    return view(ctx, _get(ctx, export_id))


def get_export(ctx: Context, principal: Principal, export_id: str) -> dict[str, Any]:
    principal.require_books_access()
    return view(ctx, _get(ctx, export_id))


def _get(ctx: Context, export_id: str) -> dict[str, Any]:
    export = ctx.exports.get(export_id)
    if export is None or expired(export, ctx.clock.now()):
        raise NotFound(f"No export with id {export_id!r}.")
    return export


def available_until(started: datetime) -> datetime:
    """Until when an export run at `started` is answered. Its file was written after
    `started` and the bucket keeps it at least `EXPORT_FILES_DAYS`; the last link given
    out must stay valid its `PRESIGN_SECONDS`."""
    return started + timedelta(days=EXPORT_FILES_DAYS, seconds=-PRESIGN_SECONDS)


def expired(export: dict[str, Any], now: datetime) -> bool:
    """Past its `available_until` (an export finished before it was stored: from the
    start of its last run), even if DynamoDB's TTL, which deletes late, has not yet."""
    until = export.get("available_until")
    if not until and export.get("status") in (rules.DONE, rules.FAILED):
        started = export.get("started_at") or export.get("finished_at")
        until = rules.iso(available_until(datetime.fromisoformat(str(started))))
    return bool(until) and str(until) <= rules.iso(now)


def _lifetime(started: datetime) -> dict[str, Any]:
    """The facts that end a finished export: when it stops being answered, and its TTL."""
    until = available_until(started)
    return {"available_until": rules.iso(until), "ttl": int(until.timestamp())}


def view(ctx: Context, export: dict[str, Any]) -> dict[str, Any]:
    """What the API answers; a done export carries a fresh link valid 15 minutes."""
    answer: dict[str, Any] = {
        "id": export["id"],
        "kind": export["kind"],
        "status": export["status"],
        "operator_id": export["operator_id"],
        "parameters": {k: _plain(v) for k, v in dict(export.get("parameters") or {}).items()},
        "created_at": export["created_at"],
        "attempts": int(export.get("attempts") or 0),
    }
    for name in ("file_name", "finished_at", "error"):
        if export.get(name):
            answer[name] = export[name]
    if export["status"] == rules.DONE:
        now = ctx.clock.now()
        answer["url"] = archive.archive_store(ctx).presigned_url(
            str(export["key"]), str(export["file_name"])
        )
        answer["expires_at"] = rules.iso(now + timedelta(seconds=15 * 60))
        answer["size"] = int(export["size"])
        answer["sha256"] = export["sha256"]
    return answer


def _plain(value: Any) -> Any:
    return int(value) if not isinstance(value, str) else value


def export_queue(ctx: Context) -> ExportQueue | None:
    url = ctx.settings.export_queue_url
    return ExportQueue(url, ctx.settings.aws_region) if url else None


# -- the worker ------------------------------------------------------------------------------


def run_export(ctx: Context, export_id: str) -> str:
    """Run one export if it can be claimed; answers what became of it: `done`,
    `failed`, `superseded` (another run holds it now) or `skipped` (finished, or held)."""
    export = ctx.exports.get(export_id)
    now = ctx.clock.now()
    if export is None or not rules.claimable(export["status"], export.get("lease_until"), now):
        return "skipped"
    attempts = int(export.get("attempts") or 0)
    store = archive.archive_store(ctx)
    earlier = [str(k) for k in export.get("object_keys") or ()]
    if attempts >= rules.MAX_ATTEMPTS:
        reason = f"Gave up after {attempts} runs that did not finish."
        if ctx.exports.finish(export, None, rules.FAILED, _failure(now, reason)):
            _drop_files(store, export_id, earlier)
        return rules.FAILED
    run_id = secrets.token_hex(8)
    if not ctx.exports.claim(export_id, run_id, rules.iso(now), rules.lease_end(now)):
        return "skipped"
    try:
        name, content_type, produce = _plan(ctx, export)
    except (ExportRefused, RelaisError) as exc:
        if ctx.exports.finish(export, run_id, rules.FAILED, _failure(now, _reason(exc))):
            _drop_files(store, export_id, earlier)
        return rules.FAILED
    key = rules.object_key(export_id, attempts + 1, name)
    try:
        written = ctx.exports.note_key(export_id, run_id, key)
    except BaseException:
        ctx.exports.release(export_id, run_id)
        raise
    if written is None:
        return "superseded"  # another run took over before this one wrote anything
    try:
        with store.upload(key, content_type) as upload:
            produce(upload)
            size, digest = upload.complete()
    except (ExportRefused, RelaisError, ValueError) as exc:
        # The upload was aborted: no file of this run; those of earlier runs go.
        if ctx.exports.finish(export, run_id, rules.FAILED, _failure(now, _reason(exc))):
            _drop_files(store, export_id, written)
        return rules.FAILED
    except BaseException:
        ctx.exports.release(export_id, run_id)  # a passing failure: run again
        raise
    facts = {
        "key": key,
        "file_name": name,
        "size": size,
        "sha256": digest,
        "finished_at": rules.iso(ctx.clock.now()),
        **_lifetime(now),
    }
    try:
        finished = ctx.exports.finish(export, run_id, rules.DONE, facts)
    except Exception:
        if _finished_anyway(ctx, store, export_id, run_id, key):
            _drop_files(store, export_id, written, keep=key)
            return rules.DONE
        raise
    if not finished:
        store.delete(key)  # another run took over: its file is the export's
        return "superseded"
    _drop_files(store, export_id, written, keep=key)  # runs that died after their upload
    return rules.DONE


def _finished_anyway(
    ctx: Context, store: ArchiveStore, export_id: str, run_id: str, key: str
) -> bool:
    """After `finish` raised (its transaction may still have been applied): True if the
    export is done with this run's file. Otherwise this run's file goes, unless the
    export points at it, and the export goes back to pending if this run still holds
    it, to be run again at once rather than after the lease."""
    try:
        export = ctx.exports.get(export_id)
    except Exception:
        logger().exception("export_finish_unknown", extra={"export_id": export_id, "key": key})
        return False  # not knowing, the file stays: it is noted, the next run deletes it
    if export is not None and export.get("key") == key:
        return export.get("status") == rules.DONE
    _drop_files(store, export_id, [key])
    if export is not None and export.get("run_id") == run_id:
        try:
            ctx.exports.release(export_id, run_id)
        except Exception:
            logger().exception("export_release_failed", extra={"export_id": export_id})
    return False


def _drop_files(
    store: ArchiveStore, export_id: str, written: Iterable[str], keep: str | None = None
) -> None:
    """Delete the files other runs of an export wrote (all but `keep`). Best effort: a
    file left behind goes with the bucket's expiry of export files."""
    for key in written:
        if key == keep:
            continue
        try:
            store.delete(key)
        except Exception:
            logger().exception(
                "export_file_not_deleted", extra={"export_id": export_id, "key": key}
            )


def _failure(now: datetime, reason: str) -> dict[str, Any]:
    return {"error": reason[:1000], "finished_at": rules.iso(now), **_lifetime(now)}


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "detail", None) or exc)


def run_exports(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    """The sweeping job: with a queue, hands again to it the exports pending for a while
    or abandoned by a crashed worker; without one (locally), runs them here."""
    now = as_of or ctx.clock.now()
    queue = export_queue(ctx)
    ran: dict[str, int] = {}
    dispatched = 0
    for export in ctx.exports.open_exports():
        status, lease = export["status"], export.get("lease_until")
        if queue is not None:
            if rules.needs_dispatch(status, export["created_at"], lease, now):
                queue.send(export["id"])
                dispatched += 1
        elif rules.claimable(status, lease, now):
            outcome = run_export(ctx, export["id"])
            ran[outcome] = ran.get(outcome, 0) + 1
    return {"job": "run_exports", "processed": sum(ran.values()) + dispatched, **ran}


# -- what each kind writes -------------------------------------------------------------------


def _plan(ctx: Context, export: dict[str, Any]) -> tuple[str, str, Producer]:
    """(file name, content type, the function writing the file) of an export."""
    kind, operator_id = export["kind"], export["operator_id"]
    params = {k: _plain(v) for k, v in dict(export.get("parameters") or {}).items()}
    operator = get_operator(ctx, operator_id)
    name = rules.file_name(kind, operator_id, params)
    if kind == "fec":
        year = int(params["year"])
        start = accounting_settings.settings_for(ctx, operator_id).fiscal_year_start_month
        return (
            fec_filename(operator.siren, year, start),
            "text/plain; charset=utf-8",
            lambda out: write_text(out, fec_chunks(ctx, operator_id, year)),
        )
    span = (_day(params.get("from")), _day(params.get("to")))
    if kind == "invoices_csv":
        dialect = str(params.get("dialect") or "default")
        chunks = accounting.invoices_csv_chunks(ctx, operator_id, span, dialect)
        return name, "text/csv; charset=utf-8", lambda out: write_text(out, chunks)
    if kind == "invoices_pdf_zip":
        return name, "application/zip", lambda out: _pdf_zip(ctx, operator_id, span, out)
    return name, "application/zip", lambda out: _archives_zip(ctx, operator_id, params, out)


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def write_text(out: IO[bytes], chunks: Iterable[str]) -> None:
    """UTF-8 text into `out`, gathered into writes of about `CHUNK_BYTES`."""
    pending: list[str] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= CHUNK_BYTES:
            out.write("".join(pending).encode())
            pending, size = [], 0
    if pending:
        out.write("".join(pending).encode())


def fec_chunks(ctx: Context, operator_id: str, year: int) -> Iterator[str]:
    """The FEC of `accounting.fec_export`, record by record, read from the books one
    month at a time (two passes: domain/fec.index_fec, the entries new since the last FEC
    numbered, then domain/fec.write_fec)."""
    start = accounting_settings.settings_for(ctx, operator_id).fiscal_year_start_month
    ledger = ctx.invoices

    def months() -> Iterator[list[LedgerLine]]:
        for month in months_of(year, start):
            yield ledger.ledger_month(operator_id, month)

    try:
        index = index_fec(months, year, start_month=start)
        numbers = entry_numbers.numbered(ctx, operator_id, year, start, index)
        validated_on = periods.legacy_validation_days(ctx, operator_id, year, start)
        yield from write_fec(months, index, numbers, validated_on)
    except ValueError as exc:
        raise ExportRefused(f"The {year} ledger cannot be exported: {exc}") from exc


def _pdf_zip(
    ctx: Context, operator_id: str, span: tuple[date | None, date | None], out: IO[bytes]
) -> None:
    low = span[0].isoformat() if span[0] else "0000"
    high = span[1].isoformat() if span[1] else "9999"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as files:
        cursor: str | None = None
        while True:
            documents, cursor = ctx.invoices.page(
                member_id=None,
                operator_id=operator_id,
                span=(low, high),
                doc_type=None,
                limit=50,
                cursor=cursor,
            )
            for document in map(Document.of, documents):
                files.writestr(f"{document.number}.pdf", archive.render_pdf(document))
            if cursor is None:
                return


def _archives_zip(ctx: Context, operator_id: str, params: dict[str, Any], out: IO[bytes]) -> None:
    """The sealed archives of the fiscal year's closed months, as stored, and their hashes."""
    start = accounting_settings.settings_for(ctx, operator_id).fiscal_year_start_month
    months = set(months_of(int(params["year"]), start))
    store = archive.archive_store(ctx)
    listed = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as files:
        for month, item in sorted(ctx.periods.periods(operator_id).items()):
            if month not in months or item.get("status") != "closed":
                continue
            data = store.get(str(item["archive_key"]))
            if data is None:
                raise ExportRefused(f"The archive of {month} is missing from the archive store.")
            name = f"archive-{operator_id}-{month}.zip"
            files.writestr(name, data)
            listed.append({"name": name, "period": month, "sha256": item["archive_sha256"]})
        files.writestr("archives.json", json.dumps(listed, indent=2) + "\n")
