"""Crash the payout reconciliation job after every call, then let the schedule re-run it:
each payout booked once, every fee and payout entry balanced and written once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.jobs import run_job
from chalicelib.services.context import Context
from tests.conftest import NOW
from tests.faults.conftest import CRASH_SAMPLES
from tests.support.api import Api
from tests.support.crash import Probe, Scenario, crash_at_every_step
from tests.support.fake_stripe_ledger import LedgerFakeGateway
from tests.support.invariants import assert_invariants
from tests.support.webhooks import deliver


@pytest.fixture
def stripe_fake() -> LedgerFakeGateway:
    return LedgerFakeGateway(start=int(NOW.timestamp()))


def test_given_a_crash_after_any_call_of_payout_reconciliation_when_rerun_then_booked_once(
    api: Api,
    accountant: str,
    ctx: Context,
    probe: Probe,
    network: dict[str, str],
    stripe_fake: LedgerFakeGateway,
) -> None:
    payouts: dict[int, str] = {}

    def prepare(i: int) -> None:
        """A paid booking of member i, then Stripe pays the balance out."""
        body = {"resource_id": network["pool"], "date": "2026-12-04", "unit": "day"}
        answer = api.post("/v1/bookings", body | {"payment": "card"}, token=api.token(f"m-{i}"))
        assert answer.status == 201, answer.json
        intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
        assert deliver(api, ctx.settings, "payment_intent.succeeded", intent).status == 200
        api.post(f"/v1/bookings/{answer.json['booking']['id']}/cancel", token=api.token(f"m-{i}"))
        payouts[i] = stripe_fake.pay_out().id

    def run(i: int) -> None:
        run_job(ctx, "reconcile_payments")

    def booked_once(i: int) -> None:
        report = api.get(
            f"/v1/accounting/reconciliation?operator_id={network['operator']}"
            "&from=2026-11-01&to=2026-12-31",
            token=accountant,
        ).json
        shown = {p["id"]: p for p in report["payouts"]}
        assert shown[payouts[i]]["matched"] is True, shown
        again = run_job(ctx, "reconcile_payments")  # the next scheduled run: nothing new
        assert again["payouts_booked"] == again["fees_booked"] == 0, again

    # Given, each run, a paid and refunded booking and a payout of the balance
    # When the job dies after its k-th call, then the schedule runs it again
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario("payout reconciliation", prepare=prepare, run=run, converged=booked_once),
        check=lambda: assert_invariants(ctx),
        samples=CRASH_SAMPLES,
    )
    # Then every payout matched and booked once; the ledger balanced
    assert report.steps > 5
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")


def test_given_a_crash_after_any_call_of_a_payout_coming_back_when_rerun_then_reversed_once(
    api: Api,
    accountant: str,
    ctx: Context,
    probe: Probe,
    network: dict[str, str],
    stripe_fake: LedgerFakeGateway,
) -> None:
    payouts: dict[int, tuple[str, int]] = {}
    operator = network["operator"]
    days = (date(2026, 12, 4) + timedelta(days=n) for n in range(90))
    weekdays = [day.isoformat() for day in days if day.weekday() < 5]  # 3 seats each

    def prepare(i: int) -> None:
        """A paid booking of member i, paid out and booked; then the bank sends it back."""
        body = {"resource_id": network["pool"], "date": weekdays[i // 3], "unit": "day"}
        answer = api.post("/v1/bookings", body | {"payment": "card"}, token=api.token(f"m-{i}"))
        assert answer.status == 201, answer.json
        intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
        assert deliver(api, ctx.settings, "payment_intent.succeeded", intent).status == 200
        payout = stripe_fake.pay_out()
        assert run_job(ctx, "reconcile_payments")["payouts_booked"] == 1
        stripe_fake.return_payout(payout.id)
        payouts[i] = (payout.id, payout.amount)

    def run(i: int) -> None:
        run_job(ctx, "reconcile_payments")

    def reversed_once(i: int) -> None:
        payout_id, amount = payouts[i]
        lines = [
            (line.account, line.debit, line.credit)
            for line in ctx.invoices.ledger(operator, 2026)
            if line.entry_id == f"payout-{payout_id}-returned"
        ]
        assert sorted(lines) == [("467000", amount, 0), ("512000", 0, amount)], lines
        report = api.get(
            f"/v1/accounting/reconciliation?operator_id={operator}&from=2026-11-01&to=2026-12-31",
            token=accountant,
        ).json
        assert {p["id"]: p["status"] for p in report["payouts"]}[payout_id] == "failed"
        again = run_job(ctx, "reconcile_payments")  # the next scheduled run: nothing new
        assert again["payouts_returned"] == 0, again

    # Given, each run, a booked payout that the bank sent back
    # When the job dies after its k-th call, then the schedule runs it again
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario("payout coming back", prepare=prepare, run=run, converged=reversed_once),
        check=lambda: assert_invariants(ctx),
        samples=CRASH_SAMPLES,
    )
    # Then every payout that came back is reversed once; the ledger balanced
    assert report.steps > 3
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")
