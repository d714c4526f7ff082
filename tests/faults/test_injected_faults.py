"""DynamoDB and Stripe failing for a moment: the client gets 503 `service_unavailable`
with `Retry-After` (never a 500, never half-written state), and its retry converges.

DynamoDB's errors are raised by a botocore hook in place of a chosen call (as when
boto3's own retries are used up); Stripe's are the SDK's own exceptions through the
gateway's error mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from chalicelib.adapters.dynamo import CLIENT_MAX_ATTEMPTS, oversized_item, transient_failure
from chalicelib.adapters.stripe_gateway import map_stripe_error
from chalicelib.errors import (
    Misconfigured,
    PaymentProviderError,
    ServiceUnavailable,
    ValidationFailed,
)
from chalicelib.services.context import Context
from tests.faults.conftest import CRASH_STRIDE
from tests.support.api import Answer, Api, assert_problem, resource_body
from tests.support.crash import FaultInjector, client_error, connection_refused, read_timeout
from tests.support.fake_stripe import FakeGateway
from tests.support.invariants import assert_invariants
from tests.support.webhooks import deliver

DAY = "2026-12-03"

DYNAMODB_FAULTS: dict[str, Callable[[str], BaseException]] = {
    "throughput exceeded": client_error("ProvisionedThroughputExceededException"),
    "throttled": client_error("ThrottlingException"),
    "internal server error": client_error("InternalServerError"),
    "transaction conflict": client_error("TransactionConflictException"),
    "transaction cancelled by a conflict": client_error(
        "TransactionCanceledException", ["None", "TransactionConflict"]
    ),
    "read timeout": read_timeout,
    "endpoint unreachable": connection_refused,
}


@pytest.fixture
def pool(api: Api, admin: str, network: dict[str, str]) -> str:
    answer = api.post(
        f"/v1/relays/{network['relay']}/resources",
        resource_body(name="Grand plateau", capacity=200),
        token=admin,
    )
    assert answer.status == 201, answer.json
    return str(answer.json["id"])


@pytest.fixture
def faults(ctx: Context) -> FaultInjector:
    return FaultInjector(ctx)


def book(api: Api, token: str, pool: str, key: str) -> Answer:
    body = {"resource_id": pool, "date": DAY, "unit": "day", "payment": "card"}
    return api.post("/v1/bookings", body, token=token, headers={"Idempotency-Key": key})


def assert_unavailable(answer: Answer) -> None:
    problem = assert_problem(answer, 503, "service_unavailable")
    assert int(answer.headers["Retry-After"]) >= 1, answer.headers
    assert problem["request_id"]


def test_boto3_retries_in_standard_mode_with_bounded_attempts(ctx: Context) -> None:
    # Given the table's client, as the Lambda builds it
    config = ctx.table.client.meta.config
    # Then throttling and timeouts are retried by boto3, a bounded number of times
    # (botocore counts the first attempt in total_max_attempts: 1 + the retries)
    assert config.retries == {"total_max_attempts": CLIENT_MAX_ATTEMPTS + 1, "mode": "standard"}
    assert 1 < CLIENT_MAX_ATTEMPTS <= 5
    assert config.connect_timeout <= 5 and config.read_timeout <= 15


@pytest.mark.parametrize("fault", sorted(DYNAMODB_FAULTS))
def test_given_dynamodb_failing_once_when_booking_then_503_and_the_retry_books_once(
    fault: str, api: Api, ctx: Context, pool: str, faults: FaultInjector, stripe_fake: FakeGateway
) -> None:
    # Given DynamoDB failing on the booking's write (its transaction)
    token = api.token("member-1")
    faults.fail_first("TransactWriteItems", DYNAMODB_FAULTS[fault])
    # When the member books, then retries with the same Idempotency-Key
    failed = book(api, token, pool, "k-1")
    faults.off()
    retried = book(api, token, pool, "k-1")
    # Then a 503 with Retry-After, then the booking, once
    assert faults.failed == ["TransactWriteItems"]
    assert_unavailable(failed)
    assert retried.status == 201, retried.json
    assert len(api.get("/v1/bookings", token=token).json["items"]) == 1
    assert_invariants(ctx, stripe_fake)


def test_given_dynamodb_throttled_at_any_call_of_book_and_pay_then_503_never_500_and_converges(
    api: Api, ctx: Context, pool: str, faults: FaultInjector, stripe_fake: FakeGateway
) -> None:
    # Given each call k of "book, pay, Stripe's webhook" in turn throttled once
    # (every call under `make soak`, every CRASH_STRIDE-th under `make test`)
    k, tried = 0, 0
    while True:
        k += 1
        token = api.token(f"member-{k}")
        faults.fail(k, client_error("ProvisionedThroughputExceededException"))
        # When the member books (retrying on 503) and Stripe delivers (redelivering on 503)
        statuses = []
        answer = book(api, token, pool, f"k-{k}")
        statuses.append(answer.status)
        if answer.status == 503:
            assert_unavailable(answer)
            answer = book(api, token, pool, f"k-{k}")
        assert answer.status == 201, answer.json
        intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
        delivered = deliver(api, ctx.settings, "payment_intent.succeeded", intent, f"evt-{k}")
        statuses.append(delivered.status)
        if delivered.status == 503:
            assert_unavailable(delivered)
            delivered = deliver(api, ctx.settings, "payment_intent.succeeded", intent, f"evt-{k}")
        assert delivered.status == 200, delivered.json
        fired = bool(faults.failed)
        faults.off()
        # Then never a 500; the booking confirmed once; the table consistent
        assert 500 not in statuses, statuses
        booking = api.get(f"/v1/bookings/{answer.json['booking']['id']}", token=token).json
        assert booking["status"] == "confirmed" and booking["invoice_id"], booking
        assert_invariants(ctx, stripe_fake)
        if not fired:  # the flow made fewer than k calls: every call was tried
            break
        tried = k
        k += CRASH_STRIDE - 1
    # The flow makes some 19 calls (book, pay, webhook): each in turn (make soak), or
    # every CRASH_STRIDE-th (make test), was throttled up to the last ones
    assert tried > 19 - CRASH_STRIDE, tried


IN_USE = "idempotency_key_in_use"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (stripe.APIConnectionError("timed out"), ServiceUnavailable),
        (stripe.APIError("boom", http_status=500), ServiceUnavailable),
        (stripe.APIError("bad gateway", http_status=502), ServiceUnavailable),
        (stripe.RateLimitError("slow down", http_status=429), ServiceUnavailable),
        # as the SDK raises a 409: a plain APIError, its code only in the body's error
        (
            stripe.APIError(
                "in use",
                http_status=409,
                json_body={"error": {"type": "invalid_request_error", "code": IN_USE}},
            ),
            ServiceUnavailable,
        ),
        (stripe.APIError("conflict", http_status=409), ServiceUnavailable),
        (stripe.IdempotencyError("other params", http_status=400), PaymentProviderError),
        (stripe.AuthenticationError("bad key", http_status=401), Misconfigured),
        (stripe.PermissionError("no access", http_status=403), Misconfigured),
    ],
)
def test_stripe_failures_map_to_503_when_a_retry_can_help(error: Any, expected: type) -> None:
    # Given an error raised by the Stripe SDK
    mapped = map_stripe_error(error)
    # Then a timeout, a 5xx, a rate limit or a key in use is a 503 with Retry-After;
    # a request Stripe refuses for its parameters is not retried (502); our own key
    # refused is a misconfiguration (503 `misconfigured`), never the customer's doing
    assert isinstance(mapped, expected)
    if expected is ServiceUnavailable:
        assert mapped.code == "service_unavailable" and mapped.headers["Retry-After"] == "1"


class FlakyStripe:
    """The fake gateway whose next `fail_next` calls raise the SDK's `error`."""

    def __init__(self, inner: FakeGateway) -> None:
        self.inner, self.fail_next, self.error = inner, 0, Exception("unset")

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name == "parse_webhook" or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.fail_next:
                self.fail_next -= 1
                raise map_stripe_error(self.error)
            return attribute(*args, **kwargs)

        return call


@pytest.mark.parametrize(
    "error",
    [stripe.APIConnectionError("read timed out"), stripe.APIError("down", http_status=503)],
    ids=["timeout", "5xx"],
)
def test_given_stripe_down_when_booking_or_cancelling_then_503_or_refund_queued_and_converges(
    error: Any, api: Api, ctx: Context, pool: str, stripe_fake: FakeGateway
) -> None:
    flaky = FlakyStripe(stripe_fake)
    ctx.gateway_override = flaky  # type: ignore[assignment]
    token = api.token("member-1")
    # Given Stripe failing on the booking's PaymentIntent
    flaky.fail_next, flaky.error = 1, error
    # When the member books, then retries with the same key
    failed = book(api, token, pool, "k-1")
    answer = book(api, token, pool, "k-1")
    # Then 503 with Retry-After, then the booking with its one intent
    assert_unavailable(failed)
    assert answer.status == 201, answer.json
    assert len(stripe_fake.intents) == 1
    intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
    assert deliver(api, ctx.settings, "payment_intent.succeeded", intent).status == 200
    # Given Stripe failing on the refund of a cancellation
    flaky.fail_next = 1
    cancelled = api.post(f"/v1/bookings/{answer.json['booking']['id']}/cancel", token=token)
    # Then the cancellation stands with its refund owed, and the job pays it once
    assert cancelled.status == 200, cancelled.json
    assert cancelled.json["refund"]["status"] == "pending"
    from chalicelib.jobs import run_job

    run_job(ctx, "expire_holds")
    run_job(ctx, "expire_holds")
    assert len(stripe_fake.refunds) == 1
    assert_invariants(ctx, stripe_fake)


def test_given_webhooks_duplicated_and_out_of_order_then_one_confirmation_one_invoice(
    api: Api, ctx: Context, pool: str, stripe_fake: FakeGateway
) -> None:
    token = api.token("member-1")
    answer = book(api, token, pool, "k-1")
    intent_id = answer.json["payment"]["payment_intent_id"]
    succeeded = stripe_fake.succeed(intent_id)
    failed = {**succeeded, "status": "requires_payment_method", "last_payment_error": {}}
    # Given Stripe sending "succeeded" twice under one id, once more under another,
    # and an earlier "payment_failed" arriving last
    answers = [
        deliver(api, ctx.settings, "payment_intent.succeeded", succeeded, "evt-ok"),
        deliver(api, ctx.settings, "payment_intent.succeeded", succeeded, "evt-ok"),
        deliver(api, ctx.settings, "payment_intent.succeeded", succeeded, "evt-ok-again"),
        deliver(api, ctx.settings, "payment_intent.payment_failed", failed, "evt-failed-late"),
    ]
    # Then every delivery is acknowledged, the booking stays confirmed with one invoice
    assert [a.status for a in answers] == [200, 200, 200, 200], [a.json for a in answers]
    assert answers[1].json.get("duplicate") is True
    booking = api.get(f"/v1/bookings/{answer.json['booking']['id']}", token=token).json
    assert booking["status"] == "confirmed", booking
    assert len(api.get("/v1/invoices", token=token).json["items"]) == 1
    assert_invariants(ctx, stripe_fake)


def test_an_item_too_large_for_dynamodb_is_the_callers_422() -> None:
    from botocore.exceptions import ClientError

    size = "Item size has exceeded the maximum allowed size"
    put = ClientError({"Error": {"Code": "ValidationException", "Message": size}}, "PutItem")
    reasons = [{"Code": "None"}, {"Code": "ValidationError", "Message": size}]
    cancelled = ClientError(
        {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons},
        "TransactWriteItems",
    )
    for refused in (put, cancelled):
        assert isinstance(oversized_item(refused), ValidationFailed)
    assert oversized_item(client_error("ValidationException")("PutItem")) is None
    assert oversized_item(ValueError("bug")) is None


def test_an_unknown_error_is_no_transient_failure() -> None:
    # A bug stays a 500 (logged), and a condition that failed stays the caller's answer
    assert transient_failure(ValueError("bug")) is None
    assert transient_failure(client_error("ConditionalCheckFailedException")("PutItem")) is None
    cancelled = client_error("TransactionCanceledException", ["ConditionalCheckFailed", "None"])
    assert transient_failure(cancelled("TransactWriteItems")) is None
