"""A renewal made late by a catch-up run (`as_of` in the past) keeps its retry schedule."""

from __future__ import annotations

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from tests.integration.test_memberships import (
    membership_product,
    mine,
    paris,
    start_membership,
)
from tests.support.api import Api
from tests.support.fake_stripe_memberships import MembershipFakeGateway


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


def test_a_catch_up_renewal_that_fails_is_retried_days_after_the_real_failure(
    api: Api,
    admin: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> None:
    """README (Jobs): renew_memberships "retries failures after 1, 3, 7 days";
    domain/membership.py: "A failed charge is retried 1, 3 and 7 days after the first
    failure of that period; when the last retry fails the membership is cancelled".
    The renewal of 1 January is made late, by a catch-up run on 9 January with `as_of`
    the moment it fell due (API.md: "an optional {"as_of"} for a catch-up run"; this is
    what `make run`'s scheduler sends after a gap). The card is declined. The failure is
    dated `as_of` (8 days ago), so every retry is already due: the scheduled runs of that
    same night (00:20, 00:35, 00:50) charge the card three more times and cancel the
    membership, 45 minutes after the member's first declined charge (the first failure
    already announced its "next attempt" as 2 January, a date in the past). Expected: the member
    keeps the 1/3/7-day retry schedule counted from the real failure (still past_due,
    one declined attempt, that night)."""
    product = membership_product(api, admin, network["operator"])
    clock.moment = paris(2026, 12, 1, 10, 0)
    member = api.token("member-a")
    start_membership(api, settings, stripe_fake, member, product)
    assert mine(api, member)["status"] == "active"
    stripe_fake.behaviours[stripe_fake.charges[0].payment_method] = "declined"

    # The renewal runs of 1-8 January were missed; the catch-up runs on the 9th at 00:05.
    clock.moment = paris(2027, 1, 9, 0, 5)
    late = api.post(
        "/v1/admin/jobs/renew_memberships",
        {"as_of": paris(2027, 1, 1, 0, 5).isoformat()},
        token=admin,
    )
    assert late.status == 200 and late.json["failed"] == 1, late.json
    assert mine(api, member)["status"] == "past_due"

    # The rest of that night's scheduled runs (every 15 minutes).
    for minute in (20, 35, 50):
        clock.moment = paris(2027, 1, 9, 0, minute)
        answer = api.post("/v1/admin/jobs/renew_memberships", {}, token=admin)
        assert answer.status == 200, answer.json

    declined = [c for c in stripe_fake.charges if c.outcome == "card_declined"]
    membership = mine(api, member)
    assert (membership["status"], len(declined)) == ("past_due", 1), (
        membership["status"],
        [c.key for c in declined],
        membership["next_charge_at"],
    )
