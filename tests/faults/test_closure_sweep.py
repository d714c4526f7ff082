"""A closure's sweep reads the relay-day GSI, which is eventually consistent.

`LaggingIndex` hides from that listing the bookings written just before the closure, as
DynamoDB may: the sweep must still cancel and refund a confirmed booking it did not see
at first, and a hold it never saw must not be confirmed on the closed day when paid.
Then the closure itself is crashed after every call, and retried.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from chalicelib.domain.booking import Booking
from chalicelib.services.context import Context
from tests.faults.conftest import CRASH_SAMPLES
from tests.support.api import Answer, Api, assert_problem
from tests.support.crash import Probe, Scenario, crash_at_every_step
from tests.support.fake_stripe import FakeGateway
from tests.support.invariants import assert_invariants
from tests.support.webhooks import deliver

DAY = "2026-12-03"


class LaggingIndex:
    """`ctx.bookings.on_relay_day` whose answer leaves out the bookings in `hidden` for
    their next `lag` listings (None: until told otherwise)."""

    def __init__(self, ctx: Context) -> None:
        self.hidden: dict[str, int | None] = {}
        self.listings = 0
        self._listed: Callable[[str, str], list[Booking]] = ctx.bookings.on_relay_day
        ctx.bookings.on_relay_day = self.on_relay_day  # type: ignore[method-assign]

    def hide(self, booking_id: str, lag: int | None) -> None:
        self.hidden[booking_id] = lag

    def on_relay_day(self, relay_id: str, day: str) -> list[Booking]:
        self.listings += 1
        visible = []
        for booking in self._listed(relay_id, day):
            lag = self.hidden.get(booking.id, 0)
            if lag == 0:
                visible.append(booking)
            elif lag is not None:
                self.hidden[booking.id] = lag - 1
        return visible


def book(api: Api, token: str, pool: str) -> Answer:
    body = {"resource_id": pool, "date": DAY, "unit": "day", "payment": "card"}
    answer = api.post("/v1/bookings", body, token=token)
    assert answer.status == 201, answer.json
    return answer


def pay(api: Api, ctx: Context, stripe_fake: FakeGateway, booked: Answer) -> None:
    intent = stripe_fake.succeed(booked.json["payment"]["payment_intent_id"])
    delivered = deliver(api, ctx.settings, "payment_intent.succeeded", intent)
    assert delivered.status == 200, delivered.json


def close(api: Api, admin: str, relay: str, day: str = DAY) -> Answer:
    body = {"date": day, "reason": "Dégât des eaux"}
    return api.post(f"/v1/relays/{relay}/closures", body, token=admin)


def status_of(ctx: Context, booked: Answer) -> Any:
    booking = ctx.bookings.get(booked.json["booking"]["id"])
    assert booking is not None
    return booking


def test_given_a_confirmed_booking_not_yet_indexed_when_the_day_closes_then_it_is_refunded(
    api: Api, admin: str, ctx: Context, network: dict[str, str], stripe_fake: FakeGateway
) -> None:
    index = LaggingIndex(ctx)
    # Given a confirmed booking the relay-day index shows only from its 2nd listing on,
    # and one it shows at once
    late = book(api, api.token("member-1"), network["pool"])
    seen = book(api, api.token("member-2"), network["pool"])
    pay(api, ctx, stripe_fake, late)
    pay(api, ctx, stripe_fake, seen)
    index.hide(late.json["booking"]["id"], lag=1)
    # When the manager closes the day
    closed = close(api, admin, network["relay"])
    # Then both are cancelled and refunded in full: the sweep read the listing again
    assert closed.status == 201, closed.json
    assert closed.json["cancelled_bookings"] == 2
    assert index.listings >= 2
    for booked in (late, seen):
        booking = status_of(ctx, booked)
        assert booking.status.value == "cancelled"
        assert booking.refund is not None and booking.refund["status"] == "succeeded"
    assert len(stripe_fake.refunds) == 2
    assert_invariants(ctx, stripe_fake)


def test_given_a_hold_never_indexed_when_the_day_closes_then_503_and_it_is_never_confirmed(
    api: Api, admin: str, ctx: Context, network: dict[str, str], stripe_fake: FakeGateway
) -> None:
    index = LaggingIndex(ctx)
    # Given a hold the relay-day index does not show (yet)
    held = book(api, api.token("member-1"), network["pool"])
    index.hide(held.json["booking"]["id"], lag=None)
    # When the manager closes the day
    closed = close(api, admin, network["relay"])
    # Then the closure stands but says its sweep is unfinished: 503, retry
    problem = assert_problem(closed, 503, "service_unavailable")
    assert closed.headers["Retry-After"] == "1", problem
    # When the member then pays for the hold
    pay(api, ctx, stripe_fake, held)
    # Then it is not confirmed on the closed day: cancelled, and refunded in full
    booking = status_of(ctx, held)
    assert booking.status.value == "cancelled"
    assert booking.refund is not None and booking.refund["amount"] == 1500
    assert [r.amount for r in stripe_fake.refunds.values()] == [1500]
    # And once the index shows it, the manager's retry finds the day closed and swept
    index.hide(held.json["booking"]["id"], lag=0)
    assert_problem(close(api, admin, network["relay"]), 409, "already_exists")
    assert_invariants(ctx, stripe_fake)


def test_given_a_crash_after_any_call_of_a_closure_when_retried_then_every_booking_refunded(
    api: Api, admin: str, ctx: Context, probe: Probe, stripe_fake: FakeGateway
) -> None:
    # Given, for each run, a relay-day with two paid bookings (a new day each run)
    days: dict[int, tuple[str, list[Answer]]] = {}
    relay = _relay_with_pool(api, admin)

    def prepare(i: int) -> None:
        week, weekday = divmod(i - 1, 5)  # Monday 2026-12-07 on, weekdays only
        day = (date(2026, 12, 7) + timedelta(days=7 * week + weekday)).isoformat()
        answers = []
        for member in (f"member-{i}-a", f"member-{i}-b"):
            body = {"resource_id": relay["pool"], "date": day, "unit": "day", "payment": "card"}
            answer = api.post("/v1/bookings", body, token=api.token(member))
            assert answer.status == 201, answer.json
            pay(api, ctx, stripe_fake, answer)
            answers.append(answer)
        days[i] = (day, answers)

    def run(i: int) -> None:
        answer = close(api, admin, relay["relay"], days[i][0])
        assert answer.status == 201, answer.json

    def recover(i: int) -> None:
        # The manager retries: a closure already written answers 409, its sweep finished
        answer = close(api, admin, relay["relay"], days[i][0])
        assert answer.status == 201 or answer.json["code"] == "already_exists", answer.json
        from chalicelib.jobs import run_job

        run_job(ctx, "expire_holds")  # refunds still owed

    def converged(i: int) -> None:
        for answer in days[i][1]:
            booking = status_of(ctx, answer)
            assert booking.status.value == "cancelled", booking
            assert booking.refund is not None and booking.refund["status"] == "succeeded"

    # When the closure dies after its k-th call (each k), then the manager retries
    report = crash_at_every_step(
        ctx,
        probe,
        Scenario("closure sweep", run=run, converged=converged, prepare=prepare, recover=recover),
        check=lambda: assert_invariants(ctx, stripe_fake),
        samples=CRASH_SAMPLES,
    )
    # Then every booking of the closed day is cancelled and refunded once
    assert report.steps > 10
    print(f"\n{report.scenario}: {report.steps} steps, {report.runs} runs")


def _relay_with_pool(api: Api, admin: str) -> dict[str, str]:
    from tests.support.api import add_relay, operator_body

    operator = api.post("/v1/operators", operator_body(), token=admin)
    assert operator.status == 201, operator.json
    return add_relay(api, admin, operator.json["id"], capacity=4)


def test_given_a_sweep_answered_503_when_retried_then_its_count_holds_every_cancellation(
    api: Api, admin: str, ctx: Context, network: dict[str, str], stripe_fake: FakeGateway
) -> None:
    index = LaggingIndex(ctx)
    # Given a confirmed booking the index shows, and a hold it does not show yet
    seen = book(api, api.token("member-1"), network["pool"])
    pay(api, ctx, stripe_fake, seen)
    held = book(api, api.token("member-2"), network["pool"])
    index.hide(held.json["booking"]["id"], lag=None)
    # When the day is closed: the first sweep cancels the one it sees, then answers 503
    assert_problem(close(api, admin, network["relay"]), 503, "service_unavailable")
    # And, once the index shows the hold, the retry finishes the sweep
    index.hide(held.json["booking"]["id"], lag=0)
    retried = close(api, admin, network["relay"])
    # Then the closure counts both: the first attempt's and the retry's
    assert retried.status == 201, retried.json
    assert retried.json["cancelled_bookings"] == 2
    assert_invariants(ctx, stripe_fake)
