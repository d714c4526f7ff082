"""The accountants' view of Stripe: payouts matched to payments, refunds, fees, invoices."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import DateSpan, OperatorQuery
from chalicelib.api.schemas import ReconciliationReport
from chalicelib.services import reconciliation_report as report

bp = Blueprint(__name__)


class ReconciliationQuery(OperatorQuery, DateSpan):
    pass


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
    return report.reconciliation_report(call.ctx, q.operator_id, (q.from_, q.to))
