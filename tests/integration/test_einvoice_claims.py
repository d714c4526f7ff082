"""Two runs of route_einvoices that overlap (the hourly one, one a resend started) never
both send a flow: each claims it on the document's state before calling the platform. A
run that stops between sending and recording leaves its claim; once it is older than
Lambda's longest run, another run sends the flow again, under the same trackingId."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.domain.lifecycle import with_reported
from chalicelib.services.context import Context
from chalicelib.services.einvoice_routing import route_einvoices
from chalicelib.services.platform import FlowPlatform, platform_for
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_einvoice_routing import lifecycle
from tests.integration.test_einvoice_statuses import codes
from tests.integration.test_einvoice_validation import business_card_invoice
from tests.integration.test_ereport_transmission import fake_pa  # noqa: F401
from tests.support.api import Api
from tests.support.fake_pa import FakePlatform


class Stopped(BaseException):
    """The function stopped (Lambda's timeout): nothing after it runs."""


class Meanwhile:
    """The operator's platform, doing `meanwhile` once, the first time a flow is sent,
    before passing it on (or instead of it: `meanwhile` may raise)."""

    def __init__(self, inner: FlowPlatform, meanwhile: Callable[[], Any]) -> None:
        self._inner, self._meanwhile = inner, meanwhile
        self.outcome: Any = None
        self._done = False

    def submit_flow(self, **flow: Any) -> dict[str, Any]:
        if not self._done:
            self._done = True
            self.outcome = self._meanwhile()
        return self._inner.submit_flow(**flow)

    def __getattr__(self, name: str) -> Any:  # get_flow, the directory
        return getattr(self._inner, name)


def the_platform(ctx: Context, operator_id: str) -> FlowPlatform:
    platform = platform_for(ctx, operator_id)
    assert platform is not None
    return platform


def test_a_run_started_while_another_deposits_does_not_deposit_again(
    api: Api,
    admin: str,
    ctx: Context,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    platform = Meanwhile(the_platform(ctx, invoiced["operator_id"]), lambda: route_einvoices(ctx))
    first = route_einvoices(ctx, platform=platform)
    assert (first["deposited"], platform.outcome["deposited"]) == (1, 0)
    assert fake_pa.posts == 1  # the platform received it once
    assert list(fake_pa.flows) == [invoiced["id"]]
    state = lifecycle(api, admin, invoiced["id"])
    assert (state["status"], state["flow_id"]) == ("200", fake_pa.flows[invoiced["id"]]["flowId"])
    assert route_einvoices(ctx)["deposited"] == 0


def test_a_deposit_stopped_short_is_made_again_once_its_claim_is_older_than_a_run(
    api: Api,
    admin: str,
    ctx: Context,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    def stop() -> None:
        raise Stopped()

    with pytest.raises(Stopped):
        route_einvoices(ctx, platform=Meanwhile(the_platform(ctx, invoiced["operator_id"]), stop))
    assert lifecycle(api, admin, invoiced["id"])["status"] is None  # claimed, not sent
    clock.advance(minutes=14)
    assert route_einvoices(ctx)["deposited"] == 0  # that run may still be sending it
    assert fake_pa.posts == 0
    clock.advance(minutes=2)
    assert route_einvoices(ctx)["deposited"] == 1
    assert list(fake_pa.flows) == [invoiced["id"]]  # the same trackingId
    assert lifecycle(api, admin, invoiced["id"])["status"] == "200"


def test_a_deposit_the_platform_could_not_take_gives_its_claim_up(
    api: Api,
    admin: str,
    ctx: Context,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    fake_pa.failures = [503]
    assert route_einvoices(ctx)["waiting"] == 1
    assert route_einvoices(ctx)["deposited"] == 1  # at once, not after the claim's time
    assert lifecycle(api, admin, invoiced["id"])["history"][0]["code"] == "200"


@pytest.fixture
def card_invoice(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: Any,
    settings: Any,
    ctx: Context,
    fake_pa: FakePlatform,  # noqa: F811
) -> dict[str, Any]:
    """A B2B invoice paid by card at issue, deposited: its 212 is the next run's to send."""
    invoice = business_card_invoice(api, member, network, stripe_fake, settings, "2026-12-04")
    assert route_einvoices(ctx)["deposited"] == 1
    return invoice


def test_a_run_started_while_another_sends_a_212_does_not_send_it_again(
    api: Api,
    admin: str,
    ctx: Context,
    card_invoice: dict[str, Any],
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    invoice = card_invoice
    platform = Meanwhile(the_platform(ctx, invoice["operator_id"]), lambda: route_einvoices(ctx))
    assert route_einvoices(ctx, platform=platform)["paid_sent"] == 1
    assert platform.outcome["paid_sent"] == 0
    assert [s[:2] for s in fake_pa.statuses] == [(invoice["number"], "212")]
    assert fake_pa.posts == 2  # the invoice, then its 212, once
    assert codes(api, admin, invoice["id"]) == ["200", "212"]


def test_a_status_arriving_while_a_212_is_sent_is_kept_with_it(
    api: Api, admin: str, ctx: Context, card_invoice: dict[str, Any]
) -> None:
    invoice = card_invoice
    operator_id = invoice["operator_id"]

    def pushed() -> None:  # as the platform's webhook records a status
        state = ctx.einvoices.get(operator_id, invoice["id"])
        assert state is not None and state["in_flight"]["flow"] == f"{invoice['id']}-212"
        history = with_reported(state["history"], [("202", "2026-12-04T10:00:00+01:00")])
        assert history is not None and ctx.einvoices.update(operator_id, state, history)

    platform = Meanwhile(the_platform(ctx, operator_id), pushed)
    assert route_einvoices(ctx, platform=platform)["paid_sent"] == 1
    assert codes(api, admin, invoice["id"]) == ["200", "202", "212"]
    state = ctx.einvoices.get(operator_id, invoice["id"])
    assert state is not None and "in_flight" not in state
