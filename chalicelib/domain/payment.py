"""Payments received through Stripe, their refunds, and credit-pack purchases.

A `Payment` is kept for every PaymentIntent, a `Refund` for every refund; the
invoicing side turns them into invoices, credit notes and ledger entries.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

PaymentKind = Literal["booking", "purchase", "membership"]


class Stored(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)


class PaymentStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"


class OfAPayment(Stored):
    """What a payment, and each refund or dispute of it, names: its intent, what it paid
    for (`kind`, `subject_id`), whose it is and the amount (cents)."""

    intent_id: str
    kind: PaymentKind
    subject_id: str
    member_id: str
    operator_id: str
    amount: int


class Payment(OfAPayment):
    currency: str = "EUR"
    description: str
    status: PaymentStatus = PaymentStatus.pending
    created_at: datetime
    succeeded_at: datetime | None = None
    charge_id: str | None = None
    refunded_amount: int = 0
    disputed: bool = False
    failure_message: str | None = None
    # How the money came ("card", "sepa_debit"), when the payment records it (membership
    # charges do; older records and other payments have None).
    payment_method_type: str | None = None

    @property
    def fully_refunded(self) -> bool:
        return self.refunded_amount >= self.amount > 0


# A refund Stripe could not make (the card closed, the account gone): the money came back
# to the balance and the member is owed it; the credit note stands.
REFUND_NOT_MADE = frozenset({"failed", "canceled"})


class Refund(OfAPayment):
    id: str
    status: str
    reason: str
    created_at: datetime
    failure_reason: str | None = None  # Stripe's, once it `failed` (or was `canceled`)
    failed_at: datetime | None = None
    # False: Stripe said it failed before Relais took it as made (no credit note, not in
    # the payment's `refunded_amount`): kept so that a stale event listing it as made is
    # not believed, and so that its balance transactions are attributed.
    credited: bool = True
    # A failed refund the accountant paid by bank transfer: `reference`, `paid_on`,
    # `recorded_at`, `recorded_by` (services/refund_transfers.py).
    transfer: dict[str, Any] | None = None

    @property
    def made(self) -> bool:
        return self.status not in REFUND_NOT_MADE


# A dispute's statuses after which nothing more happens (Stripe's; `warning_closed`: an
# inquiry that never became a chargeback; `charge_refunded`: closed by a refund).
DISPUTE_CLOSED = frozenset({"won", "lost", "warning_closed", "prevented", "charge_refunded"})
# How far a dispute went, by status (a closed one is `DISPUTE_CLOSED_STAGE`): an inquiry
# (`warning_*`) can become a chargeback (`needs_response`), never the other way.
DISPUTE_STAGES = {
    "warning_needs_response": 0,
    "warning_under_review": 1,
    "needs_response": 2,
    "under_review": 3,
}
DISPUTE_CLOSED_STAGE = 4


class Dispute(OfAPayment):
    """A payment the customer's bank disputes (Stripe's Dispute), as its events said.
    Stripe takes the amount and a fee out of the balance when it is opened (an
    `adjustment` balance transaction), and puts the amount back if it is won."""

    id: str
    reason: str
    status: str
    created_at: datetime
    closed_at: datetime | None = None
    respond_by: datetime | None = None  # Stripe's deadline for the evidence

    @property
    def closed(self) -> bool:
        return self.status in DISPUTE_CLOSED

    @property
    def stage(self) -> int:
        """How far the dispute went (`DISPUTE_STAGES`; an unknown status as a chargeback
        opened): Stripe does not order its events, and a dispute never goes back."""
        return DISPUTE_CLOSED_STAGE if self.closed else DISPUTE_STAGES.get(self.status, 2)


class PurchaseStatus(StrEnum):
    pending = "pending"
    completed = "completed"
    refunded = "refunded"


class Purchase(Stored):
    id: str
    member_id: str
    product_id: str
    operator_id: str
    status: PurchaseStatus = PurchaseStatus.pending
    amount: int
    # What was sold, frozen at the purchase (its invoice's line; None: bought before)
    vat_rate: Decimal | None = None
    product_name: str | None = None
    credits: Decimal
    validity_days: int
    payment_intent_id: str | None = None
    created_at: datetime
    completed_at: datetime | None = None

    def public(self) -> dict[str, object]:
        data = self.model_dump(mode="json", exclude={"member_id", "vat_rate", "product_name"})
        data["credits"] = self.credits
        return data


def booking_refund_key(booking_id: str) -> str:
    """Stripe idempotency key of a booking's refund: one refund per booking, ever."""
    return f"booking-{booking_id}-refund"
