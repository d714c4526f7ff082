"""Routes of the accountants' monthly close: periods, their sealed archives, the chain check."""

from __future__ import annotations

from typing import Any, Literal, Self

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import PageQuery
from chalicelib.api.responses import binary_response
from chalicelib.api.schemas import Out
from chalicelib.domain.periods import MONTH_RE
from chalicelib.errors import NotFound
from chalicelib.services import period_close, periods

bp = Blueprint(__name__)


class PeriodsQuery(PageQuery):
    """Paging of the periods: the cursor is the month to start from."""

    cursor: str | None = Field(
        default=None, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-10"]
    )


class CloseBody(BaseModel):
    """Closing a month; `force` (with a `reason`) closes it despite unreconciled payouts."""

    model_config = ConfigDict(defer_build=True, extra="forbid")
    force: bool = False
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        examples=["Payout checked on the bank statement"],
    )

    @model_validator(mode="after")
    def _reason_when_forced(self) -> Self:
        if self.force and not (self.reason or "").strip():
            raise ValueError("A forced close needs a `reason`.")
        return self


class PeriodOut(Out):
    """A month of an operator's books: open, or closed with its sealed archive's hashes."""

    operator_id: str
    period: str
    status: Literal["open", "closed"]
    closed_at: str | None = None
    closed_by: str | None = None
    archive_sha256: str | None = None
    previous_archive_sha256: str | None = None
    forced: bool | None = None
    force_reason: str | None = None


class ArchiveLink(Out):
    """A link to a closed month's archive (valid 15 minutes) and the ZIP's SHA-256."""

    url: str
    sha256: str


class ChainReport(Out):
    """The check of the archive chain: the first closed month that does not verify."""

    ok: bool
    periods_checked: int
    first_broken_period: str | None


def _month(call: Call) -> str:
    """The period of the path: like any unknown id in a path, a non-month is not found."""
    month = call.params["period"]
    if not MONTH_RE.match(month):
        raise NotFound(f"No period {month!r}: a period is a month, YYYY-MM.")
    return month


@endpoint(
    bp,
    "/v1/operators/{operator_id}/periods",
    "GET",
    summary="An operator's monthly accounting periods, oldest first",
    tag="accounting",
    query=PeriodsQuery,
    errors=(401, 403, 404, 422),
    role="books",
    response=list[PeriodOut],
)
def list_periods(call: Call) -> Any:
    operator = period_close.operator_for_books(call.ctx, call.principal, call.params["operator_id"])
    return periods.list_periods(call.ctx, operator, call.query.limit, call.query.cursor)


@endpoint(
    bp,
    "/v1/operators/{operator_id}/periods/verify",
    "GET",
    summary="Re-hash the chain of closing archives",
    tag="accounting",
    errors=(401, 403, 404),
    role="books",
    response=ChainReport,
)
def verify(call: Call) -> Any:
    return period_close.verify(call.ctx, call.principal, call.params["operator_id"])


@endpoint(
    bp,
    "/v1/operators/{operator_id}/periods/{period}/close",
    "POST",
    summary="Close a month: nothing is written into it afterwards; its archive is sealed",
    tag="accounting",
    body=CloseBody,
    errors=(401, 403, 404, 409, 422),
    role="books",
    response=PeriodOut,
)
def close(call: Call) -> Any:
    body: CloseBody = call.body
    return period_close.close_period(
        call.ctx,
        call.principal,
        call.params["operator_id"],
        _month(call),
        force=body.force,
        reason=(body.reason or "").strip() or None,
    )


@endpoint(
    bp,
    "/v1/operators/{operator_id}/periods/{period}/archive",
    "GET",
    summary="A closed month's sealed archive: a link, or the ZIP itself",
    tag="accounting",
    errors=(401, 403, 404, 409, 422),
    role="books",
    response=ArchiveLink,
)
def get_archive(call: Call) -> Any:
    ctx, operator_id, month = call.ctx, call.params["operator_id"], _month(call)
    if "application/zip" not in call.headers.get("accept", ""):
        return period_close.archive_link(ctx, call.principal, operator_id, month)
    data = period_close.archive_bytes(ctx, call.principal, operator_id, month)
    return binary_response(
        data,
        "application/zip",
        {"Content-Disposition": f'attachment; filename="archive-{operator_id}-{month}.zip"'},
    )
