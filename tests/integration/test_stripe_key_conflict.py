"""Stripe refusing a renewal's idempotency key because it was first sent with other
parameters (400 `idempotency_error`): a request under that key exists and may have
charged, so the membership is never marked failed for it (the job names the error, and
the next run tries again once the claim lapses)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from chalicelib.adapters.stripe_gateway import map_stripe_error
from chalicelib.config import Settings
from chalicelib.errors import PaymentProviderConflict, PaymentProviderUnavailable
from chalicelib.services import membership_charges
from chalicelib.services.context import Context
from tests.integration.test_memberships import mine, paris, product, start_membership  # noqa: F401
from tests.support.api import Api
from tests.support.fake_stripe_memberships import MembershipFakeGateway

OTHER_PARAMETERS = {
    "error": {
        "type": "idempotency_error",
        "message": "Keys for idempotent requests can only be used with the same parameters "
        "they were first used with.",
    }
}


def test_the_sdk_s_idempotency_error_is_a_conflict_not_a_refusal() -> None:
    raised = stripe.IdempotencyError(
        "other parameters", json.dumps(OTHER_PARAMETERS), 400, OTHER_PARAMETERS
    )
    assert isinstance(map_stripe_error(raised), PaymentProviderConflict)


class FirstSentOtherwise(MembershipFakeGateway):
    """The first charge under a key went through but its answer was lost; the key is then
    refused, as Stripe refuses it when the retry's parameters differ (a deploy between)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_otherwise: set[str] = set()
        self.lose_next_answer = False

    def charge_off_session(self, **kw: Any) -> Any:
        if kw["idempotency_key"] in self.sent_otherwise:
            body = OTHER_PARAMETERS
            raised = stripe.IdempotencyError(body["error"]["message"], json.dumps(body), 400, body)
            raise map_stripe_error(raised)
        intent = super().charge_off_session(**kw)
        if self.lose_next_answer:
            self.lose_next_answer = False
            self.sent_otherwise.add(kw["idempotency_key"])
            raise PaymentProviderUnavailable("Payment provider unreachable: timed out")
        return intent


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:  # the conftest's, refusing a key reused otherwise
    return FirstSentOtherwise()


def test_a_renewal_whose_key_is_refused_is_not_a_refused_payment(
    api: Api,
    member: str,
    product: str,  # noqa: F811
    settings: Settings,
    stripe_fake: FirstSentOtherwise,
    ctx: Context,
    clock: Any,
) -> None:
    start_membership(api, settings, stripe_fake, member, product)
    clock.moment = due = paris(2027, 1, 1, 0, 5)
    stripe_fake.lose_next_answer = True  # charged, the answer lost
    assert membership_charges.renew_memberships(ctx, due)["unavailable"] == 1
    assert stripe_fake.charges[-1].outcome == "succeeded"  # the money moved

    result = membership_charges.renew_memberships(ctx, due)  # the key is refused now

    state = mine(api, member)
    assert not result.get("failed") and not state.get("last_payment_error"), (result, state)
