"""The accountants' view of Stripe: payouts matched to payments, refunds, fees, invoices."""

from __future__ import annotations

from datetime import date
from typing import Any, Self

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.schemas import ReconciliationReport
from chalicelib.services import reconciliation

bp = Blueprint(__name__)


class ReconciliationQuery(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)
    operator_id: str = Field(min_length=1)
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("`from` must not be after `to`.")
        return self


@endpoint(
    bp,
    "/v1/accounting/reconciliation",
    "GET",
    summary="Stripe payouts matched to payments, refunds, fees and invoices",
    tag="accounting",
    query=ReconciliationQuery,
    errors=(403, 404, 422),
    role="books",
    response=ReconciliationReport,
)
def reconciliation_report(call: Call) -> Any:
    q: ReconciliationQuery = call.query
    return reconciliation.reconciliation_report(call.ctx, q.operator_id, (q.from_, q.to))
