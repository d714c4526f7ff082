"""Payments, refunds and purchases (domain/payment.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from chalicelib.domain.payment import Dispute, Payment, Purchase, booking_refund_key
from chalicelib.domain.timezones import PARIS

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=PARIS)


def payment(amount: int, refunded: int) -> Payment:
    return Payment(
        intent_id="pi_1",
        kind="booking",
        subject_id="bk-1",
        member_id="member-1",
        operator_id="scic",
        amount=amount,
        description="Journée",
        status="succeeded",
        created_at=NOW,
        refunded_amount=refunded,
    )


@pytest.mark.parametrize(
    ("amount", "refunded", "full"),
    [(1500, 1500, True), (1500, 1499, False), (1500, 0, False), (0, 0, False)],
)
def test_a_payment_is_fully_refunded_once_its_whole_amount_is_back(
    amount: int, refunded: int, full: bool
) -> None:
    assert payment(amount, refunded).fully_refunded is full


def test_a_public_purchase_hides_the_member_and_keeps_credits_exact() -> None:
    purchase = Purchase(
        id="pu-1",
        member_id="member-1",
        product_id="pack-10",
        operator_id="scic",
        amount=12000,
        credits=Decimal("10.5"),
        validity_days=365,
        created_at=NOW,
    )

    public = purchase.public()

    assert "member_id" not in public
    assert (public["status"], public["credits"]) == ("pending", Decimal("10.5"))


def test_a_booking_is_refunded_under_one_stripe_idempotency_key() -> None:
    assert booking_refund_key("bk-1") == "booking-bk-1-refund"


def dispute(status: str) -> Dispute:
    return Dispute(
        id="dp_1",
        intent_id="pi_1",
        kind="booking",
        subject_id="bk_1",
        member_id="m-1",
        operator_id="op_1",
        amount=1500,
        reason="fraudulent",
        status=status,
        created_at=NOW,
    )


def test_a_dispute_only_goes_forward_from_an_inquiry_to_a_chargeback_to_its_end() -> None:
    order = [
        "warning_needs_response",
        "warning_under_review",
        "needs_response",
        "under_review",
        "lost",
    ]
    stages = [dispute(status).stage for status in order]
    assert stages == sorted(stages) and len(set(stages)) == len(stages)
    assert {dispute(s).stage for s in ("won", "warning_closed", "charge_refunded")} == {
        dispute("lost").stage
    }
    assert dispute("lost").closed and not dispute("under_review").closed
    assert dispute("some_new_status").stage == dispute("needs_response").stage
