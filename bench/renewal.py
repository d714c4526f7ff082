"""The monthly renewal run (`renew_memberships`) against localstripe: N memberships due
at once, charged off session by the job (runs of RUN_SECONDS, the API's default budget, until
nothing is due), then extrapolated to 5,000 and set against what the schedule gives: a
15-minute function claiming work for 675 s, 4 runs a night at least.

BENCH_RENEWALS=N sets N (default: 300 in a full run, 20 in a quick one)."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.stack import NOW, World
from bench.stats import Row
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.domain.membership import Membership, MembershipStatus
from chalicelib.services.context import Context
from chalicelib.services.membership_charges import renew_memberships
from chalicelib.services.run_budget import budget_for
from tools.local_stack import free_port
from tools.localstripe_server import CARD_SUCCEEDS, start_localstripe

TARGET = 5000
LAMBDA_MAX_SECONDS = 15 * 60
JOB_TIMEOUT_SECONDS = 900  # .chalice/config.json, lambda_functions.renew_memberships
# cron(5/15 22,23 * * ? *): 8 runs, of which those after midnight in Paris find work:
# 4 in winter (23:05–23:50 UTC), 8 in summer. The fewest counts.
RUNS_PER_NIGHT = 4
SECTION = "monthly renewal run vs localstripe (renew_memberships, DynamoDB Local)"


def due_membership(
    ctx: Context,
    member: str,
    due: datetime,
    operator_id: str = "",
    customer: str = "cus_bench",
    payment_method: str = "pm_bench",
) -> Membership:
    """An active membership whose period ends (and next charge falls) at `due`."""
    gateway: Any = ctx.gateway_override
    if hasattr(gateway, "behaviours"):  # the in-memory Stripe: this card pays
        gateway.behaviours[payment_method] = "succeeds"
    start = due - timedelta(days=30)
    membership = Membership(
        id=f"mbs_{uuid.uuid4().hex[:20]}",
        member_id=member,
        product_id="prd_bench",
        product_name="Nomade",
        operator_id=operator_id or _some_operator(ctx),
        amount=9900,
        vat_rate="20.00",
        payment_method_type="card",
        status=MembershipStatus.active,
        days_per_period=Decimal(8),
        customer_id=customer,
        payment_method_id=payment_method,
        anchor=start.date(),
        period=1,
        current_period_start=start,
        current_period_end=due,
        created_at=start,
    )
    ctx.memberships.add(membership)  # then due: only a save files it on the due index
    done = ctx.memberships.update(
        member, membership.id, lambda m: m.model_copy(update={"next_charge_at": due})
    )
    assert done is not None and done[0].due_at == due, done
    return done[0]


def _some_operator(ctx: Context) -> str:
    relays = ctx.catalogue.get().relays
    return next(iter(relays.values())).operator_id


def _saved_card(gateway: StripeGateway) -> tuple[str, str]:
    """A customer at localstripe with a card saved by a confirmed SetupIntent."""
    key = uuid.uuid4().hex
    customer = gateway.create_customer(
        email="bench@example.org", name="Bench", idempotency_key=f"cus-{key}", metadata={}
    )
    setup = gateway.create_setup_intent(
        customer=customer, payment_method_types=["card"], idempotency_key=f"seti-{key}", metadata={}
    )
    year = NOW.year + 3
    method = gateway.client.v1.payment_methods.create(
        params={  # type: ignore[arg-type]
            "type": "card",
            "card": {"number": CARD_SUCCEEDS, "exp_month": 12, "exp_year": year, "cvc": "123"},
        }
    )
    saved = gateway.client.v1.setup_intents.confirm(setup.id, params={"payment_method": method.id})
    return customer, str(saved.payment_method)


def renewals(world: World, quick: bool) -> list[Row]:
    n = int(os.environ.get("BENCH_RENEWALS") or (20 if quick else 300))
    due = NOW + timedelta(days=20)
    server = start_localstripe(free_port())
    try:
        gateway = StripeGateway("sk_test_relais", api_base=server.base_url, timeout_seconds=10)
        ctx = Context(
            world.ctx.settings, world.ctx.table, FixedClock(due), gateway_override=gateway
        )
        customer, method = _saved_card(gateway)  # one card for all: a charge costs the same
        for i in range(n):
            due_membership(ctx, f"bench-renewal-{i}", due, world.operator, customer, method)
        runs: list[dict[str, Any]] = []
        began = time.perf_counter()
        while len(runs) < 10_000:
            result = renew_memberships(ctx, due)
            runs.append(result)
            if not result.get("deferred"):
                break
        wall = time.perf_counter() - began
    finally:
        server.stop()
    paid = sum(r.get("paid", 0) for r in runs)
    per = wall / max(paid, 1)
    target_wall = per * TARGET
    budget = budget_for(JOB_TIMEOUT_SECONDS)
    per_run = budget / per
    runs_needed = TARGET / per_run
    scaled = "measured" if n == TARGET else f"extrapolated from N={n} (BENCH_RENEWALS)"
    return [
        Row(SECTION, f"memberships renewed (N={n})", f"{paid} paid", f"{len(runs)} job runs"),
        Row(SECTION, "wall time per membership", f"{per * 1000:.1f} ms", "claim, charge, invoice"),
        Row(
            SECTION,
            f"wall time for {TARGET:,}, one worker",
            f"{target_wall:.0f} s",
            f"{scaled}; goal: a wide margin under Lambda's 15 min",
            figure=target_wall / LAMBDA_MAX_SECONDS,
            goal=0.5,
        ),
        Row(
            SECTION,
            f"  share of Lambda's 15 min for {TARGET:,}",
            f"{target_wall / LAMBDA_MAX_SECONDS:.0%}",
            "goal <= 50%",
        ),
        Row(
            SECTION,
            f"renewals per scheduled run ({budget:.0f} s of its {JOB_TIMEOUT_SECONDS} s)",
            f"{per_run:.0f}",
            f"{TARGET:,} due on one day: {runs_needed:.2f} of the night's {RUNS_PER_NIGHT} runs",
            figure=runs_needed / RUNS_PER_NIGHT,
            goal=0.5,
        ),
    ]
