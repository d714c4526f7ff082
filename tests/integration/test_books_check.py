"""The nightly `check_books` job: its findings, and the metrics the alarms watch.

Real flows on moto with the fake Stripe that keeps a balance and itemized payouts
(tests/support/fake_stripe_ledger.py). The test clock is 2026-12-01; the job is run as of
ten days later, so that its window (31 days ending a week before the run) holds them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.jobs import run_job
from chalicelib.observability import metrics
from chalicelib.services.context import Context
from chalicelib.services.reconciliation import reconcile_payments
from tests.conftest import NOW
from tests.support.api import Api
from tests.support.fake_stripe_ledger import LedgerFakeGateway, card_fee
from tests.support.webhooks import deliver

AS_OF = NOW + timedelta(days=10)


@pytest.fixture
def stripe_fake() -> LedgerFakeGateway:
    return LedgerFakeGateway(start=int(NOW.timestamp()))


@pytest.fixture(autouse=True)
def no_metrics_left_over() -> None:
    metrics().clear_metrics()


def paid_booking(
    api: Api, member: str, pool: str, fake: LedgerFakeGateway, settings: Settings, day: str
) -> str:
    body = {"resource_id": pool, "date": day, "unit": "day", "payment": "card"}
    answer = api.post("/v1/bookings", body, token=member)
    assert answer.status == 201, answer.json
    intent = fake.succeed(answer.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    return str(intent["id"])


def emitted(out: str) -> dict[str, Any]:
    """The EMF blob the job flushed (one per run)."""
    (blob,) = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return blob


def test_books_that_add_up_give_zero_findings_and_zero_metrics(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN two paid bookings, paid out by Stripe and reconciled
    for day in ("2026-12-04", "2026-12-07"):
        paid_booking(api, member, network["pool"], stripe_fake, settings, day)
    stripe_fake.pay_out()
    reconcile_payments(ctx)
    capsys.readouterr()

    # WHEN the nightly check runs
    result = run_job(ctx, "check_books", AS_OF)

    # THEN it finds nothing, and says so in metrics the alarms read (job dimension)
    assert (result["from"], result["to"]) == ("2026-11-04", "2026-12-04")
    assert result["findings"] == []
    blob = emitted(capsys.readouterr().out)
    assert blob["job"] == "check_books" and blob["service"] == "relais-backend"
    counts = [blob[m] for m in ("IntegrityFailures", "PayoutMismatches", "UnmatchedPayments")]
    assert counts == [[0.0], [0.0], [0.0]]


def test_a_payout_that_does_not_add_up_and_an_unseen_payment_are_each_a_finding(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # GIVEN a payout 1 EUR larger than its two payments net of fees
    for day in ("2026-12-04", "2026-12-07"):
        paid_booking(api, member, network["pool"], stripe_fake, settings, day)
    payout = stripe_fake.pay_out(amount=3000 - 2 * card_fee(1500) + 100)
    reconcile_payments(ctx)
    # AND a payment Stripe's balance does not show yet (no reconciliation since)
    unseen = paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-08")

    result = run_job(ctx, "check_books", AS_OF)

    assert result["PayoutMismatches"] == 1
    assert result["UnmatchedPayments"] == 1
    assert {
        (f["metric"], f.get("payout_id") or f.get("payment_intent_id")) for f in result["findings"]
    } == {("PayoutMismatches", payout.id), ("UnmatchedPayments", unseen)}


def test_a_tampered_document_is_an_integrity_failure_named_by_its_number(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-04")
    key = {"PK": f"DOC#{network['operator']}#2026", "SK": "000001"}
    document = json.loads(ctx.table.table.get_item(Key=key)["Item"]["body"])
    document["totals"]["incl_vat"] = 150
    ctx.table.table.update_item(
        Key=key,
        UpdateExpression="SET body = :b",
        ExpressionAttributeValues={":b": json.dumps(document)},
    )
    capsys.readouterr()

    result = run_job(ctx, "check_books", AS_OF)

    integrity = [f for f in result["findings"] if f["metric"] == "IntegrityFailures"]
    assert integrity == [
        {
            "operator_id": network["operator"],
            "metric": "IntegrityFailures",
            "first_broken_number": "RL-2026-000001",
        }
    ]
    assert emitted(capsys.readouterr().out)["IntegrityFailures"] == [1.0]
