"""Netting of credits used across operators."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.domain.clearing import membership_usage_value, settle, usage_value


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
