"""The accountants' reconciliation report (`GET /v1/accounting/reconciliation`): an
operator's part of each Stripe payout (what `reconciliation.reconcile_payments` recorded,
split and booked), the succeeded payments Stripe's balance or the invoices do not show,
the invoices not paid in full, the refunds the bank refused and the disputes, over a span
of Paris dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalicelib.adapters.reconciliation_store import UNATTRIBUTED, ReconciliationStore
from chalicelib.domain.documents import Document
from chalicelib.domain.payment import PaymentStatus
from chalicelib.domain.timezones import PARIS
from chalicelib.errors import NotFound
from chalicelib.services.context import Context
from chalicelib.services.reconciliation import COLUMNS, FAILED_REFUND_LOOKBACK

# The payment store keys payments by `created_at` as the clock wrote it (UTC in production,
# any offset in tests); a span of instants is read this much wider, then cut exactly.
KEY_OFFSET_SLACK = timedelta(hours=14)
# Disputes closed before their close was indexed (GSI2, session 15) are found by their
# opening: those that closed within this long of it (most are decided within 75 days).
UNINDEXED_CLOSE_SPAN = timedelta(days=120)


def reconciliation_report(
    ctx: Context, operator_id: str, span: tuple[date | None, date | None]
) -> dict[str, Any]:
    """An operator's payouts (its part of each), succeeded payments Stripe's balance or the
    invoices do not show, and issued invoices not paid, over a span of dates."""
    catalogue = ctx.catalogue
    if not (
        operator_id in catalogue.get().operators
        or operator_id in catalogue.get(fresh=True).operators
    ):
        raise NotFound(f"No operator with id {operator_id!r}.")
    low = span[0].isoformat() if span[0] else "0000"
    high = span[1].isoformat() if span[1] else "9999"
    store = ctx.reconciliation
    parts = store.payout_parts(operator_id, low, high) + [
        part
        for part in store.payout_parts(UNATTRIBUTED, low, high)
        if not part.get("operators")  # nobody's: shown to every operator
    ]
    payouts = [
        _payout_view(p) for p in sorted(parts, key=lambda p: (p["arrival_date"], p["payout_id"]))
    ]
    unmatched = _unmatched_payments(ctx, store, operator_id, _instants(span))
    unpaid = _unpaid_invoices(ctx, operator_id, low, high)
    return {
        "operator_id": operator_id,
        "from": span[0],
        "to": span[1],
        "currency": "EUR",
        "payouts": payouts,
        "unmatched_payments": unmatched,
        "unpaid_invoices": unpaid,
        "failed_refunds": _failed_refunds(ctx, store, operator_id, _instants(span)),
        "disputes": _disputes(ctx, store, operator_id, _instants(span)),
        "ok": all(p["matched"] for p in payouts) and not unmatched and not unpaid,
    }


def _payout_view(part: dict[str, Any]) -> dict[str, Any]:
    view = {"id": part["payout_id"], "arrival_date": part["arrival_date"]}
    for key in ("amount", "payout_amount", *COLUMNS):
        view[key] = int(part.get(key, 0))  # `returned` is younger than the parts before it
    return {**view, "currency": "EUR", "status": part["status"], "matched": bool(part["matched"])}


def _instants(span: tuple[date | None, date | None]) -> tuple[datetime | None, datetime | None]:
    """An inclusive span of Paris dates as instants: from Paris midnight of its first day
    (included) to Paris midnight after its last day (excluded)."""
    start = _paris_midnight(span[0]) if span[0] else None
    end = _paris_midnight(span[1] + timedelta(days=1)) if span[1] else None
    return start, end


def _paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), PARIS).astimezone(UTC)


def _key_span(span: tuple[datetime | None, datetime | None]) -> tuple[str, str]:
    """GSI1SK is `created_at` as text: the wall-clock span to read, widened by any UTC
    offset a stored key may carry (the caller then keeps exactly [start, end))."""
    start, end = span
    low = (start - KEY_OFFSET_SLACK).isoformat() if start else "0000"
    high = (end + KEY_OFFSET_SLACK).isoformat() if end else "9999"
    return low, high


def _within(moment: datetime, span: tuple[datetime | None, datetime | None]) -> bool:
    start, end = span
    return (start is None or moment >= start) and (end is None or moment < end)


def _unmatched_payments(
    ctx: Context,
    store: ReconciliationStore,
    operator_id: str,
    span: tuple[datetime | None, datetime | None],
) -> list[dict[str, Any]]:
    """Succeeded payments made within the span (instants: `created_at` is compared as a
    moment, never as text against dates)."""
    payments = [
        p
        for p in store.payments(operator_id, *_key_span(span))
        if p.status is PaymentStatus.succeeded and _within(p.created_at, span)
    ]
    charged = store.charged_intents(p.intent_id for p in payments)
    invoices = ctx.invoices
    unmatched = []
    for payment in payments:
        reasons = [] if payment.intent_id in charged else ["no_balance_transaction"]
        if invoices.by_source(f"payment-{payment.intent_id}") is None:
            reasons.append("no_invoice")
        if reasons:
            unmatched.append(
                {
                    "payment_intent_id": payment.intent_id,
                    "charge_id": payment.charge_id,
                    "kind": payment.kind,
                    "subject_id": payment.subject_id,
                    "amount": payment.amount,
                    "currency": payment.currency,
                    "created_at": payment.created_at,
                    "succeeded_at": payment.succeeded_at,
                    "reasons": reasons,
                }
            )
    return unmatched


def _failed_refunds(
    ctx: Context,
    store: ReconciliationStore,
    operator_id: str,
    span: tuple[datetime | None, datetime | None],
) -> list[dict[str, Any]]:
    """Refunds that failed within the span (made up to `FAILED_REFUND_LOOKBACK` before
    it): each customer is owed its amount, to pay another way (the credit note stands)."""
    start, end = span
    made_from = (start - FAILED_REFUND_LOOKBACK) if start else None
    failed = [
        r
        for r in store.refunds(operator_id, *_key_span((made_from, end)))
        if not r.made and r.credited and _within(r.failed_at or r.created_at, span)
    ]
    return [
        {
            "refund_id": refund.id,
            "payment_intent_id": refund.intent_id,
            "kind": refund.kind,
            "subject_id": refund.subject_id,
            "member_id": refund.member_id,
            "amount": refund.amount,
            "currency": "EUR",
            "status": refund.status,
            "failure_reason": refund.failure_reason,
            "created_at": refund.created_at,
            "failed_at": refund.failed_at,
            "credit_note_id": ctx.invoices.by_source(f"refund-{refund.id}"),
            "transfer": (
                {k: refund.transfer[k] for k in ("reference", "paid_on")}
                if refund.transfer
                else None
            ),
        }
        for refund in failed
    ]


def _disputes(
    ctx: Context,
    store: ReconciliationStore,
    operator_id: str,
    span: tuple[datetime | None, datetime | None],
) -> list[dict[str, Any]]:
    """Disputes opened or closed within the span (however long one stayed open), as their
    last event left them: a `lost` one is money the customer owes again (their account is
    open on the invoice's piece)."""
    low, high = _key_span(span)
    opened_from, _ = _key_span((span[0] - UNINDEXED_CLOSE_SPAN if span[0] else None, span[1]))
    found = {dispute.id: dispute for dispute in store.disputes(operator_id, opened_from, high)}
    found.update(  # closed within the span: read after, so the later state wins
        (dispute.id, dispute) for dispute in store.closed_disputes(operator_id, low, high)
    )
    disputes = sorted(found.values(), key=lambda dispute: (dispute.created_at, dispute.id))
    return [
        {
            "dispute_id": dispute.id,
            "payment_intent_id": dispute.intent_id,
            "kind": dispute.kind,
            "subject_id": dispute.subject_id,
            "member_id": dispute.member_id,
            "amount": dispute.amount,
            "currency": "EUR",
            "reason": dispute.reason,
            "status": dispute.status,
            "created_at": dispute.created_at,
            "closed_at": dispute.closed_at,
            "respond_by": dispute.respond_by,
            "invoice_id": ctx.invoices.by_source(f"payment-{dispute.intent_id}"),
        }
        for dispute in disputes
        if _within(dispute.created_at, span)
        or (dispute.closed_at is not None and _within(dispute.closed_at, span))
    ]


def _unpaid_invoices(ctx: Context, operator_id: str, low: str, high: str) -> list[dict[str, Any]]:
    invoices, unpaid, cursor = ctx.invoices, [], None
    while True:
        page, cursor = invoices.page(
            member_id=None,
            operator_id=operator_id,
            span=(low, high),
            doc_type="invoice",
            limit=100,
            cursor=cursor,
        )
        for doc in map(Document.of, page):
            if doc.payment.status == "paid":
                continue
            # A company invoice: what its payments and credit notes leave to pay.
            state = ctx.companies.payment_state(doc.id)
            if state is not None and state["status"] == "paid":
                continue
            unpaid.append(
                {
                    "id": doc.id,
                    "number": doc.number,
                    "issued_at": doc.issued_at,
                    "amount": doc.totals.incl_vat,
                    "amount_remaining": (
                        int(state["amount_due"]) - int(state["amount_paid"])
                        if state is not None
                        else doc.totals.incl_vat
                    ),
                    "currency": doc.currency,
                    "payment_status": state["status"] if state is not None else doc.payment.status,
                }
            )
        if cursor is None:
            return unpaid
