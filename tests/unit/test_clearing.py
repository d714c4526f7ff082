"""Netting of credits used across operators."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.domain.clearing import (
    membership_days_value,
    membership_usage_value,
    settle,
    usage_value,
)


def test_a_credit_is_worth_its_pack_price_divided_by_its_credits() -> None:
    assert usage_value({"credits": "1", "pack_price": 12000, "pack_credits": "10"}) == 1200
    assert usage_value({"credits": "0.5", "pack_price": 12000, "pack_credits": "10"}) == 600
    assert usage_value({"credits": "1", "pack_price": 10000, "pack_credits": "3"}) == 3333


def test_use_at_the_sellers_own_relay_owes_nothing() -> None:
    assert settle([("op_a", "op_a", 1200, "b1")]) == {"flows": [], "balances": []}


def test_flows_both_ways_are_netted_into_one_balance() -> None:
    report = settle(
        [("op_a", "op_b", 1200, "b1"), ("op_a", "op_b", 600, "b2"), ("op_b", "op_a", 500, "b3")]
    )
    assert report["balances"] == [
        {"from_operator_id": "op_a", "to_operator_id": "op_b", "amount": 1300, "currency": "EUR"}
    ]
    assert {(f["seller_operator_id"], f["amount"], f["bookings"]) for f in report["flows"]} == {
        ("op_a", 1800, 2),
        ("op_b", 500, 1),
    }


def test_equal_flows_cancel_out() -> None:
    assert settle([("op_a", "op_b", 700, "b1"), ("op_b", "op_a", 700, "b2")])["balances"] == []


def test_a_membership_day_is_worth_its_period_price_divided_by_its_days() -> None:
    assert membership_usage_value(12000, Decimal(8), Decimal(1)) == 1500
    assert membership_usage_value(12000, Decimal(8), Decimal("0.5")) == 750


def test_an_unlimited_membership_day_is_worth_a_twentieth_of_its_price() -> None:
    assert membership_usage_value(18000, None, Decimal(1)) == 900


def test_a_booking_paid_from_two_packs_of_one_seller_counts_once() -> None:
    # 1 credit drawn 0.5 from each of two packs sold by op_a, used at op_b's relay
    (flow,) = settle([("op_a", "op_b", 250, "bk_1"), ("op_a", "op_b", 250, "bk_1")])["flows"]
    assert (flow["amount"], flow["bookings"]) == (500, 1)


def test_a_membership_periods_days_are_worth_its_price_never_more() -> None:
    # 99.00 € for 8 days, used to the last: 9900, not 8 x 1238 = 9904
    used, values = Decimal(0), []
    for _ in range(8):
        values.append(membership_days_value(9900, Decimal(8), used, Decimal(1)))
        used += 1
    assert sum(values) == 9900
    # unlimited: worth a twentieth a day, nothing more once the price is spent
    unlimited = [membership_days_value(9900, None, Decimal(d), Decimal(1)) for d in range(21)]
    assert sum(unlimited) == 9900 and unlimited[-1] == 0


def test_a_draw_carrying_its_value_is_owed_that_value() -> None:
    draw = {"credits": "0.5", "pack_price": 10000, "pack_credits": "3", "value": 1666}
    assert usage_value(draw) == 1666
    assert usage_value({k: v for k, v in draw.items() if k != "value"}) == 1667
