"""Stripe redelivers: the same event delivered by eight callers at once, on DynamoDB Local.

The race only means something on a real engine (moto's in-memory backend is not safe to
mutate from several threads at once), hence here and not in tests/integration/test_webhooks.py.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.auth import Principal
from chalicelib.domain.catalogue import NewProduct
from chalicelib.domain.identifiers import new_id
from chalicelib.services import wallet
from chalicelib.services.catalogue import create_product
from chalicelib.services.context import Context
from chalicelib.services.webhooks import handle_stripe_webhook
from tests.integration.ddblocal.conftest import Network, ThreadSafeGateway
from tests.support.fake_stripe import signed_event

MEMBER = Principal(sub="member-1", email="member-1@example.org")
DELIVERIES = 8


@pytest.mark.usefixtures("ddb_real_engine")
def test_the_same_event_delivered_concurrently_takes_effect_once(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    # GIVEN a pack of 10 credits bought and paid for
    product = create_product(
        ddb_ctx,
        NewProduct.model_validate(
            {
                "kind": "credit_pack",
                "name": "10 journées",
                "price": {"amount": 15000},
                "operator_id": ddb_network.operator,
                "credits": 10,
                "validity_days": 365,
            }
        ),
    )
    bought = wallet.buy_pack(ddb_ctx, MEMBER, product.id, new_id("pur"))
    gateway = ddb_ctx.gateway
    assert isinstance(gateway, ThreadSafeGateway)
    intent = gateway.succeed(bought["payment"]["payment_intent_id"])
    payload, header = signed_event(
        "payment_intent.succeeded",
        intent,
        ddb_ctx.settings.stripe_webhook_secret,
        event_id="evt_race",
    )
    barrier = threading.Barrier(DELIVERIES, timeout=30)

    def deliver_once(_: int) -> dict[str, Any]:
        barrier.wait()
        return handle_stripe_webhook(ddb_ctx, payload, header)

    # WHEN Stripe's event reaches eight handlers at the same moment
    with ThreadPoolExecutor(DELIVERIES) as pool:
        results = list(pool.map(deliver_once, range(DELIVERIES), timeout=120))

    # THEN one grants the credits, the seven others see a duplicate
    outcomes = Counter(r.get("outcome", "duplicate") for r in results)
    assert outcomes == {"granted": 1, "duplicate": 7}
    # AND the wallet holds the pack once
    held = wallet.wallet(ddb_ctx, MEMBER)
    assert held["credits_remaining"] == 10
    assert len(held["packs"]) == 1
