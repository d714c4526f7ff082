"""GET /v1/accounting/reconciliation: `from`/`to` are inclusive Paris dates, and a payment
belongs to the span holding the Paris day it was made on, whatever offset the clock
that stamped it used (production's SystemClock answers UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from tests.conftest import PARIS
from tests.support.api import Api
from tests.support.fake_stripe import FakeGateway
from tests.support.webhooks import deliver


def paid_booking(
    api: Api, member: str, network: dict[str, str], stripe_fake: FakeGateway, settings: Settings
) -> dict[str, Any]:
    """A card booking paid through its webhook; no Stripe balance transaction yet, so its
    payment is an unmatched one."""
    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": "2027-01-04", "unit": "day", "payment": "card"},
        token=member,
    )
    assert answer.status == 201, answer.json
    intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    return dict(api.get(f"/v1/bookings/{answer.json['booking']['id']}", token=member).json)


def unmatched(api: Api, accountant: str, operator_id: str, low: str, high: str) -> list[str]:
    answer = api.get(
        f"/v1/accounting/reconciliation?operator_id={operator_id}&from={low}&to={high}",
        token=accountant,
    )
    assert answer.status == 200, answer.json
    return [p["payment_intent_id"] for p in answer.json["unmatched_payments"]]


def test_a_payment_made_on_new_years_night_in_utc_is_of_januarys_report(
    api: Api,
    member: str,
    accountant: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    clock: FixedClock,
) -> None:
    # GIVEN a payment stamped 2026-12-31T23:30Z: 1 January 2027 in Paris
    clock.moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    booking = paid_booking(api, member, network, stripe_fake, settings)
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=accountant).json
    assert invoice["issued_at"].startswith("2027-01-01")
    # THEN it is one of January's unmatched payments, not December's
    operator = network["operator"]
    assert unmatched(api, accountant, operator, "2027-01-01", "2027-01-31") == [
        booking["payment_intent_id"]
    ]
    assert unmatched(api, accountant, operator, "2026-12-01", "2026-12-31") == []


@pytest.mark.parametrize(
    ("moment", "inside", "outside"),
    [
        # 23:59 on 31 December in Paris (UTC key): December's, not January's
        (datetime(2026, 12, 31, 22, 59, tzinfo=UTC), "2026-12-31", "2027-01-01"),
        # Paris midnight exactly: of the day it starts
        (datetime(2027, 1, 1, 0, 0, tzinfo=PARIS), "2027-01-01", "2026-12-31"),
        # a key stamped with the Paris offset: its Paris day, not its UTC one
        (datetime(2027, 1, 1, 0, 30, tzinfo=PARIS), "2027-01-01", "2026-12-31"),
    ],
)
def test_the_last_day_of_a_span_ends_at_paris_midnight(
    api: Api,
    member: str,
    accountant: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    clock: FixedClock,
    moment: datetime,
    inside: str,
    outside: str,
) -> None:
    clock.moment = moment
    intent_id = paid_booking(api, member, network, stripe_fake, settings)["payment_intent_id"]
    operator = network["operator"]
    assert unmatched(api, accountant, operator, inside, inside) == [intent_id]
    assert unmatched(api, accountant, operator, outside, outside) == []


def test_an_open_span_reads_every_payment(
    api: Api,
    member: str,
    accountant: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    clock: FixedClock,
) -> None:
    clock.moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    intent_id = paid_booking(api, member, network, stripe_fake, settings)["payment_intent_id"]
    answer = api.get(
        f"/v1/accounting/reconciliation?operator_id={network['operator']}", token=accountant
    )
    assert answer.status == 200, answer.json
    assert [p["payment_intent_id"] for p in answer.json["unmatched_payments"]] == [intent_id]
