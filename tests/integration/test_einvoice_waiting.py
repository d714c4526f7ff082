"""A B2B invoice issued while its operator has chosen no platform waits (`not_configured`)
and is remembered: once a platform is chosen it is deposited, however long it waited
(the routing job otherwise looks at the last 31 days of documents only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.services.context import Context
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
)
from tests.support.api import Api
from tests.support.fake_pa import CLIENT_ID, CLIENT_SECRET, FakePlatform


def route(api: Api, admin: str) -> dict[str, Any]:
    answer = api.post("/v1/admin/jobs/route_einvoices", {}, token=admin)
    assert answer.status == 200, answer.json
    return dict(answer.json)


def test_an_invoice_waiting_for_a_platform_longer_than_the_look_back_is_deposited_once(
    api: Api,
    admin: str,
    ctx: Context,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a company invoice routed while no platform is chosen: it waits, and says why
    assert route(api, admin)["not_configured"] == 1
    lifecycle = api.get(f"/v1/invoices/{invoiced['id']}/lifecycle", token=admin).json
    assert (lifecycle["flow_id"], lifecycle["error"]) == (None, {"code": "platform_not_configured"})
    # WHEN the operator's platform is set 45 days later
    clock.moment = clock.moment + timedelta(days=45)
    fake = FakePlatform()
    try:
        for name, value in {
            "ereporting_platform_url": fake.url,
            "ereporting_platform_token_url": f"{fake.url}/token",
            "ereporting_platform_client_id": CLIENT_ID,
            "ereporting_platform_client_secret": CLIENT_SECRET,
        }.items():
            monkeypatch.setattr(ctx.settings, name, value)
        # THEN the next run deposits it, and the one after sends nothing more
        assert route(api, admin)["deposited"] == 1
        assert route(api, admin)["deposited"] == 0
    finally:
        fake.close()
    lifecycle = api.get(f"/v1/invoices/{invoiced['id']}/lifecycle", token=admin).json
    assert lifecycle["flow_id"] is not None and lifecycle["error"] is None
