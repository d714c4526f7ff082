"""Off-session charges and SetupIntents through the real stripe SDK: against localstripe
(1.15.10), and against a recording server for what only real Stripe answers.

localstripe facts pinned here: a SetupIntent confirmed with a payment method succeeds
(card 4242, any IBAN); `payment_intents.create(confirm=True, off_session=True)` charges
at once (4242, SEPA), answers 402 card_declined without naming the intent (0341), leaves
a 3-D Secure card in `requires_action` (3220, where Stripe answers 402
authentication_required), and keeps a debit from DE62370400440532013001 `processing`
until it fails about half a second later. It sends no `setup_intent.*` webhooks: the
flow test builds that event with `signed_event`, as Stripe would send it.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.domain.catalogue import NewOperator, NewProduct
from chalicelib.domain.identifiers import new_id
from chalicelib.domain.membership import PaymentMethodType
from chalicelib.errors import OffSessionChargeFailed
from chalicelib.services import memberships
from chalicelib.services.catalogue import create_operator, create_product
from chalicelib.services.context import Context
from chalicelib.services.webhooks import handle_stripe_webhook
from tests.integration.test_stripe_gateway import LocalHttpServer, Recorded
from tests.integration.test_stripe_gateway import new_key as key
from tests.support.api import operator_body
from tests.support.fake_stripe import signed_event
from tools.local_stack import free_port
from tools.localstripe_server import (
    CARD_DECLINED_AT_CHARGE,
    CARD_REQUIRES_AUTHENTICATION,
    CARD_SUCCEEDS,
    LocalStripe,
    start_localstripe,
)

IBAN_SETTLES = "DE89370400440532013000"
IBAN_BOUNCES = "DE62370400440532013001"


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    server = start_localstripe(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(localstripe: LocalStripe) -> StripeGateway:
    return StripeGateway("sk_test_relais", api_base=localstripe.base_url, timeout_seconds=5)


def customer_with(gateway: StripeGateway, method: dict[str, Any]) -> tuple[str, str]:
    """A customer and a payment method saved for it by a confirmed SetupIntent."""
    customer = gateway.create_customer(
        email="ada@example.org", name="Ada", idempotency_key=key("cus"), metadata={}
    )
    setup = gateway.create_setup_intent(
        customer=customer,
        payment_method_types=[method["type"]],
        idempotency_key=key("seti"),
        metadata={},
    )
    saved = confirm_setup(gateway, setup.id, method)
    return customer, str(saved.payment_method)


def confirm_setup(gateway: StripeGateway, setup_intent_id: str, method: dict[str, Any]) -> Any:
    """The browser's part (Stripe.js) of a SetupIntent."""
    payment_method = gateway.client.v1.payment_methods.create(params=method)  # type: ignore[arg-type]
    return gateway.client.v1.setup_intents.confirm(
        setup_intent_id, params={"payment_method": payment_method.id}
    )


def card(number: str) -> dict[str, Any]:
    year = dt.date.today().year + 3
    return {
        "type": "card",
        "card": {"number": number, "exp_month": 12, "exp_year": year, "cvc": "123"},
    }


def sepa(iban: str) -> dict[str, Any]:
    return {"type": "sepa_debit", "sepa_debit": {"iban": iban}}


def charge(gateway: StripeGateway, customer: str, method: str, **overrides: Any) -> Any:
    params: dict[str, Any] = {
        "customer": customer,
        "payment_method": method,
        "payment_method_type": "card",
        "amount": 9900,
        "currency": "EUR",
        "description": "Nomade — abonnement",
        "metadata": {"kind": "membership", "period": "1"},
        "idempotency_key": key("pi"),
        **overrides,
    }
    return gateway.charge_off_session(**params)


# -- the gateway on localstripe -----------------------------------------------------------


def test_a_saved_setup_intent_is_retrieved_as_succeeded(gateway: StripeGateway) -> None:
    customer = gateway.create_customer(
        email="ada@example.org", name="Ada", idempotency_key=key("cus"), metadata={}
    )
    setup = gateway.create_setup_intent(
        customer=customer, payment_method_types=["card"], idempotency_key=key("s"), metadata={}
    )
    confirm_setup(gateway, setup.id, card(CARD_SUCCEEDS))
    found = gateway.retrieve_setup_intent(setup.id)
    assert (found.id, found.status, found.client_secret) == (
        setup.id,
        "succeeded",
        setup.client_secret,
    )


def test_a_saved_card_is_charged_off_session(gateway: StripeGateway) -> None:
    customer, method = customer_with(gateway, card(CARD_SUCCEEDS))
    intent = charge(gateway, customer, method)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 9900, "EUR")
    stored = gateway.client.v1.payment_intents.retrieve(intent.id)
    assert stored.metadata["kind"] == "membership"
    assert stored.metadata["description"] == "Nomade — abonnement"  # localstripe: no field


def test_a_card_wanting_its_holder_fails_off_session_as_authentication_required(
    gateway: StripeGateway,
) -> None:
    customer = gateway.create_customer(
        email="ada@example.org", name="Ada", idempotency_key=key("cus"), metadata={}
    )
    wants_holder = card(CARD_REQUIRES_AUTHENTICATION)
    method = gateway.client.v1.payment_methods.create(params=wants_holder)  # type: ignore[arg-type]
    with pytest.raises(OffSessionChargeFailed) as failed:
        charge(gateway, customer, method.id)
    assert failed.value.needs_authentication
    assert failed.value.code == "payment_failed" and failed.value.status == 402
    assert failed.value.payment_intent_id is not None


def test_a_declined_card_fails_off_session_as_card_declined(gateway: StripeGateway) -> None:
    customer, method = customer_with(gateway, card(CARD_DECLINED_AT_CHARGE))
    with pytest.raises(OffSessionChargeFailed) as failed:
        charge(gateway, customer, method)
    assert failed.value.reason == "card_declined"
    assert not failed.value.needs_authentication


def test_a_sepa_debit_is_processing_then_settles_or_bounces(gateway: StripeGateway) -> None:
    customer, settles = customer_with(gateway, sepa(IBAN_SETTLES))
    _, bounces = customer_with(gateway, sepa(IBAN_BOUNCES))
    by_sepa = {"payment_method_type": "sepa_debit"}
    assert charge(gateway, customer, settles, **by_sepa).status == "succeeded"  # at once
    debit = charge(gateway, customer, bounces, **by_sepa)
    assert debit.status == "processing"
    deadline = time.monotonic() + 10
    while gateway.retrieve_payment_intent(debit.id).status == "processing":
        assert time.monotonic() < deadline, "the debit never failed"
        time.sleep(0.1)
    assert gateway.retrieve_payment_intent(debit.id).status == "requires_payment_method"


# -- what only real Stripe answers ----------------------------------------------------------


def test_real_stripe_mode_sends_an_off_session_confirmation_with_the_key() -> None:
    def succeeded(record: Recorded) -> tuple[int, dict[str, Any]]:
        return 200, {
            "id": "pi_1",
            "object": "payment_intent",
            "status": "succeeded",
            "amount": 9900,
            "currency": "eur",
            "client_secret": "pi_1_secret",
            "latest_charge": "ch_1",
        }

    with LocalHttpServer(succeeded) as server:
        gateway = StripeGateway("sk_test", api_base=server.url, localstripe_compat=False)
        charge(gateway, "cus_1", "pm_1", idempotency_key="membership-mbr_1-period-2")
        request = server.requests.get(timeout=5)
    form = urllib.parse.parse_qs(request.body.decode())
    assert request.headers["idempotency-key"] == "membership-mbr_1-period-2"
    assert form["confirm"] == ["true"] and form["off_session"] == ["true"]
    assert form["customer"] == ["cus_1"] and form["payment_method"] == ["pm_1"]
    assert form["description"] == ["Nomade — abonnement"]
    # the saved method's type allowed explicitly: left out, the intent would follow the
    # Dashboard's payment method configuration, which may not enable it (SEPA refused)
    assert form["allowed_payment_method_types[0]"] == ["card"]
    assert not any(k.startswith("payment_method_types") for k in form)


def test_stripes_402_authentication_required_names_the_failed_intent() -> None:
    def authentication_required(record: Recorded) -> tuple[int, dict[str, Any]]:
        return 402, {
            "error": {
                "type": "card_error",
                "code": "authentication_required",
                "message": "This payment requires authentication.",
                "payment_intent": {"id": "pi_9", "object": "payment_intent"},
            }
        }

    with LocalHttpServer(authentication_required) as server:
        gateway = StripeGateway("sk_test", api_base=server.url, max_retries=0)
        with pytest.raises(OffSessionChargeFailed) as failed:
            charge(gateway, "cus_1", "pm_1")
    assert failed.value.needs_authentication
    assert failed.value.payment_intent_id == "pi_9"


# -- the flow: SDK -> localstripe -> signed webhooks -> the service ---------------------------


@pytest.fixture
def live_ctx(
    settings: Settings, table: Table, clock: FixedClock, gateway: StripeGateway
) -> Context:
    return Context(settings=settings, table=table, clock=clock, gateway_override=gateway)


def deliver(ctx: Context, event_type: str, obj: Any) -> dict[str, Any]:
    payload, header = signed_event(event_type, obj, ctx.settings.stripe_webhook_secret)
    return handle_stripe_webhook(ctx, payload, header)


def subscribed(ctx: Context, method_type: PaymentMethodType) -> dict[str, Any]:
    operator = create_operator(ctx, NewOperator.model_validate(operator_body()))
    fields = {
        "kind": "membership",
        "name": "Nomade",
        "price": {"amount": 9900},
        "operator_id": operator.id,
        "period": "month",
        "days_per_period": 8,
    }
    product = create_product(ctx, NewProduct.model_validate(fields))
    member = Principal(sub="member-1", email="ada@example.org", name="Ada")
    return memberships.subscribe(ctx, member, product.id, method_type, new_id("mbr"))


def test_a_card_saved_at_localstripe_activates_the_membership(
    live_ctx: Context, gateway: StripeGateway
) -> None:
    answer = subscribed(live_ctx, "card")
    saved = confirm_setup(gateway, answer["setup"]["setup_intent_id"], card(CARD_SUCCEEDS))
    event = gateway.client.v1.setup_intents.retrieve(saved.id).to_dict()
    assert deliver(live_ctx, "setup_intent.succeeded", event)["outcome"] == "paid"
    membership = live_ctx.memberships.get("member-1", answer["membership"]["id"])
    assert membership is not None and membership.status.value == "active"
    intent = gateway.retrieve_payment_intent(str(membership.charge_intent_id))
    assert (intent.status, intent.amount) == ("succeeded", 9900)


def test_a_sepa_debit_at_localstripe_keeps_access_until_it_bounces(
    live_ctx: Context, gateway: StripeGateway
) -> None:
    answer = subscribed(live_ctx, "sepa_debit")
    saved = confirm_setup(gateway, answer["setup"]["setup_intent_id"], sepa(IBAN_BOUNCES))
    event = gateway.client.v1.setup_intents.retrieve(saved.id).to_dict()
    assert deliver(live_ctx, "setup_intent.succeeded", event)["outcome"] == "processing"
    membership_id = answer["membership"]["id"]
    membership = live_ctx.memberships.get("member-1", membership_id)
    assert membership is not None and membership.status.value == "active"
    deadline = time.monotonic() + 10
    intent_id = str(membership.charge_intent_id)
    while gateway.retrieve_payment_intent(intent_id).status == "processing":
        assert time.monotonic() < deadline, "the debit never failed"
        time.sleep(0.1)
    failed = gateway.client.v1.payment_intents.retrieve(intent_id).to_dict()
    assert deliver(live_ctx, "payment_intent.payment_failed", failed)["outcome"] == "failed"
    after = live_ctx.memberships.get("member-1", membership_id)
    assert after is not None and after.status.value == "past_due"


def test_a_new_card_at_localstripe_pays_the_declined_first_period(
    live_ctx: Context, gateway: StripeGateway
) -> None:
    # GIVEN a membership whose first charge was declined (card 0341)
    answer = subscribed(live_ctx, "card")
    membership_id = answer["membership"]["id"]
    saved = confirm_setup(
        gateway, answer["setup"]["setup_intent_id"], card(CARD_DECLINED_AT_CHARGE)
    )
    event = gateway.client.v1.setup_intents.retrieve(saved.id).to_dict()
    assert deliver(live_ctx, "setup_intent.succeeded", event)["outcome"] == "failed"
    declined = live_ctx.memberships.get("member-1", membership_id)
    assert declined is not None and declined.status.value == "incomplete"
    assert declined.last_payment_error == "card_declined"
    # WHEN the member saves a card that works, through the SDK and localstripe
    member = Principal(sub="member-1", email="ada@example.org", name="Ada")
    replaced = memberships.replace_payment_method(
        live_ctx, member, membership_id, "card", new_id("pms")
    )
    saved = confirm_setup(gateway, replaced["setup"]["setup_intent_id"], card(CARD_SUCCEEDS))
    event = gateway.client.v1.setup_intents.retrieve(saved.id).to_dict()
    assert event["metadata"]["purpose"] == "payment_method"
    # THEN the first period is charged at once with it, and the membership is active
    assert deliver(live_ctx, "setup_intent.succeeded", event)["outcome"] == "paid"
    membership = live_ctx.memberships.get("member-1", membership_id)
    assert membership is not None and membership.status.value == "active"
    assert membership.charge_key == f"membership-{membership_id}-period-1-retry-1"
    intent = gateway.retrieve_payment_intent(str(membership.charge_intent_id))
    assert (intent.status, intent.amount) == ("succeeded", 9900)
