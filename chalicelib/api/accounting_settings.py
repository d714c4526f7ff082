"""Routes of an operator's accounting settings: chart of accounts, journal codes, fiscal
year (`domain/accounting_settings.py` has the rules, `services/accounting_settings.py`
the change)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.catalogue_edits import if_match, versioned
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.schemas import Out
from chalicelib.domain.accounting_settings import AccountingSettingsInput, ChartInput, JournalsInput
from chalicelib.services import accounting_settings

bp = Blueprint(__name__)


class AccountingSettingsOut(Out):
    """An operator's accounting settings (the defaults until changed), with the version
    to send back in `If-Match`, and whether a change is possible now."""

    operator_id: str
    chart: ChartInput
    journals: JournalsInput
    fiscal_year_start_month: int = Field(ge=1, le=12)
    version: int
    updated_at: str | None = None
    updated_by: str | None = None
    first_open_period: str | None = Field(
        default=None,
        description="The first period neither closed nor closing; null while none is closed.",
    )
    changeable: bool = Field(
        description=(
            "A change is accepted now: nothing is closed yet, or the first open period is"
            " the first month of a fiscal year (else 409 accounting_settings_locked)."
        )
    )


@endpoint(
    bp,
    "/v1/operators/{operator_id}/accounting-settings",
    "GET",
    summary="An operator's chart of accounts, journal codes and fiscal year (with its ETag)",
    tag="accounting",
    errors=(401, 403, 404),
    role="books",
    response=AccountingSettingsOut,
)
def get_settings(call: Call) -> Any:
    return versioned(accounting_settings.view(call.ctx, call.principal, call.params["operator_id"]))


@endpoint(
    bp,
    "/v1/operators/{operator_id}/accounting-settings",
    "PUT",
    summary=(
        "Replace an operator's accounting settings (If-Match); only from a fiscal year"
        " none of whose periods is closed"
    ),
    tag="accounting",
    body=AccountingSettingsInput,
    errors=(401, 403, 404, 409, 412, 422, 428),
    role="books",
    response=AccountingSettingsOut,
)
def put_settings(call: Call) -> Any:
    operator_id = call.params["operator_id"]
    accounting_settings.operator_for_settings(call.ctx, call.principal, operator_id)  # 403/404
    expected = if_match(call)  # ...before 428/412
    return versioned(
        accounting_settings.replace(call.ctx, call.principal, operator_id, expected, call.body)
    )
