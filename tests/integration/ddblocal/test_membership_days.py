"""Memberships on DynamoDB Local: a period's days counted exactly under concurrent
bookings and cancellations, and the renewal job racing itself. Every race is bounded."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.auth import Principal
from chalicelib.domain.booking import BookingRequest, BookingStatus
from chalicelib.domain.catalogue import NewProduct
from chalicelib.domain.identifiers import new_id
from chalicelib.domain.membership import PARIS, Membership
from chalicelib.errors import InsufficientCredits
from chalicelib.services import membership_charges, memberships
from chalicelib.services.bookings import book, cancel
from chalicelib.services.catalogue import create_product
from chalicelib.services.context import Context
from tests.conftest import NOW
from tests.integration.ddblocal.conftest import Network
from tests.integration.ddblocal.test_never_oversell import error_types, occupancy, race
from tests.support.fake_stripe_memberships import MembershipFakeGateway

pytestmark = [
    pytest.mark.ddblocal,
    pytest.mark.usefixtures("ddb_real_engine"),
]

MEMBER = Principal(sub="member-1", email="member-1@example.org")
DAY = date(2026, 12, 2)  # the Wednesday after the test clock's Tuesday


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


@pytest.fixture
def ctx(ddb_ctx: Context, stripe_fake: MembershipFakeGateway) -> Context:
    """The DynamoDB Local context, with the fake Stripe that saves cards and charges them."""
    return Context(
        settings=ddb_ctx.settings,
        table=ddb_ctx.table,
        clock=FixedClock(NOW),
        gateway_override=stripe_fake,
    )


def active_membership(
    ctx: Context, stripe_fake: MembershipFakeGateway, network: Network, days: float | None
) -> Membership:
    """A membership paid for its first period (1 Dec 2026 → 1 Jan 2027)."""
    fields: dict[str, Any] = {
        "kind": "membership",
        "name": "Nomade",
        "price": {"amount": 9900},
        "operator_id": network.operator,
        "period": "month",
        "days_per_period": days,
    }
    product = create_product(ctx, NewProduct.model_validate(fields))
    answer = memberships.subscribe(ctx, MEMBER, product.id, "card", new_id("mbr"))
    setup = stripe_fake.save_payment_method(answer["setup"]["setup_intent_id"])
    assert membership_charges.setup_succeeded(ctx, setup) == "paid"
    return current(ctx, answer["membership"]["id"])


def current(ctx: Context, membership_id: str) -> Membership:
    found = ctx.memberships.get(MEMBER.sub, membership_id)
    assert found is not None
    return found


def desk(network: Network, unit: str = "day", day: date = DAY) -> BookingRequest:
    return BookingRequest.model_validate(
        {"resource_id": network.pool, "date": day, "unit": unit, "payment": "membership"}
    )


def days_of_live_bookings(ctx: Context, network: Network, membership_id: str) -> Decimal:
    """What the counter must say: the days of the membership's bookings still standing."""
    days = Decimal(0)
    for offset in range(3):
        day = (DAY + timedelta(days=offset)).isoformat()
        for booking in ctx.bookings.on_relay_day(network.relay, day):
            if booking.membership_id == membership_id and booking.status in (
                BookingStatus.confirmed,
                BookingStatus.checked_in,
            ):
                days += Decimal(1) if booking.unit == "day" else Decimal("0.5")
    return days


def test_the_days_of_a_period_go_to_exactly_as_many_concurrent_bookings(
    ctx: Context, stripe_fake: MembershipFakeGateway, ddb_network: Network
) -> None:
    # GIVEN a membership of 3 days per period, and an 8-seat pool
    membership = active_membership(ctx, stripe_fake, ddb_network, 3)
    # WHEN the member books 8 days at the same moment (8 seats: seats are not the limit)
    calls = [partial(book, ctx, MEMBER, desk(ddb_network), new_id("bkg")) for _ in range(8)]
    outcome = race(calls)
    # THEN exactly 3 bookings win, every other one hears "insufficient credits"
    assert len(outcome.winners) == 3, error_types(outcome)
    assert all(isinstance(outcome.errors[i], InsufficientCredits) for i in outcome.losers)
    # AND the counter says 3 days, and only 3 seats are taken
    assert current(ctx, membership.id).days_used == 3
    assert set(occupancy(ctx, ddb_network.relay, ddb_network.pool).values()) == {3}


def test_half_days_are_counted_exactly_under_concurrent_bookings(
    ctx: Context, stripe_fake: MembershipFakeGateway, ddb_network: Network
) -> None:
    # GIVEN 1.5 days per period, WHEN 8 half days are booked at once (mornings and afternoons)
    membership = active_membership(ctx, stripe_fake, ddb_network, 1.5)
    units = ["half_day_am", "half_day_pm"] * 4
    calls = [partial(book, ctx, MEMBER, desk(ddb_network, u), new_id("bkg")) for u in units]
    outcome = race(calls)
    # THEN exactly three halves are booked: 1.5 days, never more
    assert len(outcome.winners) == 3, error_types(outcome)
    assert current(ctx, membership.id).days_used == Decimal("1.5")


def test_the_counter_matches_the_bookings_after_bookings_race_cancellations(
    ctx: Context, stripe_fake: MembershipFakeGateway, ddb_network: Network
) -> None:
    # GIVEN 2 days per period, both used by bookings cancellable in time
    membership = active_membership(ctx, stripe_fake, ddb_network, 2)
    taken = [book(ctx, MEMBER, desk(ddb_network), new_id("bkg"))["booking"] for _ in range(2)]
    for round_ in range(4):
        # WHEN one of them is cancelled while 3 new bookings (days 2 and 3) race for its day
        victim = taken.pop(0)
        calls = [partial(cancel, ctx, MEMBER, victim["id"])]
        calls += [
            partial(
                book,
                ctx,
                MEMBER,
                desk(ddb_network, day=DAY + timedelta(days=1 + i % 2)),
                new_id("bkg"),
            )
            for i in range(3)
        ]
        outcome = race(calls)
        # THEN the cancellation goes through, at most one booking gets the day back
        assert outcome.errors[0] is None, repr(outcome.errors[0])
        won = [outcome.results[i]["booking"] for i in outcome.winners if i > 0]
        assert len(won) <= 1, (round_, error_types(outcome))
        taken += won
        # AND the counter is exactly the days of the bookings still standing, within 2
        used = current(ctx, membership.id).days_used
        assert used == days_of_live_bookings(ctx, ddb_network, membership.id) <= 2
        if not won:  # the day went back to nobody: take it for the next round
            taken.append(book(ctx, MEMBER, desk(ddb_network), new_id("bkg"))["booking"])


def test_two_renewal_runs_at_once_charge_a_period_once(
    ctx: Context, stripe_fake: MembershipFakeGateway, ddb_network: Network
) -> None:
    # GIVEN a membership whose second period is due
    membership = active_membership(ctx, stripe_fake, ddb_network, None)
    due = datetime(2027, 1, 1, 0, 5, tzinfo=PARIS)
    # WHEN four runs of the job (a catch-up among them) start together
    outcome = race([partial(membership_charges.renew_memberships, ctx, due) for _ in range(4)])
    # THEN exactly one charged it, and Stripe was asked once
    assert outcome.errors == [None] * 4, outcome.errors
    assert sorted(r["processed"] for r in outcome.results) == [0, 0, 0, 1]
    assert [c.metadata["period"] for c in stripe_fake.charges] == ["1", "2"]
    renewed = current(ctx, membership.id)
    assert (renewed.period, renewed.billing_period, renewed.lease_until) == (2, 3, None)
