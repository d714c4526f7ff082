"""Replacing a membership's payment method (moto, fake Stripe): a SetupIntent for a new
card or SEPA mandate, the new method taking over when it succeeds, and the failed period
charged again at once — once, whatever the deliveries — active on success, past_due with
the reason on failure, without using up the scheduled retries."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from tests.integration.test_memberships import (
    deliver,
    invoices,
    membership_product,
    mine,
    paris,
    run_renewals,
    start_membership,
)
from tests.support.api import Answer, Api, assert_problem
from tests.support.fake_stripe_memberships import MembershipFakeGateway


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


@pytest.fixture
def product(api: Api, admin: str, network: dict[str, str]) -> str:
    return membership_product(api, admin, network["operator"])


def replace(api: Api, token: str, membership_id: str, method: str = "card", **kw: Any) -> Answer:
    body = {"payment_method_type": method}
    return api.request(
        "PUT", f"/v1/memberships/{membership_id}/payment-method", body, token=token, **kw
    )


def past_due(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> str:
    """A membership whose January renewal was declined (past_due, retry on 2 January);
    the clock stands on 1 January, 10:00."""
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    stripe_fake.behaviours[stripe_fake.charges[0].payment_method] = "declined"
    assert run_renewals(api, admin, paris(2027, 1, 1, 0, 5))["failed"] == 1
    clock.moment = paris(2027, 1, 1, 10, 0)
    assert mine(api, member)["status"] == "past_due"
    return membership_id


def test_a_new_card_charges_the_failed_period_at_once_and_reactivates(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> None:
    # GIVEN a past_due membership
    membership_id = past_due(api, admin, member, product, settings, stripe_fake, clock)
    assert mine(api, member)["last_payment_error"] == "card_declined"
    # WHEN the member starts a SetupIntent for a new card
    answer = replace(api, member, membership_id)
    assert answer.status == 200, answer.json
    setup_id = answer.json["setup"]["setup_intent_id"]
    assert answer.json["setup"]["client_secret"] == f"{setup_id}_secret"
    assert answer.json["membership"]["status"] == "past_due"  # nothing changes before it succeeds
    assert stripe_fake.setup_intents[setup_id].metadata["purpose"] == "payment_method"
    # AND the browser confirms it; Stripe reports it twice
    setup = stripe_fake.save_payment_method(setup_id, "succeeds")
    for _ in range(2):
        assert deliver(api, settings, "setup_intent.succeeded", setup).status == 200
    # THEN the failed period was charged once, with the new method and the next attempt's key
    retried = [c for c in stripe_fake.charges if c.key.endswith("period-2-retry-1")]
    assert [c.payment_method for c in retried] == [setup["payment_method"]]
    membership = mine(api, member)
    assert membership["status"] == "active"
    assert membership["last_payment_error"] is None
    assert membership["current_period_start"] == "2027-01-01T00:00:00+01:00"
    assert membership["next_charge_at"] == "2027-02-01T00:00:00+01:00"
    assert len(invoices(api, member)) == 2
    # AND the next renewal uses the new card
    run_renewals(api, admin, paris(2027, 2, 1, 0, 5))
    assert stripe_fake.charges[-1].payment_method == setup["payment_method"]
    assert stripe_fake.charges[-1].key == f"membership-{membership_id}-period-3"


def test_a_new_card_that_fails_leaves_it_past_due_with_the_reason_and_the_schedule(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> None:
    membership_id = past_due(api, admin, member, product, settings, stripe_fake, clock)
    setup_id = replace(api, member, membership_id).json["setup"]["setup_intent_id"]
    setup = stripe_fake.save_payment_method(setup_id, "requires_authentication")
    assert deliver(api, settings, "setup_intent.succeeded", setup).status == 200
    membership = mine(api, member)
    assert membership["status"] == "past_due"
    assert membership["last_payment_error"] == "authentication_required"
    # the retry scheduled for 2 January stays; the member's attempt did not use one up
    assert membership["next_charge_at"] == "2027-01-02T00:00:00+01:00"
    for day in (2, 4):
        run_renewals(api, admin, paris(2027, 1, day, 0, 5))
    assert mine(api, member)["status"] == "past_due"
    run_renewals(api, admin, paris(2027, 1, 8, 0, 5))
    assert mine(api, member)["status"] == "cancelled"
    assert [c.key.rsplit("-", 1)[-1] for c in stripe_fake.charges[1:]] == [
        "2",  # the renewal (…-period-2)
        "1",  # the new card, at once (…-retry-1)
        "2",  # the scheduled retries (…-retry-2, -3, -4)
        "3",
        "4",
    ]


def test_switching_to_sepa_keeps_access_while_the_debit_is_processing(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> None:
    membership_id = past_due(api, admin, member, product, settings, stripe_fake, clock)
    answer = replace(api, member, membership_id, "sepa_debit")
    setup_id = answer.json["setup"]["setup_intent_id"]
    assert stripe_fake.setup_intents[setup_id].payment_method_types == ["sepa_debit"]
    setup = stripe_fake.save_payment_method(setup_id, "sepa")
    assert deliver(api, settings, "setup_intent.succeeded", setup).status == 200
    membership = mine(api, member)
    assert (membership["status"], membership["payment_method_type"]) == ("active", "sepa_debit")
    assert stripe_fake.charges[-1].outcome == "processing"


def test_an_active_membership_only_swaps_the_method_for_the_next_renewal(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    setup_id = replace(api, member, membership_id).json["setup"]["setup_intent_id"]
    setup = stripe_fake.save_payment_method(setup_id)
    assert deliver(api, settings, "setup_intent.succeeded", setup).status == 200
    assert len(stripe_fake.charges) == 1  # nothing owed: no charge
    run_renewals(api, admin, paris(2027, 1, 1, 0, 5))
    assert stripe_fake.charges[-1].payment_method == setup["payment_method"]


def test_only_the_setup_intent_started_last_counts(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> None:
    membership_id = past_due(api, admin, member, product, settings, stripe_fake, clock)
    older = replace(api, member, membership_id).json["setup"]["setup_intent_id"]
    newer = replace(api, member, membership_id).json["setup"]["setup_intent_id"]
    assert older != newer
    stale = stripe_fake.save_payment_method(older)
    assert deliver(api, settings, "setup_intent.succeeded", stale).status == 200
    assert mine(api, member)["status"] == "past_due"
    assert len(stripe_fake.charges) == 2  # the first period and the failed renewal
    fresh = stripe_fake.save_payment_method(newer)
    assert deliver(api, settings, "setup_intent.succeeded", fresh).status == 200
    assert mine(api, member)["status"] == "active"


def test_a_retried_request_answers_the_same_setup_intent(
    api: Api, member: str, product: str, settings: Settings, stripe_fake: MembershipFakeGateway
) -> None:
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    first = replace(api, member, membership_id, headers={"Idempotency-Key": "pm-1"})
    again = replace(api, member, membership_id, headers={"Idempotency-Key": "pm-1"})
    assert first.status == 200 and again.json == first.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = replace(api, member, membership_id, "sepa_debit", headers={"Idempotency-Key": "pm-1"})
    assert_problem(other, 409, "idempotency_conflict")


def test_bad_requests_are_refused(
    api: Api, member: str, product: str, settings: Settings, stripe_fake: MembershipFakeGateway
) -> None:
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    assert_problem(replace(api, member, membership_id, "paypal"), 422, "validation_error")
    path = f"/v1/memberships/{membership_id}/payment-method"
    body = {"payment_method_type": "card", "iban": "FR76"}
    assert_problem(api.request("PUT", path, body, token=member), 422, "validation_error")
    assert_problem(replace(api, member, "mbr_unknown"), 404, "not_found")
    stranger = api.token("someone-else")
    assert_problem(replace(api, stranger, membership_id), 404, "not_found")
    cancel = api.post(f"/v1/memberships/{membership_id}/cancel", token=member)
    assert cancel.status == 200
    run_renewals(api, api.token("admin-9", "admin"), paris(2027, 1, 1, 0, 5))
    assert mine(api, member)["status"] == "cancelled"
    assert_problem(replace(api, member, membership_id), 409, "invalid_state")
