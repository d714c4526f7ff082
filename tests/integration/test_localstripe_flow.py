"""Card bookings and packs end to end through the real Stripe SDK against localstripe.

The app's Context uses the real `StripeGateway` pointed at a localstripe started on a
free loopback port for this module; DynamoDB is moto. The browser's part is played by
`confirm_as_browser`. Events are either built from the intent fetched back through the
SDK and signed here, or sent by localstripe itself to a small forwarding HTTP server.

localstripe ignores Idempotency-Key headers and refunds an intent as often as asked, so
"one intent / one refund" here is the app's own doing (it reuses what it recorded).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.api.wiring import use_context
from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.domain.booking import BookingRequest
from chalicelib.errors import PaymentFailed, RelaisError
from chalicelib.services import bookings
from chalicelib.services.context import Context
from chalicelib.services.webhooks import handle_stripe_webhook
from tests.support.api import Answer, Api
from tests.support.fake_stripe import signed_event
from tests.support.invariants import assert_money_accounted_for
from tools.local_stack import free_port
from tools.localstripe_server import (
    CARD_DECLINED_AT_CHARGE,
    CARD_SUCCEEDS,
    LocalStripe,
    confirm_as_browser,
    register_webhook,
    start_localstripe,
)

DAY = "2026-12-03"  # Thursday, 49 h after the test clock (Tuesday 2026-12-01 07:00 Paris)
FORWARDER = "relais_forwarder"


# -- fixtures: the app wired to localstripe ----------------------------------------------


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    server = start_localstripe(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(localstripe: LocalStripe) -> StripeGateway:
    return StripeGateway(api_key="sk_test_x", api_base=localstripe.base_url, timeout_seconds=5)


@pytest.fixture
def ctx(
    settings: Settings, table: Table, clock: FixedClock, gateway: StripeGateway
) -> Iterator[Context]:
    """Replaces the shared `ctx` (FakeGateway): here the gateway is the real one."""
    context = Context(settings=settings, table=table, clock=clock, gateway_override=gateway)
    use_context(context)
    yield context
    use_context(None)


@pytest.fixture
def stripe_fake() -> None:
    """Nothing is faked in this module: asking for the fake gateway is a mistake."""
    pytest.fail("test_localstripe_flow talks to localstripe; use the `gateway` fixture")


# -- helpers -----------------------------------------------------------------------------


def book_by_card(api: Api, token: str, resource: str) -> dict[str, Any]:
    body = {"resource_id": resource, "date": DAY, "unit": "day", "payment": "card"}
    answer = api.post("/v1/bookings", body, token=token)
    assert answer.status == 201, answer.json
    return dict(answer.json)


def intent_object(gateway: StripeGateway, intent_id: str) -> dict[str, Any]:
    """The PaymentIntent as localstripe has it, as an event's `data.object`."""
    return gateway.client.v1.payment_intents.retrieve(intent_id).to_dict()


def deliver(api: Api, settings: Settings, event_type: str, obj: dict[str, Any]) -> Answer:
    payload, header = signed_event(event_type, obj, settings.stripe_webhook_secret)
    return api.post("/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header})


def pay_and_notify(
    api: Api, settings: Settings, gateway: StripeGateway, intent_id: str
) -> dict[str, Any]:
    """Pay with 4242… in the 'browser', then deliver the signed succeeded event."""
    confirm_as_browser(gateway, intent_id, CARD_SUCCEEDS)
    intent = intent_object(gateway, intent_id)
    assert intent["status"] == "succeeded"
    answer = deliver(api, settings, "payment_intent.succeeded", intent)
    assert answer.status == 200, answer.json
    return intent


def status_of(ctx: Context, booking_id: str) -> str | None:
    booking = ctx.bookings.get(booking_id)
    return None if booking is None else str(booking.status)


def refunds_at_localstripe(gateway: StripeGateway, intent_id: str) -> list[Any]:
    return list(gateway.client.v1.refunds.list(params={"payment_intent": intent_id}).data)


# -- tests -------------------------------------------------------------------------------


def test_card_booking_paid_with_4242_is_confirmed(
    api: Api,
    member: str,
    network: dict[str, str],
    gateway: StripeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent_id = held["payment"]["payment_intent_id"]
    assert intent_id.startswith("pi_") and held["payment"]["client_secret"]

    intent = pay_and_notify(api, settings, gateway, intent_id)

    assert status_of(ctx, held["booking"]["id"]) == "confirmed"
    payment = ctx.payments.payment(intent_id)
    assert payment is not None and payment.status == "succeeded"
    assert payment.charge_id == gateway.retrieve_payment_intent(intent["id"]).latest_charge
    assert_money_accounted_for(ctx)


def test_declined_card_raises_payment_failed_and_booking_stays_held(
    api: Api, member: str, network: dict[str, str], gateway: StripeGateway, ctx: Context
) -> None:
    held = book_by_card(api, member, network["pool"])

    with pytest.raises(PaymentFailed, match="card_declined"):
        confirm_as_browser(gateway, held["payment"]["payment_intent_id"], CARD_DECLINED_AT_CHARGE)

    assert status_of(ctx, held["booking"]["id"]) == "held"
    assert gateway.retrieve_payment_intent(held["payment"]["payment_intent_id"]).status == (
        "requires_payment_method"
    )
    assert_money_accounted_for(ctx)


def test_cancel_in_time_creates_a_real_refund_at_localstripe(
    api: Api,
    member: str,
    network: dict[str, str],
    gateway: StripeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    held = book_by_card(api, member, network["pool"])
    intent_id = held["payment"]["payment_intent_id"]
    pay_and_notify(api, settings, gateway, intent_id)

    answer = api.post(f"/v1/bookings/{held['booking']['id']}/cancel", token=member)

    assert answer.status == 200, answer.json
    assert answer.json["refund"] == {"amount": 1500, "status": "succeeded"}
    (refund,) = refunds_at_localstripe(gateway, intent_id)
    assert (refund.amount, refund.status) == (1500, "succeeded")
    assert [r.id for r in ctx.payments.refunds(intent_id)] == [refund.id]
    assert_money_accounted_for(ctx)


def test_replayed_book_call_opens_one_intent_at_localstripe(
    api: Api, network: dict[str, str], gateway: StripeGateway, ctx: Context
) -> None:
    # localstripe ignores the idempotency key: only the recorded intent id prevents a second.
    request = BookingRequest.model_validate(
        {"resource_id": network["pool"], "date": DAY, "unit": "day", "payment": "card"}
    )
    principal = Principal(sub="member-1")

    first = bookings.book(ctx, principal, request, booking_id="bkg_ls_retry")
    second = bookings.book(ctx, principal, request, booking_id="bkg_ls_retry")

    assert second["payment"]["payment_intent_id"] == first["payment"]["payment_intent_id"]
    listed = gateway.client.v1.payment_intents.list(params={"limit": 100}).data
    mine = [i for i in listed if i.to_dict()["metadata"].get("booking_id") == "bkg_ls_retry"]
    assert len(mine) == 1


def test_pack_purchase_paid_credits_the_wallet(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    gateway: StripeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    product = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000, "vat_rate": "20.00"},
            "operator_id": network["operator"],
            "credits": 10,
            "validity_days": 180,
        },
        token=admin,
    ).json
    bought = api.post("/v1/purchases", {"product_id": product["id"]}, token=member)
    assert bought.status == 201, bought.json

    pay_and_notify(api, settings, gateway, bought.json["payment"]["payment_intent_id"])

    wallet = api.get("/v1/wallet", token=member).json
    assert wallet["credits_remaining"] == 10
    assert [p["purchase_id"] for p in wallet["packs"]] == [bought.json["purchase"]["id"]]
    assert_money_accounted_for(ctx)


def test_late_payment_for_a_taken_seat_is_refunded_once_at_localstripe(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    gateway: StripeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    # Paid in the browser just before the hold expired; the event arrives after
    # expire_holds (whose cancel finds the intent succeeded) and after someone else
    # took the room. Delivered twice under two event ids: localstripe would refund twice.
    room = {"resource_id": network["room"], "date": DAY, "unit": "hour", "payment": "card"}
    room |= {"start": "10:00", "end": "11:00"}
    late = api.post("/v1/bookings", room, token=member).json
    intent_id = late["payment"]["payment_intent_id"]
    confirm_as_browser(gateway, intent_id, CARD_SUCCEEDS)
    clock.advance(minutes=16)
    assert api.post("/v1/admin/jobs/expire_holds", {}, token=admin).json["processed"] == 1
    assert api.post("/v1/bookings", room, token=api.token("member-2")).status == 201
    intent = intent_object(gateway, intent_id)

    first = deliver(api, settings, "payment_intent.succeeded", intent)
    second = deliver(api, settings, "payment_intent.succeeded", intent)

    assert (first.status, second.status) == (200, 200)
    assert status_of(ctx, late["booking"]["id"]) == "expired"
    assert [r.amount for r in refunds_at_localstripe(gateway, intent_id)] == [2000]
    assert [r.amount for r in ctx.payments.refunds(intent_id)] == [2000]
    assert_money_accounted_for(ctx)


class _Forwarder:
    """A threaded HTTP server on 127.0.0.1 handing each POST about an `expected` intent to
    the webhook service. Others (a delivery localstripe still owes an earlier test) are
    answered 200 untouched: moto is not thread-safe, and a webhook writing while the
    test's own request sends a transaction breaks moto's copy of the table."""

    def __init__(self, ctx: Context) -> None:
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.expected: set[str] = set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                about = json.loads(body or b"{}").get("data", {}).get("object", {}).get("id")
                if about not in owner.expected:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    status = 200
                    answer = handle_stripe_webhook(ctx, body, self.headers.get("Stripe-Signature"))
                except RelaisError as exc:
                    status, answer = exc.status, {"code": exc.code}
                except Exception as exc:  # a 500 for localstripe, recorded for the test
                    status, answer = 500, {"error": repr(exc)}
                owner.answers.append((status, answer))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/webhooks/stripe"

    def __enter__(self) -> _Forwarder:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def forwarder(ctx: Context, localstripe: LocalStripe, settings: Settings) -> Iterator[_Forwarder]:
    ctx.table.table  # noqa: B018 - build the boto3 resource before a second thread uses it
    with _Forwarder(ctx) as server:
        register_webhook(
            localstripe.base_url,
            FORWARDER,
            server.url,
            settings.stripe_webhook_secret,
            events=["payment_intent.succeeded", "payment_intent.payment_failed"],
        )
        try:
            yield server
        finally:
            # Point the endpoint at an event type no test produces: nothing is sent to the
            # closed server any more (registering the same name replaces it).
            register_webhook(
                localstripe.base_url,
                FORWARDER,
                server.url,
                settings.stripe_webhook_secret,
                events=["payout.failed"],
            )


def test_webhook_sent_by_localstripe_confirms_the_booking(
    api: Api,
    member: str,
    network: dict[str, str],
    gateway: StripeGateway,
    ctx: Context,
    forwarder: _Forwarder,
) -> None:
    held = book_by_card(api, member, network["pool"])
    forwarder.expected.add(held["payment"]["payment_intent_id"])

    confirm_as_browser(gateway, held["payment"]["payment_intent_id"], CARD_SUCCEEDS)

    deadline = time.monotonic() + 10
    while status_of(ctx, held["booking"]["id"]) != "confirmed" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status_of(ctx, held["booking"]["id"]) == "confirmed", forwarder.answers
    assert all(status == 200 for status, _ in forwarder.answers), forwarder.answers
    assert_money_accounted_for(ctx)
