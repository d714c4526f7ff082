"""`GET /v1/audit`: the trail of writes by administrators, accountants and managers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Self

from chalice import Blueprint
from pydantic import Field, model_validator

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import DateSpan, PageQuery
from chalicelib.domain.audit import AuditEntry
from chalicelib.services import audit

bp = Blueprint(__name__)
DEFAULT_DAYS = 366
MAX_DAYS = 3660


class AuditFilters(PageQuery, DateSpan):
    operator_id: str | None = Field(default=None, min_length=1, max_length=200)
    relay_id: str | None = Field(default=None, min_length=1, max_length=200)
    actor: str | None = Field(default=None, min_length=1, max_length=200)
    entity: str | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _not_too_long(self) -> Self:
        if self.from_ and self.to and (self.to - self.from_).days > MAX_DAYS:
            raise ValueError(f"from and to may be at most {MAX_DAYS} days apart")
        return self

    def filters(self) -> dict[str, str]:
        named = {
            "operator_id": self.operator_id,
            "relay_id": self.relay_id,
            "actor": self.actor,
            "entity": self.entity,
        }
        return {k: v for k, v in named.items() if v is not None}


@endpoint(
    bp,
    "/v1/audit",
    "GET",
    summary="Audit trail, newest first (filters: operator, relay, actor, entity, period)",
    tag="audit",
    query=AuditFilters,
    response=list[AuditEntry],
    errors=(403, 422),
    role="books",
)
def list_audit(call: Call) -> Any:
    query: AuditFilters = call.query
    today = call.ctx.clock.now().astimezone(audit.PARIS).date()
    high = query.to or max(today, query.from_ or today)
    low = query.from_ or high - timedelta(days=DEFAULT_DAYS)
    if (high - low).days > MAX_DAYS:
        low = high - timedelta(days=MAX_DAYS)
    items, next_cursor = audit.list_entries(
        call.ctx, (low, high), query.filters(), query.limit, query.cursor
    )
    return {"items": items, "next_cursor": next_cursor}
