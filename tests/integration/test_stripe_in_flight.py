"""A Stripe request still in flight under the same idempotency key (the SDK timed out on
a slow charge and retried it): Stripe answers 409 `idempotency_key_in_use`, which the SDK
raises as a plain APIError, its code only in the body. The first request may have
charged: it is a moment's unavailability, never a refused payment."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from chalicelib.adapters.stripe_gateway import StripeGateway, map_stripe_error
from chalicelib.config import Settings
from chalicelib.errors import PaymentProviderUnavailable
from tests.integration.test_memberships import mine, product, subscribe  # noqa: F401
from tests.integration.test_stripe_gateway import LocalHttpServer, Recorded
from tests.support.api import Api
from tests.support.fake_stripe_memberships import MembershipFakeGateway
from tests.support.webhooks import deliver

IN_USE = {
    "error": {
        "type": "invalid_request_error",
        "code": "idempotency_key_in_use",
        "message": "There is currently another in-progress request using this Idempotent Key.",
    }
}


def _in_use(_: Recorded) -> tuple[int, dict[str, Any]]:
    return 409, IN_USE


def test_the_real_sdk_s_409_is_a_moment_s_unavailability() -> None:
    with LocalHttpServer(_in_use) as stripe_api:
        gateway = StripeGateway("sk_test_x", api_base=stripe_api.url, max_retries=0)
        with pytest.raises(PaymentProviderUnavailable):
            gateway.charge_off_session(
                customer="cus_1",
                payment_method="pm_1",
                payment_method_type="card",
                amount=9900,
                currency="EUR",
                description="Nomade",
                metadata={},
                idempotency_key="membership-x-period-1",
            )


class InFlightOnce(MembershipFakeGateway):
    """The first charge goes through, but its answer is the 409 of the SDK's retry."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight_once = True

    def charge_off_session(self, **kw: Any) -> Any:
        intent = super().charge_off_session(**kw)
        if self.in_flight_once:
            self.in_flight_once = False
            raised = stripe.APIError(IN_USE["error"]["message"], json.dumps(IN_USE), 409, IN_USE)
            raise map_stripe_error(raised)
        return intent


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:  # the conftest's, with the charge in flight
    return InFlightOnce()


def test_a_charge_still_in_flight_does_not_fail_the_membership(
    api: Api,
    member: str,
    product: str,  # noqa: F811
    settings: Settings,
    stripe_fake: InFlightOnce,
) -> None:
    answer = subscribe(api, member, product)
    setup = stripe_fake.save_payment_method(answer.json["setup"]["setup_intent_id"])
    deliver(api, settings, "setup_intent.succeeded", setup)
    (charge,) = stripe_fake.first_charges()
    assert charge.outcome == "succeeded"  # the money moved
    state = mine(api, member)
    assert state.get("last_payment_error") in (None, ""), state  # not a refused payment
