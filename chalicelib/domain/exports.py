"""Asynchronous exports: what can be asked, the life of an export, where its file goes.

An export is `pending` when asked, `running` while a worker holds its lease, then
`done` (its file is in S3: size and SHA-256 known) or `failed` (with the reason). A
worker claims it for `LEASE_SECONDS`; a worker that crashes leaves a lease that runs
out, and the next run (the queue's redelivery or the sweeping job) claims it again,
up to `MAX_ATTEMPTS` runs. Each run writes its own object key (attempt number in it):
a run that lost its lease never overwrites the file the winner describes, and it
deletes what it wrote, so an export ends with exactly one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

ExportKind = Literal["fec", "invoices_csv", "invoices_pdf_zip", "archive"]
KINDS: tuple[str, ...] = ("fec", "invoices_csv", "invoices_pdf_zip", "archive")

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATUSES = (PENDING, RUNNING, DONE, FAILED)

# A worker's hold on an export: longer than the worker's Lambda timeout (15 minutes),
# so a lease runs out only when its worker is gone.
LEASE_SECONDS = 16 * 60
MAX_ATTEMPTS = 3
# A PDF ZIP covers at most a month (the documents of a range are rendered one by one).
MAX_PDF_SPAN_DAYS = 31
# Without a queue (locally), or if a message was lost: the sweeping job dispatches
# again an export still pending after this long.
STALE_PENDING_SECONDS = 120


@dataclass(frozen=True)
class ExportRequest:
    """What an accountant asks for: `year` (FEC, archives) or `from`/`to` (invoices)."""

    kind: str
    operator_id: str
    year: int | None = None
    from_: date | None = None
    to: date | None = None
    dialect: str = "default"

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) of each rule the request breaks; none: it can run."""
        found: list[tuple[str, str]] = []
        if self.kind not in KINDS:
            return [("kind", f"must be one of {', '.join(KINDS)}")]
        by_year = self.kind in ("fec", "archive")
        if by_year:
            if self.year is None:
                found.append(("year", f"a {self.kind} export is of one fiscal year"))
            for name, value in (("from", self.from_), ("to", self.to)):
                if value is not None:
                    found.append((name, f"a {self.kind} export takes a `year`, not a range"))
        else:
            if self.year is not None:
                found.append(("year", f"an {self.kind} export takes `from`/`to`, not a year"))
            if self.from_ and self.to and self.from_ > self.to:
                found.append(("from", "must not be after `to`"))
        if self.kind == "invoices_pdf_zip":
            if self.from_ is None or self.to is None:
                found.append(("from", "a PDF ZIP needs both `from` and `to`"))
            elif (self.to - self.from_).days + 1 > MAX_PDF_SPAN_DAYS:
                found.append(("to", f"a PDF ZIP covers at most {MAX_PDF_SPAN_DAYS} days"))
        if self.dialect != "default" and self.kind != "invoices_csv":
            found.append(("dialect", "only an invoices_csv export has a dialect"))
        return found

    def parameters(self) -> dict[str, str | int]:
        """What is stored and answered with the export, only the fields given."""
        found: dict[str, str | int] = {}
        if self.year is not None:
            found["year"] = self.year
        if self.from_ is not None:
            found["from"] = self.from_.isoformat()
        if self.to is not None:
            found["to"] = self.to.isoformat()
        if self.kind == "invoices_csv":
            found["dialect"] = self.dialect
        return found


def file_name(kind: str, operator_id: str, parameters: dict[str, str | int]) -> str:
    """The name the file downloads as (the FEC's legal name is given by its producer)."""
    if "year" in parameters:
        span = str(parameters["year"])
    else:
        span = f"{parameters.get('from', 'start')}_{parameters.get('to', 'end')}"
    extension = {"invoices_csv": "csv", "invoices_pdf_zip": "zip", "archive": "zip"}
    return f"{kind}-{operator_id}-{span}.{extension.get(kind, 'txt')}"


def object_key(export_id: str, attempt: int, name: str) -> str:
    """Where one run writes: its own key, so two runs never write the same object."""
    return f"exports/{export_id}/{attempt}/{name}"


def claimable(status: str, lease_until: str | None, now: datetime) -> bool:
    """A worker may take it: pending, or running under a lease that has run out."""
    if status == PENDING:
        return True
    return status == RUNNING and lease_until is not None and lease_until <= iso(now)


def iso(moment: datetime) -> str:
    """Stored times: UTC, ISO 8601, so that they compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def lease_end(now: datetime) -> str:
    return iso(now + timedelta(seconds=LEASE_SECONDS))


def needs_dispatch(status: str, created_at: str, lease_until: str | None, now: datetime) -> bool:
    """The sweeping job hands it to a worker again: pending for a while, or abandoned."""
    if status == PENDING:
        stale = iso(now - timedelta(seconds=STALE_PENDING_SECONDS))
        return created_at <= stale
    return claimable(status, lease_until, now)
