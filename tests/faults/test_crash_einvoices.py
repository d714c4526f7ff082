"""Crash the e-invoice job after every call (DynamoDB, and the platform receiving the
flow), then let the schedule run it again: each B2B invoice ends deposited once, with
the platform's flow recorded, and is sent twice only when the job died after the
platform took it and before it was recorded (same trackingId: the same flow)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from chalicelib.domain.lifecycle import CLAIM_TTL
from chalicelib.services.context import Context
from chalicelib.services.einvoice_routing import route_einvoices
from chalicelib.services.platform import FlowPlatform, platform_for
from tests.faults.conftest import CRASH_SAMPLES
from tests.faults.test_crash_jobs import company_with_a_december_day, invoice_companies
from tests.integration.test_ereport_transmission import fake_pa  # noqa: F401 (fixture)
from tests.support.api import Api
from tests.support.crash import Crash, Probe, Scenario, crash_at_every_step
from tests.support.fake_pa import FakePlatform
from tests.support.invariants import assert_invariants


class CountedPlatform:
    """The operator's platform with each flow sent counted by the probe (the crash
    after it: the platform has the flow, the job recorded nothing)."""

    def __init__(self, inner: FlowPlatform, probe: Probe) -> None:
        self._inner, self._probe = inner, probe
        self.sent: Counter[str] = Counter()  # trackingId -> flows received
        self.lost: set[str] = set()  # sent, then the job died before recording it

    def submit_flow(self, *, tracking_id: str, **flow: Any) -> dict[str, Any]:
        self._probe.before("platform.submit_flow")
        answer = self._inner.submit_flow(tracking_id=tracking_id, **flow)
        self.sent[tracking_id] += 1
        try:
            self._probe.after("platform.submit_flow")
        except Crash:
            self.lost.add(tracking_id)
            raise
        return answer

    def __getattr__(self, name: str) -> Any:  # get_flow, the directory: not counted
        return getattr(self._inner, name)


def test_given_a_crash_after_any_call_of_the_einvoice_job_when_rerun_then_deposited_once(
    api: Api,
    admin: str,
    ctx: Context,
    probe: Probe,
    network: dict[str, str],
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    invoices: dict[int, str] = {}
    platforms: dict[int, CountedPlatform] = {}

    def prepare(i: int) -> None:
        company_id = company_with_a_december_day(api, admin, ctx, network, i)
        invoice_companies(ctx)
        statement = api.get(f"/v1/companies/{company_id}/statement?month=2026-12", token=admin)
        invoices[i] = statement.json["invoice"]["id"]
        platform = platform_for(ctx, network["operator"])
        assert platform is not None
        platforms[i] = CountedPlatform(platform, probe)

    def run(i: int) -> None:
        route_einvoices(ctx, platform=platforms[i])

    def rerun(i: int) -> None:  # the next hourly run: any claim left has lapsed
        ctx.clock.advance(seconds=CLAIM_TTL.total_seconds())  # type: ignore[attr-defined]
        run(i)

    def deposited_once(i: int) -> None:
        invoice_id = invoices[i]
        state = ctx.einvoices.get(network["operator"], invoice_id)
        assert state is not None and state["status"] == "200", state
        assert "in_flight" not in state, state
        assert state["flow_id"] == fake_pa.flows[invoice_id]["flowId"]
        sent = platforms[i].sent[invoice_id]
        assert sent == (2 if invoice_id in platforms[i].lost else 1), platforms[i].sent

    # Given, each run, a company invoice to a business, to deposit
    # When the job dies after its k-th call, then the schedule runs it again
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario(
            "e-invoice deposit",
            prepare=prepare,
            run=run,
            recover=rerun,
            converged=deposited_once,
        ),
        check=lambda: assert_invariants(ctx),
        samples=CRASH_SAMPLES,
    )
    # Then each invoice is deposited once, sent again only after a lost answer
    assert report.steps > 4
    if CRASH_SAMPLES == 0:  # make soak: every call, the platform's among them
        assert "platform.submit_flow" in report.crashed_on, report.crashed_on
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")
