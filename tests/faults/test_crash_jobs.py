"""Crash the scheduled jobs after every call, then let the schedule run them again:
company monthly invoicing, and membership renewals (card and SEPA, paid and refused)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.jobs import run_job
from chalicelib.services.context import Context
from tests.faults.conftest import CRASH_SAMPLES
from tests.support.api import Api, create_network
from tests.support.crash import (
    CrashingGateway,
    Probe,
    Scenario,
    crash_at_every_step,
    empty_table,
)
from tests.support.fake_stripe_memberships import Behaviour, MembershipFakeGateway
from tests.support.invariants import assert_invariants
from tests.support.webhooks import deliver

PARIS = ZoneInfo("Europe/Paris")
# Weekdays of December ahead of the test clock: ten one-hour bookings on each.
DECEMBER = [f"2026-12-{d:02d}" for d in (2, 3, 4, 7, 8, 9, 10, 11, 14, 15)]


def luhn_siren(n: int) -> str:
    """A valid SIREN (Luhn) for company n."""
    body = f"{40000000 + n:08d}"
    for check in range(10):
        digits = [int(d) for d in body + str(check)]
        total = sum(
            d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
            for i, d in enumerate(reversed(digits))
        )
        if total % 10 == 0:
            return body + str(check)
    raise AssertionError("no check digit")


def company_with_a_december_day(api: Api, admin: str, ctx: Context, network: dict, i: int) -> str:
    """On an emptied table and a new network: company i, one employee, one company-paid
    day in December; its id. (The monthly jobs read every company, the e-invoice job
    every recent invoice: earlier subjects would lengthen every run.)"""
    empty_table(ctx)
    network.update(create_network(api, admin))
    body = {
        "name": f"Atelier {i} SAS",
        "siren": luhn_siren(i),
        "billing_address": {
            "line1": "12 rue de la Gare",
            "postcode": "77300",
            "city": "Fontainebleau",
            "country": "FR",
        },
        "billing_email": "compta@example.org",
        "operator_id": network["operator"],
    }
    company = api.post("/v1/companies", body, token=admin)
    assert company.status == 201, company.json
    company_id = str(company.json["id"])
    added = api.post(f"/v1/companies/{company_id}/members", {"member_id": f"emp-{i}"}, token=admin)
    assert added.status == 201, added.json
    booked = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": DECEMBER[i // 10 % 10], "payment": "company"}
        | {"unit": "hour", "start": f"{8 + i % 10:02d}:00", "end": f"{9 + i % 10:02d}:00"},
        token=api.token(f"emp-{i}"),
    )
    assert booked.status == 201, booked.json
    return company_id


def invoice_companies(ctx: Context) -> None:
    run_job(ctx, "invoice_companies", as_of=datetime(2027, 1, 1, 3, 0, tzinfo=PARIS))


def test_given_a_crash_after_any_call_of_company_invoicing_when_rerun_then_one_invoice(
    api: Api, admin: str, ctx: Context, probe: Probe, network: dict[str, str]
) -> None:
    companies: dict[int, str] = {}

    def prepare(i: int) -> None:
        companies[i] = company_with_a_december_day(api, admin, ctx, network, i)

    def run(i: int) -> None:
        invoice_companies(ctx)

    def invoiced_once(i: int) -> None:
        answer = api.get(f"/v1/companies/{companies[i]}/statement?month=2026-12", token=admin)
        assert answer.status == 200, answer.json
        assert answer.json["invoice"] is not None, answer.json

    # Given, each run, a company with a booking in December
    # When the January job dies after its k-th call, then runs again
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario("company monthly invoicing", run=run, converged=invoiced_once, prepare=prepare),
        check=lambda: assert_invariants(ctx),
        samples=CRASH_SAMPLES,
    )
    # Then each company has one invoice for December; numbers and ledger intact
    assert report.steps > 5
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")


# -- memberships ------------------------------------------------------------------------------


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


class Renewals:
    """Subject i: member-i's monthly membership, renewed by the job (and for SEPA, the
    bank's answer coming as webhooks)."""

    def __init__(
        self, api: Api, admin: str, ctx: Context, clock: FixedClock, stripe: MembershipFakeGateway
    ) -> None:
        self.api, self.admin, self.ctx, self.clock, self.stripe = api, admin, ctx, clock, stripe
        self.product = ""
        self.due: dict[int, datetime] = {}

    def fresh_network(self) -> None:
        """An emptied table with a new network and membership product: the job renews
        every due membership, so earlier subjects' (due again each month as the clock
        moves) would lengthen every run, and crashing after every call would never end."""
        empty_table(self.ctx)
        network = create_network(self.api, self.admin)
        product = self.api.post(
            "/v1/products",
            {
                "kind": "membership",
                "name": "Nomade",
                "price": {"amount": 9900, "vat_rate": "20.00"},
                "operator_id": network["operator"],
                "period": "month",
            },
            token=self.admin,
        )
        assert product.status == 201, product.json
        self.product = str(product.json["id"])

    def token(self, i: int) -> str:
        return self.api.token(f"member-{i}")

    def mine(self, i: int) -> dict[str, Any]:
        (membership,) = self.api.get("/v1/memberships", token=self.token(i)).json["items"]
        return dict(membership)

    def start(self, i: int, method: str, behaviour: Behaviour, renewal: Behaviour) -> None:
        """On a fresh network, subscribe; the first period paid (settled at once for
        SEPA); the payment method then behaves as `renewal`."""
        self.fresh_network()
        self.clock.moment = self.clock.moment.replace(hour=10) + timedelta(days=1)
        answer = self.api.post(
            "/v1/memberships",
            {"product_id": self.product, "payment_method_type": method},
            token=self.token(i),
        )
        assert answer.status == 201, answer.json
        setup = self.stripe.save_payment_method(answer.json["setup"]["setup_intent_id"], behaviour)
        assert self._deliver("setup_intent.succeeded", setup, f"evt-setup-{i}") == 200
        first = self.stripe.charges[-1]
        if behaviour == "sepa":
            settled = self.stripe.settle(first.intent_id)
            assert self._deliver("payment_intent.succeeded", settled, f"evt-first-{i}") == 200
        assert self.mine(i)["status"] == "active"
        self.stripe.behaviours[first.payment_method] = renewal
        self.due[i] = datetime.fromisoformat(self.mine(i)["next_charge_at"])

    def renew(self, i: int, bank: str | None, rerun: bool = False) -> None:
        """The job just after the due time (`rerun`: its next scheduled run, an hour later,
        when a crashed run's claim has lapsed); for SEPA, the bank settles or bounces."""
        at = self.due[i] + timedelta(minutes=65 if rerun else 5)
        self.clock.moment = max(self.clock.moment, at)
        run_job(self.ctx, "renew_memberships", as_of=at)
        if bank is None:
            return
        mine = self.mine(i)["id"]
        charge = [c for c in self.stripe.charges if c.metadata["membership_id"] == mine][-1]
        assert charge.metadata["period"] == "2", charge
        processing = self.stripe.event_object(charge.intent_id)
        self._deliver("payment_intent.processing", processing, f"evt-proc-{i}")
        answer = self.stripe.settle(charge.intent_id) if bank == "settles" else None
        if bank == "settles":
            assert answer is not None
            assert self._deliver("payment_intent.succeeded", answer, f"evt-bank-{i}") == 200
        else:
            bounced = self.stripe.bounce(charge.intent_id)
            assert self._deliver("payment_intent.payment_failed", bounced, f"evt-bank-{i}") == 200

    def _deliver(self, event_type: str, obj: dict[str, Any], event_id: str) -> int:
        return int(deliver(self.api, self.ctx.settings, event_type, obj, event_id).status)


@pytest.fixture
def renewals(
    api: Api,
    admin: str,
    ctx: Context,
    clock: FixedClock,
    stripe_fake: MembershipFakeGateway,
    probe: Probe,
) -> Renewals:
    ctx.gateway_override = CrashingGateway(stripe_fake, probe)  # type: ignore[assignment]
    return Renewals(api, admin, ctx, clock, stripe_fake)


@pytest.mark.parametrize(
    ("method", "first", "renewal", "bank", "status"),
    [
        ("card", "succeeds", "succeeds", None, "active"),
        ("card", "succeeds", "declined", None, "past_due"),
        ("sepa_debit", "sepa", "sepa", "settles", "active"),
        ("sepa_debit", "sepa", "sepa", "bounces", "past_due"),
    ],
    ids=["card-paid", "card-declined", "sepa-settled", "sepa-bounced"],
)
def test_given_a_crash_after_any_call_of_a_renewal_when_rerun_then_charged_once(
    method: str,
    first: Behaviour,
    renewal: Behaviour,
    bank: str | None,
    status: str,
    ctx: Context,
    probe: Probe,
    renewals: Renewals,
    stripe_fake: MembershipFakeGateway,
) -> None:
    def charged_once(i: int) -> None:
        membership = renewals.mine(i)
        assert membership["status"] == status, membership
        # The renewal is one Stripe attempt (one idempotency key), however often a re-run
        # replays it after a crash
        keys = {
            c.key
            for c in stripe_fake.charges
            if c.metadata["membership_id"] == membership["id"] and c.metadata["period"] == "2"
        }
        assert len(keys) == 1, keys
        invoices = renewals.api.get("/v1/invoices", token=renewals.token(i)).json["items"]
        assert len(invoices) == (2 if status == "active" else 1), invoices

    # Given a membership whose renewal is due
    # When the renewal (job, then the bank's webhooks) dies after its k-th call, then the
    # schedule runs the job again and Stripe redelivers
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario(
            f"membership renewal ({method}, {status})",
            prepare=lambda i: renewals.start(i, method, first, renewal),
            run=lambda i: renewals.renew(i, bank),
            recover=lambda i: renewals.renew(i, bank, rerun=True),
            converged=charged_once,
        ),
        check=lambda: assert_invariants(ctx, stripe_fake),
        samples=CRASH_SAMPLES,
    )
    # Then one charge of the period, the status it earns, an invoice only when paid
    assert report.steps > 3
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")
