"""StripeGateway against localstripe, through the real stripe SDK over HTTP.

localstripe 1.15.10 behaviours these tests pin down (see tools/localstripe_server.py):

- card 4242424242424242 succeeds at confirm; 4000000000000341 is declined at confirm
  (HTTP 402 card_declined -> `PaymentFailed`, the intent goes back to
  `requires_payment_method`); 4000000000003220 leaves it in `requires_action`;
- Idempotency-Key headers are ignored: the same key twice creates two intents (what
  real Stripe replays is checked by asserting the header the gateway sends);
- cancelling a cancelled or succeeded intent answers 400: the gateway answers the
  intent as it is;
- balance transactions have fee 0; the `payout` filter is refused (400);
- webhooks are signed like Stripe's and sent about a second after the event.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from chalicelib.adapters.stripe_gateway import (
    PaymentIntentInfo,
    StripeGateway,
    parse_webhook,
)
from chalicelib.errors import (
    InvalidSignature,
    PaymentFailed,
    PaymentProviderError,
    PaymentProviderUnavailable,
)
from tools.local_stack import free_port
from tools.localstripe_server import (
    CARD_DECLINED_AT_CHARGE,
    CARD_REQUIRES_AUTHENTICATION,
    CARD_SUCCEEDS,
    LocalStripe,
    confirm_as_browser,
    register_webhook,
    start_localstripe,
)

SECRET = "whsec_test_relais"
API_KEY = "sk_test_relais"


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    server = start_localstripe(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(localstripe: LocalStripe) -> StripeGateway:
    return StripeGateway(API_KEY, api_base=localstripe.base_url, timeout_seconds=5)


_counter = iter(range(1_000_000))


def new_key(prefix: str) -> str:
    return f"test:{prefix}:{time.time_ns()}:{next(_counter)}"


def new_intent(gateway: StripeGateway, amount: int = 1500) -> PaymentIntentInfo:
    return gateway.create_payment_intent(
        amount=amount,
        currency="EUR",
        description="Hot desk, 2026-12-01, day",
        metadata={"booking_id": "bk_test"},
        idempotency_key=new_key("pi"),
    )


def paid_intent(gateway: StripeGateway, amount: int = 1500) -> PaymentIntentInfo:
    intent = new_intent(gateway, amount)
    return confirm_as_browser(gateway, intent.id, CARD_SUCCEEDS)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalHttpServer:
    """A threaded HTTP server on 127.0.0.1 that records requests and answers `reply`."""

    reply: Callable[[Recorded], tuple[int, dict[str, Any]]]
    requests: queue.Queue[Recorded] = field(default_factory=queue.Queue)
    server: ThreadingHTTPServer | None = None

    def __enter__(self) -> LocalHttpServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                record = Recorded(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                owner.requests.put(record)
                status, answer = owner.reply(record)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def fake_intent_reply(record: Recorded) -> tuple[int, dict[str, Any]]:
    return 200, {
        "id": "pi_fake",
        "object": "payment_intent",
        "client_secret": "pi_fake_secret_x",
        "status": "requires_payment_method",
        "amount": 1500,
        "currency": "eur",
        "latest_charge": None,
    }


def signed(payload: str, secret: str = SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)


EVENT = json.dumps(
    {
        "id": "evt_test_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": 1_790_000_000,
        "data": {"object": {"id": "pi_test_1", "object": "payment_intent"}},
    }
)


# -- payments ----------------------------------------------------------------------------


def test_new_intent_awaits_a_payment_method(gateway: StripeGateway) -> None:
    intent = new_intent(gateway)

    assert intent.id.startswith("pi_")
    assert intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(intent.id + "_secret_")
    assert (intent.amount, intent.currency, intent.latest_charge) == (1500, "EUR", None)


def test_card_4242_payment_succeeds(gateway: StripeGateway) -> None:
    intent = new_intent(gateway)

    confirm_as_browser(gateway, intent.id, CARD_SUCCEEDS)

    after = gateway.retrieve_payment_intent(intent.id)
    assert after.status == "succeeded"
    assert after.latest_charge is not None and after.latest_charge.startswith("ch_")


def test_declined_card_raises_payment_failed(gateway: StripeGateway) -> None:
    intent = new_intent(gateway)

    with pytest.raises(PaymentFailed, match="card_declined"):
        confirm_as_browser(gateway, intent.id, CARD_DECLINED_AT_CHARGE)


def test_declined_card_leaves_intent_awaiting_another_payment_method(
    gateway: StripeGateway,
) -> None:
    intent = new_intent(gateway)

    with pytest.raises(PaymentFailed):
        confirm_as_browser(gateway, intent.id, CARD_DECLINED_AT_CHARGE)

    assert gateway.retrieve_payment_intent(intent.id).status == "requires_payment_method"


def test_card_requiring_authentication_waits_for_customer_action(gateway: StripeGateway) -> None:
    intent = new_intent(gateway)

    confirmed = confirm_as_browser(gateway, intent.id, CARD_REQUIRES_AUTHENTICATION)

    assert confirmed.status == "requires_action"


def test_description_travels_in_metadata_on_localstripe(gateway: StripeGateway) -> None:
    intent = new_intent(gateway)

    raw = gateway.client.v1.payment_intents.retrieve(intent.id)

    assert raw.metadata["description"] == "Hot desk, 2026-12-01, day"
    assert raw.metadata["booking_id"] == "bk_test"


def test_retrieving_unknown_intent_raises_provider_error(gateway: StripeGateway) -> None:
    with pytest.raises(PaymentProviderError, match="404"):
        gateway.retrieve_payment_intent("pi_doesnotexist")


def test_unreachable_server_raises_provider_unavailable() -> None:
    nowhere = StripeGateway(
        API_KEY, api_base=f"http://127.0.0.1:{free_port()}", timeout_seconds=2, max_retries=0
    )

    with pytest.raises(PaymentProviderUnavailable):
        nowhere.retrieve_payment_intent("pi_any")


# -- idempotency -------------------------------------------------------------------------


def test_localstripe_ignores_idempotency_keys(gateway: StripeGateway) -> None:
    # Real Stripe would replay the first answer; localstripe creates a second intent.
    key = new_key("same")
    args: dict[str, Any] = {
        "amount": 900,
        "currency": "EUR",
        "description": "Half day",
        "metadata": {"booking_id": "bk_same"},
        "idempotency_key": key,
    }

    first = gateway.create_payment_intent(**args)
    second = gateway.create_payment_intent(**args)

    assert first.id != second.id


def test_gateway_sends_the_callers_idempotency_key() -> None:
    with LocalHttpServer(fake_intent_reply) as fake:
        gateway = StripeGateway(API_KEY, api_base=fake.url, max_retries=0)

        gateway.create_payment_intent(
            amount=1500,
            currency="EUR",
            description="Desk",
            metadata={},
            idempotency_key="booking:bk_1:payment_intent",
        )

        request = fake.requests.get(timeout=5)
    assert (request.method, request.path) == ("POST", "/v1/payment_intents")
    assert request.headers["idempotency-key"] == "booking:bk_1:payment_intent"


def test_real_stripe_mode_sends_allowed_payment_method_types_and_description() -> None:
    with LocalHttpServer(fake_intent_reply) as fake:
        gateway = StripeGateway(API_KEY, api_base=fake.url, localstripe_compat=False)

        gateway.create_payment_intent(
            amount=1500, currency="EUR", description="Desk", metadata={}, idempotency_key="k"
        )

        form = urllib.parse.parse_qs(fake.requests.get(timeout=5).body.decode())
    assert form["allowed_payment_method_types[0]"] == ["card"]
    assert form["description"] == ["Desk"]
    assert form["currency"] == ["eur"]
    assert "payment_method_types[0]" not in form


def test_a_dispute_is_read_as_its_events_carry_it() -> None:
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "amount": 1500,
        "currency": "eur",
        "payment_intent": "pi_1",
        "reason": "fraudulent",
        "status": "needs_response",
        "created": 1_790_000_000,
        "evidence_details": {"due_by": 1_791_209_600, "has_evidence": False},
    }
    with LocalHttpServer(lambda record: (200, dispute)) as fake:
        gateway = StripeGateway(API_KEY, api_base=fake.url, max_retries=0)

        answer = gateway.retrieve_dispute("dp_1")

        request = fake.requests.get(timeout=5)
    assert (request.method, request.path) == ("GET", "/v1/disputes/dp_1")
    assert answer == dispute and isinstance(answer["evidence_details"], dict)


def test_a_refund_is_read_as_charge_refunded_lists_it() -> None:
    refund = {
        "id": "re_1",
        "object": "refund",
        "amount": 1500,
        "status": "succeeded",
        "payment_intent": "pi_1",
        "metadata": {},
    }
    with LocalHttpServer(lambda record: (200, refund)) as fake:
        gateway = StripeGateway(API_KEY, api_base=fake.url, max_retries=0)

        answer = gateway.retrieve_refund("re_1")

        request = fake.requests.get(timeout=5)
    assert (request.method, request.path) == ("GET", "/v1/refunds/re_1")
    assert answer == refund


def test_an_unknown_dispute_is_a_provider_error() -> None:
    missing = {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
    with LocalHttpServer(lambda record: (404, missing)) as fake:
        gateway = StripeGateway(API_KEY, api_base=fake.url, max_retries=0)
        with pytest.raises(PaymentProviderError):
            gateway.retrieve_dispute("dp_nope")


# -- cancel ------------------------------------------------------------------------------


def test_cancel_unpaid_intent(gateway: StripeGateway) -> None:
    intent = new_intent(gateway)

    cancelled = gateway.cancel_payment_intent(intent.id, idempotency_key=new_key("cancel"))

    assert cancelled.status == "canceled"


def test_cancel_already_cancelled_intent_answers_it_as_is(gateway: StripeGateway) -> None:
    intent = new_intent(gateway)
    gateway.cancel_payment_intent(intent.id, idempotency_key=new_key("cancel"))

    again = gateway.cancel_payment_intent(intent.id, idempotency_key=new_key("cancel"))

    assert again.status == "canceled"


def test_cancel_succeeded_intent_answers_it_as_is(gateway: StripeGateway) -> None:
    intent = paid_intent(gateway)

    answer = gateway.cancel_payment_intent(intent.id, idempotency_key=new_key("cancel"))

    assert answer.status == "succeeded"


def test_cancel_unknown_intent_raises_provider_error(gateway: StripeGateway) -> None:
    with pytest.raises(PaymentProviderError):
        gateway.cancel_payment_intent("pi_doesnotexist", idempotency_key=new_key("cancel"))


# -- refunds -----------------------------------------------------------------------------


def test_full_refund_of_succeeded_payment(gateway: StripeGateway) -> None:
    intent = paid_intent(gateway, amount=1500)

    refund = gateway.create_refund(
        payment_intent_id=intent.id,
        amount=None,
        idempotency_key=new_key("refund"),
        metadata={"booking_id": "bk_test"},
    )

    assert refund.id.startswith("re_")
    assert (refund.status, refund.amount) == ("succeeded", 1500)
    assert (refund.payment_intent, refund.charge) == (intent.id, intent.latest_charge)


def test_partial_refund_refunds_only_the_amount(gateway: StripeGateway) -> None:
    intent = paid_intent(gateway, amount=1500)

    refund = gateway.create_refund(
        payment_intent_id=intent.id, amount=500, idempotency_key=new_key("refund"), metadata={}
    )

    assert refund.amount == 500


def test_refunds_of_an_intent_are_listed_with_the_reason_we_gave(gateway: StripeGateway) -> None:
    intent = paid_intent(gateway, amount=1500)
    other = paid_intent(gateway, amount=900)
    ours = gateway.create_refund(
        payment_intent_id=intent.id,
        amount=500,
        idempotency_key=new_key("refund"),
        metadata={"booking_id": "bk_test", "reason": "requested_by_customer"},
    )
    dashboard = gateway.create_refund(
        payment_intent_id=intent.id, amount=300, idempotency_key=new_key("refund"), metadata={}
    )
    gateway.create_refund(
        payment_intent_id=other.id, amount=None, idempotency_key=new_key("refund"), metadata={}
    )

    listed = gateway.list_refunds(intent.id)

    assert sorted((r.id, r.amount, r.reason) for r in listed) == sorted(
        [(ours.id, 500, "requested_by_customer"), (dashboard.id, 300, None)]
    )  # (an intent never paid: localstripe answers 500, Stripe an empty list; not asked)


def test_refund_of_unpaid_intent_raises_provider_error(gateway: StripeGateway) -> None:
    intent = new_intent(gateway)

    with pytest.raises(PaymentProviderError):
        gateway.create_refund(
            payment_intent_id=intent.id, amount=None, idempotency_key=new_key("r"), metadata={}
        )


# -- customers and setup intents ---------------------------------------------------------


def test_create_customer_answers_its_id(gateway: StripeGateway) -> None:
    customer = gateway.create_customer(
        email="ada@example.org", name="Ada", idempotency_key=new_key("cus"), metadata={"sub": "m1"}
    )

    assert customer.startswith("cus_")


def test_a_deleted_customer_is_gone_and_deleting_it_again_is_no_error(
    gateway: StripeGateway,
) -> None:
    import stripe

    customer = gateway.create_customer(
        email="ada@example.org", name="Ada", idempotency_key=new_key("cus"), metadata={}
    )

    gateway.delete_customer(customer)
    gateway.delete_customer(customer)  # a retried erasure

    with pytest.raises(stripe.InvalidRequestError):
        gateway.client.v1.customers.retrieve(customer)


def test_setup_intent_for_sepa_debit_awaits_a_payment_method(gateway: StripeGateway) -> None:
    customer = gateway.create_customer(
        email="ada@example.org", name="Ada", idempotency_key=new_key("cus"), metadata={}
    )

    setup = gateway.create_setup_intent(
        customer=customer,
        payment_method_types=["sepa_debit"],
        idempotency_key=new_key("seti"),
        metadata={"membership_id": "ms_1"},
    )

    assert setup.id.startswith("seti_")
    assert setup.status == "requires_payment_method"
    assert setup.client_secret.startswith(setup.id + "_secret_")


def test_payment_intent_for_a_customer(gateway: StripeGateway) -> None:
    customer = gateway.create_customer(
        email="ada@example.org", name="Ada", idempotency_key=new_key("cus"), metadata={}
    )

    intent = gateway.create_payment_intent(
        amount=4900,
        currency="EUR",
        description="Membership, first month",
        metadata={},
        idempotency_key=new_key("pi"),
        customer=customer,
    )

    assert gateway.client.v1.payment_intents.retrieve(intent.id).customer == customer


# -- reconciliation ----------------------------------------------------------------------


def test_payment_shows_as_charge_balance_transaction_without_fee(gateway: StripeGateway) -> None:
    intent = paid_intent(gateway, amount=2500)

    transactions, _ = gateway.list_balance_transactions(starting_after=None, limit=100)

    charge = next(t for t in transactions if t.source == intent.latest_charge)
    assert (charge.type, charge.amount, charge.fee, charge.net) == ("charge", 2500, 0, 2500)


def test_balance_transactions_paginate_with_starting_after(gateway: StripeGateway) -> None:
    paid_intent(gateway)
    paid_intent(gateway)
    both, _ = gateway.list_balance_transactions(starting_after=None, limit=2)

    first, more = gateway.list_balance_transactions(starting_after=None, limit=1)
    second, _ = gateway.list_balance_transactions(starting_after=first[0].id, limit=1)

    assert more is True
    assert [first[0].id, second[0].id] == [t.id for t in both]


def test_payout_filter_is_refused_by_localstripe(gateway: StripeGateway) -> None:
    with pytest.raises(PaymentProviderError, match="payout"):
        gateway.list_balance_transactions(starting_after=None, payout="po_any")


def test_list_payouts_includes_a_new_payout(gateway: StripeGateway) -> None:
    payout = gateway.client.v1.payouts.create(params={"amount": 1000, "currency": "eur"})

    payouts, _ = gateway.list_payouts(starting_after=None, limit=100)

    listed = next(p for p in payouts if p.id == payout.id)
    assert (listed.amount, listed.status) == (1000, "pending")
    assert listed.arrival_date > listed.created


# -- webhooks ----------------------------------------------------------------------------


def test_webhook_with_valid_signature_is_parsed() -> None:
    event = parse_webhook(EVENT.encode(), signed(EVENT), SECRET)

    assert (event["id"], event["type"]) == ("evt_test_1", "payment_intent.succeeded")
    assert event["data"]["object"]["id"] == "pi_test_1"


def test_webhook_signed_with_another_secret_is_rejected() -> None:
    with pytest.raises(InvalidSignature):
        parse_webhook(EVENT.encode(), signed(EVENT, secret="whsec_forged"), SECRET)


def test_webhook_with_tampered_body_is_rejected() -> None:
    tampered = EVENT.replace("pi_test_1", "pi_test_2")

    with pytest.raises(InvalidSignature):
        parse_webhook(tampered.encode(), signed(EVENT), SECRET)


def test_webhook_signed_ten_minutes_ago_is_rejected() -> None:
    stale = signed(EVENT, timestamp=int(time.time()) - 600)

    with pytest.raises(InvalidSignature, match="tolerance"):
        parse_webhook(EVENT.encode(), stale, SECRET, tolerance=300)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"object": "x"},
        {"object": []},
        {"object": {"id": "pi_1", "metadata": "nope"}},
        {"object": {"id": "dp_1", "evidence_details": 5}},
        {"object": {"id": "pi_1", "charges": ["ch_1"]}},
        {"object": {"id": "ch_1", "refunds": "re_1"}},
        {"object": {"id": "pi_1", "last_payment_error": "declined"}},
    ],
)
def test_a_signed_body_whose_object_is_not_stripes_is_refused(data: Any) -> None:
    odd = json.dumps({"id": "evt_odd", "type": "payment_intent.succeeded", "data": data})
    with pytest.raises(InvalidSignature, match="not a Stripe event"):
        parse_webhook(odd.encode(), signed(odd), SECRET)


def test_webhook_without_signature_header_is_rejected() -> None:
    with pytest.raises(InvalidSignature):
        parse_webhook(EVENT.encode(), None, SECRET)


def test_webhook_with_garbled_signature_header_is_rejected() -> None:
    with pytest.raises(InvalidSignature):
        parse_webhook(EVENT.encode(), "garbage", SECRET)


def test_localstripe_delivers_signed_payment_intent_succeeded(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    with LocalHttpServer(lambda record: (200, {})) as receiver:
        register_webhook(
            localstripe.base_url,
            "test_delivery",
            f"{receiver.url}/v1/webhooks/stripe",
            SECRET,
            events=["payment_intent.succeeded"],
        )
        intent = paid_intent(gateway)

        deadline = time.monotonic() + 10
        event: dict[str, Any] | None = None
        while event is None and time.monotonic() < deadline:
            try:
                record = receiver.requests.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            parsed = parse_webhook(record.body, record.headers.get("stripe-signature"), SECRET)
            if parsed["data"]["object"]["id"] == intent.id:
                event = parsed

    assert event is not None, "no payment_intent.succeeded delivered within 10 s"
    assert event["type"] == "payment_intent.succeeded"
    assert event["data"]["object"]["status"] == "succeeded"
