"""Route of an invoice's e-invoicing lifecycle on the accredited platform."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.services import einvoice_routing

bp = Blueprint(__name__)


class LifecycleEntry(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    code: str
    label: str
    at: str
    detail: Any = None


class Lifecycle(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    document_id: str
    routed: bool  # a B2B document, deposited on the platform (else e-reported)
    flow_id: str | None
    status: str | None
    history: list[LifecycleEntry]


@endpoint(
    bp,
    "/v1/invoices/{invoice_id}/lifecycle",
    "GET",
    summary="Where a B2B invoice stands on the accredited platform (statuses 200-213)",
    tag="invoices",
    errors=(403, 404),
    role="books",
    response=Lifecycle,
)
def get_lifecycle(call: Call) -> Any:
    return einvoice_routing.lifecycle(call.ctx, call.params["invoice_id"])
