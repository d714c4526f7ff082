"""Invariants on the money in the table, checked after a test has moved some.

"A payment never goes unaccounted for" (API.md, Bookings). Every succeeded payment
ends in exactly one of:

- the booking it pays is confirmed / checked_in / completed / no_show with that intent;
- the purchase it pays is completed and its credit pack was granted;
- refunds recorded for it sum to its amount.

Two more ends follow from the contract and are accepted as well (each named in the
messages): the booking was cancelled *after* the free-cancellation deadline and nothing is
owed ("later -> cancelled, nothing refunded": the money is kept by policy); or the booking
was cancelled with its full amount owed as a refund that is queued for retry (Stripe was
down: `refund_due` on the booking and a REFUNDS_DUE marker).

And no card booking holds a paid-for status without a succeeded payment record behind it.

Reads the whole table with a Scan: fine in tests, never on a request path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.services.context import Context

# A booking in one of these statuses has used (or is using) the seat it was paid for.
PAID_FOR_STATUSES = frozenset({"confirmed", "checked_in", "completed", "no_show"})
# Refunds that moved, or are moving, money back to the customer.
VOID_REFUND_STATUSES = frozenset({"failed", "canceled"})


def scan_items(ctx: Context) -> Iterator[dict[str, Any]]:
    """Every item of the table (follows the Scan's pages)."""
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        response = ctx.table.table.scan(**kwargs)
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def money_violations(ctx: Context) -> list[str]:
    """Every breach of the money invariants, one readable line each (empty: all is well)."""
    by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in scan_items(ctx):
        by_entity[str(item.get("entity", ""))].append(item)

    bookings = {b["id"]: b for b in by_entity["booking"]}
    purchases = {p["id"]: p for p in by_entity["purchase"]}
    payments = {p["intent_id"]: p for p in by_entity["payment"]}
    packs_by_purchase = {p["purchase_id"] for p in by_entity["pack"]}
    refunds_queued = {i["SK"] for i in by_entity[""] if i.get("PK") == "REFUNDS_DUE"}
    free_hours = timedelta(hours=ctx.settings.cancel_free_hours)
    refunded: dict[str, int] = defaultdict(int)
    for refund in by_entity["refund"]:
        if refund.get("status") not in VOID_REFUND_STATUSES:
            refunded[refund["intent_id"]] += int(refund["amount"])

    violations: list[str] = []
    for intent_id, payment in sorted(payments.items()):
        recorded = int(payment.get("refunded_amount") or 0)
        if recorded != refunded[intent_id]:
            violations.append(
                f"payment {intent_id}: refunded_amount {recorded} but refund records sum to "
                f"{refunded[intent_id]}"
            )
        if payment.get("status") != "succeeded":
            continue
        amount = int(payment["amount"])
        kind, subject = payment.get("kind"), payment.get("subject_id")
        ends = []
        if kind == "booking":
            booking = bookings.get(subject)
            if (
                booking is not None
                and booking.get("status") in PAID_FOR_STATUSES
                and booking.get("payment_intent_id") == intent_id
            ):
                ends.append(f"booking {subject} {booking['status']}")
            elif booking is not None and booking.get("status") == "cancelled":
                if _kept_by_policy(booking, free_hours) and not refunded[intent_id]:
                    ends.append(f"booking {subject} cancelled late, kept by policy")
                if (
                    int(booking.get("refund_due") or 0) == amount
                    and subject in refunds_queued
                    and not refunded[intent_id]
                ):
                    ends.append(f"booking {subject} cancelled, refund of {amount} queued")
        if kind == "purchase":
            purchase = purchases.get(subject)
            if (
                purchase is not None
                and purchase.get("status") == "completed"
                and subject in packs_by_purchase
            ):
                ends.append(f"purchase {subject} completed with its pack")
        if amount > 0 and refunded[intent_id] == amount:
            ends.append(f"refunded in full ({amount})")
        if len(ends) != 1:
            violations.append(
                f"succeeded payment {intent_id} ({kind} {subject}, {amount} cents, "
                f"refunds {refunded[intent_id]}): "
                + (
                    "accounted for by nothing"
                    if not ends
                    else "accounted for twice: " + "; ".join(ends)
                )
                + _describe_subject(kind, subject, bookings, purchases)
            )

    for booking_id, booking in sorted(bookings.items()):
        amount = Decimal(str((booking.get("price") or {}).get("amount", 0)))
        if (
            booking.get("payment_method") != "card"
            or booking.get("status") not in PAID_FOR_STATUSES
            or amount <= 0
        ):
            continue
        intent_id = booking.get("payment_intent_id")
        payment = payments.get(intent_id) if intent_id else None
        if payment is None or payment.get("status") != "succeeded":
            state = "no payment record" if payment is None else f"payment {payment.get('status')}"
            violations.append(
                f"booking {booking_id} is {booking['status']} by card (intent {intent_id}) "
                f"with {state}"
            )
    return violations


def _kept_by_policy(booking: dict[str, Any], free_hours: timedelta) -> bool:
    """Cancelled after the free-cancellation deadline with no refund owed."""
    cancelled_at = booking.get("cancelled_at")
    if not cancelled_at or booking.get("refund_due"):
        return False
    start = datetime.fromisoformat(booking["start"])
    return datetime.fromisoformat(cancelled_at) > start - free_hours


def _describe_subject(
    kind: Any, subject: Any, bookings: dict[str, Any], purchases: dict[str, Any]
) -> str:
    if kind == "booking":
        booking = bookings.get(subject)
        if booking is None:
            return " — booking missing"
        return f" — booking {booking.get('status')}, intent {booking.get('payment_intent_id')}"
    if kind == "purchase":
        purchase = purchases.get(subject)
        return f" — purchase {purchase.get('status') if purchase else 'missing'}"
    return ""


def assert_money_accounted_for(ctx: Context) -> None:
    """Raise AssertionError listing every payment or booking that breaks the invariants."""
    violations = money_violations(ctx)
    if violations:
        raise AssertionError(
            f"{len(violations)} money invariant violation(s):\n  " + "\n  ".join(violations)
        )
