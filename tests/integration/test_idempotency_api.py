"""Idempotency-Key on creating POSTs: a retry replays the first answer and has no second
effect (HTTP, chalice test client, moto)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice import Response  # type: ignore[attr-defined]

from chalicelib.adapters.clock import FixedClock
from chalicelib.api import bookings as booking_routes
from chalicelib.api.endpoint import ROUTES, Call, _run_idempotently
from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.domain.booking import BookingRequest
from chalicelib.errors import IdempotencyInFlight
from chalicelib.services.context import Context
from tests.conftest import NOW, PARIS
from tests.integration.test_payment_policies import buy_pack, make_pack
from tests.support.api import (
    Api,
    assert_problem,
    booking_body,
    error_fields,
    free_seats,
    operator_body,
)
from tests.support.fake_stripe import FakeGateway

DAY = "2026-12-02"


def post_booking(api: Api, token: str, body: dict[str, Any], key: str) -> Any:
    return api.post("/v1/bookings", body, token=token, headers={"Idempotency-Key": key})


def test_retry_with_the_same_key_replays_the_first_answer(
    api: Api, member: str, network: dict[str, str]
) -> None:
    # GIVEN a booking made with an Idempotency-Key
    body = booking_body(network["pool"])
    first = post_booking(api, member, body, "retry-1")
    assert first.status == 201, first.json
    # WHEN the very same request is sent again
    second = post_booking(api, member, body, "retry-1")
    # THEN the original status and body come back
    assert second.status == first.status
    assert second.json == first.json
    assert second.json["booking"]["id"] == first.json["booking"]["id"]
    assert second.headers["Idempotent-Replayed"] == "true"


def test_retry_with_the_same_key_takes_only_one_seat(
    api: Api, member: str, network: dict[str, str]
) -> None:
    body = booking_body(network["pool"])
    for _ in range(3):
        assert post_booking(api, member, body, "retry-2").status == 201
    free = free_seats(api, network["relay"], network["pool"], DAY)
    assert set(free.values()) == {2}  # capacity 3, one seat taken all day


def test_retry_with_the_same_key_lists_one_booking(
    api: Api, member: str, network: dict[str, str]
) -> None:
    body = booking_body(network["pool"])
    post_booking(api, member, body, "retry-3")
    post_booking(api, member, body, "retry-3")
    assert len(api.get("/v1/bookings", token=member).json["items"]) == 1


def test_same_key_with_another_body_is_an_idempotency_conflict(
    api: Api, member: str, network: dict[str, str]
) -> None:
    # GIVEN a key already used for a day on Wednesday
    assert post_booking(api, member, booking_body(network["pool"]), "reused").status == 201
    # WHEN it is reused for Thursday
    other = post_booking(api, member, booking_body(network["pool"], date="2026-12-03"), "reused")
    # THEN it is refused, and Thursday stays untouched
    assert_problem(other, 409, "idempotency_conflict")
    assert set(free_seats(api, network["relay"], network["pool"], "2026-12-03").values()) == {3}


def test_two_members_may_use_the_same_key_independently(
    api: Api, member: str, network: dict[str, str]
) -> None:
    body = booking_body(network["pool"])
    mine = post_booking(api, member, body, "shared-key")
    theirs = post_booking(api, api.token("member-2"), body, "shared-key")
    assert mine.status == theirs.status == 201, (mine.json, theirs.json)
    assert mine.json["booking"]["id"] != theirs.json["booking"]["id"]
    assert theirs.json["booking"]["member_id"] == "member-2"
    assert set(free_seats(api, network["relay"], network["pool"], DAY).values()) == {1}


def test_key_of_255_characters_is_accepted(api: Api, member: str, network: dict[str, str]) -> None:
    answer = post_booking(api, member, booking_body(network["pool"]), "k" * 255)
    assert answer.status == 201, answer.json


def test_key_longer_than_255_characters_is_a_validation_error(
    api: Api, member: str, network: dict[str, str]
) -> None:
    answer = post_booking(api, member, booking_body(network["pool"]), "k" * 256)
    assert_problem(answer, 422, "validation_error")
    assert "Idempotency-Key" in error_fields(answer)
    assert set(free_seats(api, network["relay"], network["pool"], DAY).values()) == {3}


def test_operator_creation_retried_with_the_same_key_creates_one_operator(
    api: Api, admin: str
) -> None:
    # The SIREN is unique: without replay, the retry would answer 409 already_exists.
    headers = {"Idempotency-Key": "op-1"}
    first = api.post("/v1/operators", operator_body(), token=admin, headers=headers)
    second = api.post("/v1/operators", operator_body(), token=admin, headers=headers)
    assert first.status == second.status == 201, second.json
    assert second.json == first.json
    assert len(api.get("/v1/operators", token=admin).json["items"]) == 1


def test_key_reused_after_24_hours_books_what_is_asked(
    api: Api, member: str, network: dict[str, str], clock: FixedClock
) -> None:
    # GIVEN a key used for Wednesday, more than 24 h ago
    first = post_booking(api, member, booking_body(network["pool"]), "old-key")
    clock.advance(hours=25)
    # WHEN the member reuses it for Friday
    later = post_booking(api, member, booking_body(network["pool"], date="2026-12-04"), "old-key")
    # THEN the expired key is claimed afresh: a new Friday booking, not Wednesday's replayed
    assert later.status == 201, later.json
    friday = later.json["booking"]
    assert friday["date"] == "2026-12-04"
    assert friday["id"] != first.json["booking"]["id"]
    assert "Idempotent-Replayed" not in later.headers


def _answer_not_stored_once(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB throttles the write that stores the first answer, after the booking's own
    transaction committed: the client gets a 503 and retries with its key."""
    real, calls = ctx.idempotency.complete, []

    def throttled_once(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        if len(calls) == 1:
            error = {"Error": {"Code": "ThrottlingException", "Message": "throttled"}}
            raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]
        real(*args, **kwargs)

    monkeypatch.setattr(ctx.idempotency, "complete", throttled_once)


@pytest.mark.parametrize("payment", ["credits", "card"])
def test_a_retry_after_the_time_is_over_gets_the_booking_its_first_attempt_made(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    clock: FixedClock,
    ctx: Context,
    settings: Settings,
    stripe_fake: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
    payment: str,
) -> None:
    if payment == "credits":
        buy_pack(api, member, settings, stripe_fake, make_pack(api, admin, network["operator"]))
    body = booking_body(network["pool"], payment=payment)
    # GIVEN Wednesday's day booked at 18:59:50, its answer lost (the relay closes at 19:00)
    clock.moment = datetime(2026, 12, 2, 18, 59, 50, tzinfo=PARIS)
    _answer_not_stored_once(ctx, monkeypatch)
    assert_problem(post_booking(api, member, body, "late-key"), 503, "service_unavailable")
    (made,) = api.get("/v1/bookings", token=member).json["items"]
    # WHEN the client retries with its key once the day is over, then the day after
    for moment in (datetime(2026, 12, 2, 19, 0, 5, tzinfo=PARIS), NOW + timedelta(days=2)):
        clock.moment = moment
        again = post_booking(api, member, body, "late-key")
        # THEN it gets the booking made, never a refusal of a booking that exists
        assert again.status == 201, again.json
        assert again.json["booking"]["id"] == made["id"]
        assert (again.json["payment"] is None) == (payment == "credits")
    # AND a new request (another key) for that time is refused
    assert_problem(post_booking(api, member, body, "new-key"), 422, "validation_error")


# -- concurrent duplicates -------------------------------------------------------------------
# chalice's test client keeps the current request on the shared app object, so two threads
# would read each other's request: the race is run through the same endpoint machinery
# (`_run_idempotently` + the route function) that the HTTP view calls, one Call per thread.


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each request (a conditional put, a transaction) atomically; moto
    checks and writes in separate steps without a lock, so threads can both win a
    conditional put. Serialise moto's requests: the race under test is the app's, not moto's."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    unlocked = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return unlocked(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)


def _booking_call(ctx: Context, body: dict[str, Any], key: str) -> tuple[Any, Call]:
    spec = next(r for r in ROUTES if r.path == "/v1/bookings" and r.method == "POST")
    raw = json.dumps(body).encode()
    call = Call(
        ctx=ctx,
        params={},
        headers={"idempotency-key": key},
        raw_body=raw,
        principal_or_none=Principal(sub="member-1"),
        body=BookingRequest.model_validate(body),
        idempotency_key=key,
    )
    return spec, call


def _race(
    ctx: Context, body: dict[str, Any], key: str, copies: int
) -> tuple[list[Response], list[IdempotencyInFlight]]:
    start = threading.Barrier(copies)
    answers: list[Response] = []
    in_flight: list[IdempotencyInFlight] = []
    failures: list[BaseException] = []

    def send() -> None:
        spec, call = _booking_call(ctx, body, key)
        start.wait()
        try:
            answers.append(_run_idempotently(spec, booking_routes.create_booking, call, body))
        except IdempotencyInFlight as exc:
            in_flight.append(exc)
        except BaseException as exc:  # reported below: a thread must not swallow it
            failures.append(exc)

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures, failures
    return answers, in_flight


def test_concurrent_duplicates_with_the_same_key_make_one_booking(
    api: Api, ctx: Context, member: str, network: dict[str, str], atomic_dynamodb: None
) -> None:
    # GIVEN four identical requests with one key, released at the same instant
    answers, in_flight = _race(ctx, booking_body(network["pool"]), "race-1", copies=4)
    # THEN each either answers 201 with the one booking or is told to retry (never waits)
    assert len(answers) + len(in_flight) == 4
    assert {a.status_code for a in answers} == {201}
    assert all(e.headers == {"Retry-After": "1"} for e in in_flight)
    ids = {json.loads(a.body)["booking"]["id"] for a in answers}
    assert len(ids) == 1
    # AND a retry after the first finished replays that booking
    retry = post_booking(api, member, booking_body(network["pool"]), "race-1")
    assert retry.status == 201
    assert retry.json["booking"]["id"] in ids
    # AND one seat only is taken
    assert set(free_seats(api, network["relay"], network["pool"], DAY).values()) == {2}
    assert len(api.get("/v1/bookings", token=member).json["items"]) == 1


def test_another_caller_never_gets_a_callers_answer_whatever_their_sub_and_key_spell(
    api: Api, member: str
) -> None:
    """`member-1#feed` with key `1` and `member-1` with key `feed#1` are two callers: the
    second must not be replayed the first's answer (here, its secret feed URL)."""
    first = api.post(
        "/v1/me/calendar-feed/rotate", token=member, headers={"Idempotency-Key": "feed#1"}
    )
    assert first.status == 200, first.json
    other = api.token("member-1#feed")
    answer = api.post("/v1/me/calendar-feed/rotate", token=other, headers={"Idempotency-Key": "1"})
    assert answer.status == 200, answer.json
    assert answer.headers.get("Idempotent-Replayed") != "true"
    assert answer.json["url"] != first.json["url"]
