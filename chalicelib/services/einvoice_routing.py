"""B2B invoices through the operator's accredited platform, and their lifecycle statuses.

`route_einvoices` deposits each recent invoice or credit note whose buyer has a SIREN
as a CII flow (`processingRule` B2B; `trackingId` = the document id, so a flow sent
again after a lost answer is the same flow) and records 200 Déposée with the flow id; a
flow the platform refuses is recorded 213 Rejetée with its answer. It then asks the
platform for each routed document not in a final state and adds the statuses it
reports (201 Émise, 202 Reçue, 205 Approuvée, 210 Refusée, 212 Encaissée...), once each.
An outage leaves everything for the next run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.invoice_cii import cii_xml
from chalicelib.adapters.pa_client import PlatformRejected, PlatformUnavailable
from chalicelib.domain.lifecycle import FINAL, is_routed, with_status
from chalicelib.domain.timezones import PARIS
from chalicelib.services.catalogue import list_operators
from chalicelib.services.context import Context
from chalicelib.services.invoicing import get_document
from chalicelib.services.platform import FlowPlatform, platform_of

LOOKBACK = timedelta(days=31)


def route_einvoices(
    ctx: Context, as_of: datetime | None = None, platform: FlowPlatform | None = None
) -> dict[str, int]:
    platform = platform or platform_of(ctx.settings)
    counts = {"deposited": 0, "rejected": 0, "updated": 0, "waiting": 0}
    if platform is None:
        return counts
    today = (as_of or ctx.clock.now()).astimezone(PARIS).date()
    for operator in list_operators(ctx):
        routed = {state["document_id"]: state for state in ctx.einvoices.all(operator.id)}
        for document in _recent(
            ctx, operator.id, (today - LOOKBACK).isoformat(), today.isoformat()
        ):
            if is_routed(document) and document["id"] not in routed:
                counts[_deposit(ctx, platform, document)] += 1
        for state in routed.values():
            if state["status"] not in FINAL:
                counts[_refresh(ctx, platform, operator.id, state)] += 1
    return counts


def lifecycle(ctx: Context, document_id: str) -> dict[str, Any]:
    document = get_document(ctx, document_id)  # 404 for an unknown document
    state = ctx.einvoices.get(document["operator_id"], document_id) or {}
    return {
        "document_id": document_id,
        "routed": is_routed(document),
        "flow_id": state.get("flow_id"),
        "status": state.get("status"),
        "history": state.get("history") or [],
    }


def _deposit(ctx: Context, platform: FlowPlatform, document: dict[str, Any]) -> str:
    now = ctx.clock.now().isoformat(timespec="seconds")
    try:
        answer = platform.submit_flow(
            tracking_id=document["id"],
            name=f"{document['number']}.xml",
            syntax="CII",
            processing_rule="B2B",
            content=cii_xml(document),
        )
    except PlatformUnavailable:
        return "waiting"
    except PlatformRejected as exc:
        history = with_status([], "213", now, {"status": exc.status, "detail": exc.detail}) or []
        _create(ctx, document, None, history)
        return "rejected"
    _create(ctx, document, answer.get("flowId"), with_status([], "200", now) or [])
    return "deposited"


def _create(
    ctx: Context, document: dict[str, Any], flow_id: str | None, history: list[dict[str, Any]]
) -> None:
    state = {
        "document_id": document["id"],
        "number": document["number"],
        "flow_id": flow_id,
        "status": history[-1]["code"],
        "history": history,
    }
    ctx.einvoices.create(document["operator_id"], state)


def _refresh(ctx: Context, platform: FlowPlatform, operator_id: str, state: dict[str, Any]) -> str:
    if not state.get("flow_id"):
        return "waiting"
    try:
        flow = platform.get_flow(str(state["flow_id"]))
    except (PlatformUnavailable, PlatformRejected):
        return "waiting"
    history = list(state.get("history") or [])
    for reported in flow.get("lifecycle") or []:
        history = (
            with_status(history, str(reported.get("code")), str(reported.get("at"))) or history
        )
    if len(history) == len(state.get("history") or []):
        return "waiting"
    return "updated" if ctx.einvoices.update(operator_id, state, history) else "waiting"


def _recent(ctx: Context, operator_id: str, since: str, until: str) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page, cursor = ctx.invoices.page(
            member_id=None,
            operator_id=operator_id,
            span=(since, until),
            doc_type=None,
            limit=500,
            cursor=cursor,
        )
        documents.extend(page)
        if not cursor:
            return documents
