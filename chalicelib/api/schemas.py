"""Shapes of the answers, for the OpenAPI document (the services build plain dicts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, RootModel

from chalicelib.domain.booking import BookingStatus, PaymentMethod, Unit
from chalicelib.domain.catalogue import Closure, Relay, Resource


class Out(BaseModel):
    model_config = ConfigDict(defer_build=True)


class PriceOut(Out):
    amount: int
    currency: Literal["EUR"]
    amount_excl_vat: int
    vat_amount: int
    vat_rate: str


class RefundOut(Out):
    amount: int
    status: str


class BookingOut(Out):
    id: str
    member_id: str
    relay_id: str
    resource_id: str
    date: date
    unit: Unit
    start: datetime
    end: datetime
    status: BookingStatus
    price: PriceOut
    payment_method: PaymentMethod
    credits_used: float
    hold_expires_at: datetime | None = None
    invoice_id: str | None = None
    payment_intent_id: str | None = None
    company_id: str | None = None
    membership_id: str | None = None
    created_at: datetime
    cancelled_at: datetime | None = None
    checked_in_at: datetime | None = None
    disputed: bool = False
    # A cancellation's refund: `pending`, `succeeded`, then `failed` if the bank refused
    # it (the member is then paid another way), `transferred` once paid by bank transfer.
    refund: RefundOut | None = None


class CardPayment(Out):
    provider: Literal["stripe"]
    payment_intent_id: str
    client_secret: str
    amount: int
    currency: Literal["EUR"]


class BookingAnswer(Out):
    booking: BookingOut
    payment: CardPayment | None


class CancelAnswer(Out):
    booking: BookingOut
    refund: RefundOut | None
    credits_restored: float
    credit_note_id: str | None


class RelayOut(Relay):
    resources: list[Resource]
    distance_km: float | None = None


class SlotOut(Out):
    start: str
    end: str
    free: int
    past: bool = False  # only written true: over by the clock, no hour booking starts in it


class ResourceDay(Out):
    resource_id: str
    name: str
    kind: str
    capacity: int
    slots: list[SlotOut]


class RelayDay(Out):
    relay_id: str
    name: str
    open: bool
    opening_hours: list[list[str]]
    resources: list[ResourceDay]
    distance_km: float | None = None


class AvailabilityOut(Out):
    date: date
    relays: list[RelayDay]


class PackOut(Out):
    purchase_id: str
    product_id: str
    credits_total: float
    credits_remaining: float
    expires_at: datetime


class WalletOut(Out):
    credits_remaining: float
    packs: list[PackOut]


class PurchaseOut(Out):
    id: str
    product_id: str
    operator_id: str
    status: Literal["pending", "completed", "refunded"]
    amount: int
    credits: float
    validity_days: int
    payment_intent_id: str | None
    created_at: datetime
    completed_at: datetime | None = None


class PurchaseAnswer(Out):
    purchase: PurchaseOut
    payment: CardPayment


class DocumentLine(Out):
    description: str
    quantity: str
    unit_price_excl_vat: int
    vat_rate: str
    amount_excl_vat: int
    vat_amount: int
    amount_incl_vat: int
    service_date: date


class Totals(Out):
    excl_vat: int
    vat: int
    incl_vat: int


class VatLine(Out):
    rate: str
    base: int
    vat: int


class DocumentPayment(Out):
    status: Literal["paid", "due"]
    method: str
    paid_at: datetime | None
    provider_ref: str | None
    due_date: date | None = None


class InvoiceOut(Out):
    id: str
    number: str
    type: Literal["invoice", "credit_note"]
    operator_id: str
    member_id: str | None
    issued_at: datetime
    seller: dict[str, Any]
    buyer: dict[str, Any]
    lines: list[DocumentLine]
    totals: Totals
    vat_breakdown: list[VatLine]
    currency: Literal["EUR"]
    payment: DocumentPayment
    refers_to: str | None
    refers_to_number: str | None
    refers_to_date: date | None
    legal_mentions: list[str]
    hash: str
    previous_hash: str


class VatReport(Out):
    operator_id: str
    month: str
    currency: Literal["EUR"]
    lines: list[VatLine]
    total_vat: int


class IntegrityReport(Out):
    ok: bool
    documents_checked: int
    first_broken_number: str | None


class ClearingBalance(Out):
    from_operator_id: str
    to_operator_id: str
    amount: int
    currency: Literal["EUR"]


class ClearingFlow(Out):
    seller_operator_id: str
    host_operator_id: str
    amount: int
    currency: Literal["EUR"]
    bookings: int


class ClearingReport(Out):
    month: str
    flows: list[ClearingFlow]
    balances: list[ClearingBalance]


class JobAnswer(Out):
    model_config = ConfigDict(defer_build=True, extra="allow")
    job: str
    processed: int


class Health(Out):
    status: Literal["ok"]
    version: str


class OpenApiDocument(Out):
    model_config = ConfigDict(defer_build=True, extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


class WebhookAnswer(Out):
    received: bool
    duplicate: bool = False
    outcome: str | None = None


class PayoutOut(Out):
    """An operator's part of a Stripe payout (`amount`; `payout_amount`: the whole). A
    payout that came back (`status` `failed` / `canceled`) did not reach the bank: its
    entry is reversed and its money is in a later payout's `returned`."""

    id: str
    amount: int
    payout_amount: int
    arrival_date: date | str
    status: str
    gross: int
    fees: int
    refunds: int
    disputed: int  # taken out by disputes, less what they put back
    returned: int  # of payouts that came back, paid out again in this one
    net: int  # gross − fees − refunds − disputed + returned
    matched: bool


class PaidByTransfer(Out):
    reference: str
    paid_on: date


class OfAPaymentOut(Out):
    """The payment a refund or dispute is of, and its amount."""

    payment_intent_id: str
    kind: str
    subject_id: str
    member_id: str
    amount: int
    currency: str


class FailedRefundOut(OfAPaymentOut):
    """A refund Stripe could not make (`failed`, `canceled`): the customer is owed
    `amount`, to pay another way (`POST /v1/invoices/{credit_note_id}/refund-transfer`
    records it: `transfer`); the credit note stands."""

    refund_id: str
    status: str
    failure_reason: str | None
    created_at: datetime
    failed_at: datetime | None
    credit_note_id: str | None
    transfer: PaidByTransfer | None = None


class DisputeOut(OfAPaymentOut):
    """A payment the customer's bank disputes, as Stripe's last event about it said
    (`lost`: the customer owes the amount again, on the invoice's piece)."""

    dispute_id: str
    reason: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    respond_by: datetime | None  # Stripe's deadline for the evidence (Dashboard)
    invoice_id: str | None


class ReconciliationReport(Out):
    payouts: list[PayoutOut]
    unmatched_payments: list[dict[str, Any]]
    unpaid_invoices: list[dict[str, Any]]
    failed_refunds: list[FailedRefundOut] = []
    disputes: list[DisputeOut] = []
    ok: bool


class ClosureBatch(Out):
    """The closures a range or a year's public holidays made (days already closed skipped)."""

    closures: list[Closure]
    cancelled_bookings: int


class ClosureCreated(RootModel):  # `root` annotated below
    """`{date, reason}` → the closure with `cancelled_bookings`; `{from, to, reason}` or
    `{public_holidays}` → the closures made and how many bookings they cancelled."""

    # Not `RootModel[Closure | ClosureBatch]`: that parametrised class would be built at
    # import; this one is built on first use, like the other answers.
    model_config = ConfigDict(defer_build=True)
    root: Closure | ClosureBatch
