"""Bookings racing an opening exception that shortens their day, on DynamoDB Local: the
edit and an afternoon booking never both commit (the edit's slot checks and the day's
hours marker in every booking transaction), whatever the order."""

from __future__ import annotations

import pytest

from chalicelib.auth import Principal
from chalicelib.domain.catalogue_patches import RelayPatch
from chalicelib.domain.identifiers import new_id
from chalicelib.errors import CapacityConflict, OutsideOpeningHours, PreconditionFailed
from chalicelib.services.bookings import book
from chalicelib.services.catalogue_edits import patch_relay
from chalicelib.services.context import Context
from tests.integration.ddblocal.conftest import Network
from tests.integration.ddblocal.test_never_oversell import (
    DAY,
    hour_request,
    member,
    occupancy,
    race,
)

pytestmark = [pytest.mark.ddblocal, pytest.mark.usefixtures("ddb_real_engine")]
ADMIN = Principal(sub="admin-1", groups=frozenset({"admin"}))
MORNING_ONLY = RelayPatch.model_validate(
    {"opening_exceptions": [{"date": DAY.isoformat(), "hours": [["08:00", "13:00"]]}]}
)


def test_an_afternoon_booking_and_a_morning_only_exception_never_both_commit(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    bookers = [
        lambda i=i: book(
            ddb_ctx,
            member(f"m-{i}"),
            hour_request(ddb_network.pool, "15:00", "16:00"),
            new_id("bkg"),
        )
        for i in range(4)
    ]
    edit = [lambda: patch_relay(ddb_ctx, ADMIN, ddb_network.relay, '"1"', MORNING_ONLY)]
    outcome = race(bookers + edit)
    allowed = (CapacityConflict, OutsideOpeningHours, PreconditionFailed)
    assert all(isinstance(e, allowed) for e in outcome.errors if e), outcome.errors
    edit_won = outcome.errors[-1] is None
    afternoon = {
        k: v
        for k, v in occupancy(ddb_ctx, ddb_network.relay, ddb_network.pool).items()
        if int(k[1:]) >= 26
    }
    booked_afternoon = any(v > 0 for v in afternoon.values())
    assert edit_won != booked_afternoon, (outcome.errors, afternoon)
