"""DynamoDB request units per kind of operation, as DynamoDB Local reports them
(`ReturnConsumedCapacity=TOTAL` on every call), and what 1,000 paid bookings cost.

PRICES: on-demand, eu-west-3 (Paris), Standard table class, USD per million request
units. NOT checked online from this machine (noted 2026-12-06): half of the pre-November
2024 list prices of the region (AWS halved on-demand throughput prices on 2024-11-01).
Check https://aws.amazon.com/dynamodb/pricing/on-demand/ and edit the two constants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench.capacity import Units, consumed
from bench.latency import bench_days
from bench.payers import payers
from bench.stack import NOW, WEBHOOK_SECRET, World
from bench.stats import Row
from chalicelib.domain.invoice import Sale
from chalicelib.services import invoicing, members
from chalicelib.services.membership_charges import renew_memberships
from tests.support.fake_stripe import signed_event

PRICES_NOTED = "2026-12-06 (assumed, not verified online)"
USD_PER_MILLION_WRU = 0.7423
USD_PER_MILLION_RRU = 0.1484
SECTION = (
    "DynamoDB request units per operation (ReturnConsumedCapacity=TOTAL, DynamoDB Local); "
    f"eu-west-3 on-demand ${USD_PER_MILLION_WRU}/M WRU, ${USD_PER_MILLION_RRU}/M RRU "
    f"[{PRICES_NOTED}]"
)


def _measure(world: World, run: Callable[[], Any]) -> Units:
    with consumed(world.ctx.table.client) as units:
        run()
    return units


def _row(name: str, units: Units) -> Row:
    ops = ", ".join(f"{op} {n}" for op, n in sorted(units.by_operation.items()))
    return Row(SECTION, name, f"{units.write:g} WRU / {units.read:g} RRU", ops)


def _usd(units: list[Units]) -> float:
    write = sum(u.write for u in units)
    read = sum(u.read for u in units)
    return (write * USD_PER_MILLION_WRU + read * USD_PER_MILLION_RRU) / 1e6


def sale_issue(world: World, source: str) -> Callable[[], Any]:
    """One invoice of a booking paid by card, as the webhook issues it."""
    buyer = members.buyer_snapshot(world.ctx, "bench-card")

    def issue() -> Any:
        return invoicing.issue(
            world.ctx,
            operator_id=world.operator,
            source=source,
            buyer=buyer,
            member_id="bench-card",
            sales=[
                Sale(
                    description="Journée — Open space, Gare de Melun",
                    amount_incl_vat=1500,
                    vat_rate=Decimal("20.00"),
                    service_date=NOW.date(),
                )
            ],
            payment={
                "status": "paid",
                "method": "card",
                "paid_at": NOW.isoformat(timespec="seconds"),
                "provider_ref": source,
            },
        )

    return issue


def request_units(world: World) -> list[Row]:
    members_ = payers(world)
    card = members_["card"]
    day = bench_days(40)[-1].isoformat()  # a day no other benchmark books
    body = {"resource_id": world.pool, "date": day, "unit": "day", "payment": "card"}
    h = world.handler

    def book(key: str = "") -> Any:
        answer = h.call("POST", "/v1/bookings", body, token=card.token, key=key)
        assert answer.status == 201, answer.body
        return answer.body

    book()  # the member's profile exists from here on
    rows: list[Row] = []
    paid: list[Units] = []
    booked: dict[str, Any] = {}
    units = _measure(world, lambda: booked.update(book()))
    rows.append(_row("card booking, no Idempotency-Key", units))
    paid.append(units)
    units = _measure(world, lambda: book("units-1"))
    rows.append(_row("card booking, Idempotency-Key", units))

    intent = world.gateway.succeed(booked["payment"]["payment_intent_id"])
    payload, header = signed_event("payment_intent.succeeded", intent, WEBHOOK_SECRET)

    def deliver() -> None:
        answer = h.call_raw("POST", "/v1/webhooks/stripe", payload, {"stripe-signature": header})
        assert answer.status == 200, answer.body

    units = _measure(world, deliver)
    rows.append(_row("confirmation by webhook (invoice included)", units))
    paid.append(units)
    booking_id = booked["booking"]["id"]
    path = f"/v1/bookings/{booking_id}/cancel"
    cancel = _measure(world, lambda: h.call("POST", path, token=card.token))
    rows.append(_row("cancellation in time, with refund (credit note)", cancel))
    issue = _measure(world, sale_issue(world, "units-invoice"))
    rows.append(_row("invoice issuance alone (invoicing.issue)", issue))
    renewal = _renewal_units(world)
    rows.append(_row("membership renewal, one (job, Stripe in memory)", renewal))
    usd = _usd(paid) * 1000
    rows.append(
        Row(
            SECTION,
            "cost of 1,000 paid card bookings",
            f"${usd:.4f}",
            "booking + webhook confirmation (invoice), DynamoDB request units only",
            figure=usd,
        )
    )
    return rows


def _renewal_units(world: World) -> Units:
    """One membership due now, renewed by the job (the gateway charges it at once)."""
    from bench.renewal import due_membership

    membership = due_membership(world.ctx, "bench-renewal-units", NOW - timedelta(days=1))
    with consumed(world.ctx.table.client) as units:
        result = renew_memberships(world.ctx, NOW)
    assert result.get("paid") == 1, (result, membership.id)
    return units
