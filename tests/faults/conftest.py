"""Fixtures of the fault suite: the probe that crashes a flow after its k-th call."""

from __future__ import annotations

import os

import pytest

from chalicelib.services.context import Context
from tests.support.crash import CrashingGateway, Probe
from tests.support.fake_stripe import FakeGateway

# `make test` crashes each flow after CRASH_SAMPLES of its calls, spread from the first
# to the last; `make soak` sets RELAIS_CRASH_SAMPLES=0: after every call.
CRASH_SAMPLES = int(os.environ.get("RELAIS_CRASH_SAMPLES", "4"))
# The injected-fault sweep fails every CRASH_STRIDE-th call (soak: every call).
CRASH_STRIDE = 1 if CRASH_SAMPLES == 0 else 4


@pytest.fixture
def probe(ctx: Context, stripe_fake: FakeGateway) -> Probe:
    probe = Probe()
    probe.watch_table(ctx)
    ctx.gateway_override = CrashingGateway(stripe_fake, probe)  # type: ignore[assignment]
    return probe
