"""Sending the produced e-reporting files through the operator's accredited platform.

Each `produced` file is submitted once as a flow (`flowSyntax` FRR, `processingRule`
B2C) whose `trackingId` is the file's id: if an answer is lost and the file is sent
again, the platform sees the same flow. A refusal (4xx) marks the file `rejected` with
the platform's answer — never resent as is: the next production run makes the period's
file again (`ereporting.produce_report`). A file the flux 10 schematron would refuse
(one stored before that check existed) is not sent but marked `rejected` the same way,
with the rules it breaks. An outage leaves a file `produced`, to be sent by the next run.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.flux10_xml import refusals
from chalicelib.adapters.pa_client import PlatformRejected, PlatformUnavailable
from chalicelib.services.catalogue import list_operators
from chalicelib.services.context import Context
from chalicelib.services.platform import FlowPlatform, platform_for

EREPORTING_SYNTAX = "FRR"
EREPORTING_RULE = "B2C"


def transmit_ereports(ctx: Context, platform: FlowPlatform | None = None) -> dict[str, int]:
    """Submit every produced file; counts of submitted, rejected and still waiting."""
    counts = {"submitted": 0, "rejected": 0, "waiting": 0}
    for operator in list_operators(ctx):
        waiting = [r for r in ctx.ereports.all(operator.id) if r["status"] == "produced"]
        chosen = (platform or platform_for(ctx, operator.id)) if waiting else None
        if chosen is None:  # nothing to send, or no platform chosen: the files wait
            continue
        for report in sorted(waiting, key=lambda r: (r["period_start"], int(r["sequence"]))):
            counts[_transmit(ctx, chosen, operator.id, report)] += 1
    return counts


def _transmit(
    ctx: Context, platform: FlowPlatform, operator_id: str, report: dict[str, Any]
) -> str:
    problems = refusals(report["xml"].encode("utf-8"))
    if problems:  # the platform would refuse it: not sent
        refusal = {"status": "not_sent", "detail": "; ".join(problems)}
        ctx.ereports.mark(operator_id, report, "rejected", refusal)
        return "rejected"
    try:
        answer = platform.submit_flow(
            tracking_id=report["id"],
            name=f"{report['id']}.xml",
            syntax=EREPORTING_SYNTAX,
            processing_rule=EREPORTING_RULE,
            content=report["xml"].encode("utf-8"),
        )
    except PlatformUnavailable:
        return "waiting"
    except PlatformRejected as exc:
        ctx.ereports.mark(
            operator_id, report, "rejected", {"status": exc.status, "detail": exc.detail}
        )
        return "rejected"
    outcome = {"flow_id": answer.get("flowId"), "at": ctx.clock.now().isoformat()}
    ctx.ereports.mark(operator_id, report, "submitted", outcome)
    return "submitted"
