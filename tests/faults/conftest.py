"""Fixtures of the fault suite: the probe that crashes a flow after its k-th call."""

from __future__ import annotations

import os

import pytest

from chalicelib.services.context import Context
from tests.support.crash import CrashingGateway, Probe
from tests.support.fake_stripe import FakeGateway

# `make test` crashes every `CRASH_STRIDE`-th call of each flow, starting from a
# different call in each flow; `make soak` sets RELAIS_CRASH_STRIDE=1: every call.
CRASH_STRIDE = int(os.environ.get("RELAIS_CRASH_STRIDE", "4"))


@pytest.fixture
def probe(ctx: Context, stripe_fake: FakeGateway) -> Probe:
    probe = Probe()
    probe.watch_table(ctx)
    ctx.gateway_override = CrashingGateway(stripe_fake, probe)  # type: ignore[assignment]
    return probe
