"""The fake Stripe gateway with a balance: charges and refunds as balance transactions with
fees (1.5 % + 0.25 €, EU cards), and payouts that list what they paid out — what
localstripe cannot do (its fees are 0 and its payouts are manual, so not itemized).

Lists are newest first and paged with `starting_after`, as Stripe's are; each event is
one minute after the previous one, from `start` (Unix time).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.errors import PaymentProviderError, PaymentProviderUnavailable
from tests.support.fake_stripe import FakeGateway, FakeRefund

TWO_DAYS = 2 * 86400


@dataclass(frozen=True)
class FakeBalanceTransaction:
    id: str
    amount: int
    fee: int
    net: int
    type: str
    source: str | None
    created: int


@dataclass(frozen=True)
class FakePayout:
    id: str
    amount: int
    arrival_date: int
    status: str
    created: int
    reconciliation_status: str = "completed"


def card_fee(amount: int) -> int:
    return (amount * 15 + 500) // 1000 + 25


class LedgerFakeGateway(FakeGateway):
    def __init__(self, start: int) -> None:
        super().__init__()
        self.balance: list[FakeBalanceTransaction] = []  # oldest first
        self.payouts: list[FakePayout] = []
        self.paid_out: dict[str, list[str]] = {}  # payout id -> its transaction ids
        self.manual_payouts: set[str] = set()
        self.disputes: dict[str, dict[str, Any]] = {}  # as Stripe would answer them
        self.page_requests: list[str | None] = []  # `starting_after` of each balance page
        self.fail_once_after_first_page = False
        self._clock = itertools.count(start, 60)
        self._txn_ids = itertools.count(1)

    # -- money moving: the balance follows ------------------------------------------------
    def succeed(self, intent_id: str) -> dict[str, Any]:
        event = super().succeed(intent_id)
        charge = event["latest_charge"]
        if not any(t.source == charge for t in self.balance):
            fee = card_fee(event["amount"])
            self._add(event["amount"], fee, "charge", charge)
        return event

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int | None,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> FakeRefund:
        known = set(self.refunds)
        refund = super().create_refund(
            payment_intent_id=payment_intent_id,
            amount=amount,
            idempotency_key=idempotency_key,
            metadata=metadata,
        )
        if refund.id not in known:
            self._add(-refund.amount, 0, "refund", refund.id)
        return refund

    def fail_refund(
        self, refund_id: str, reason: str = "expired_or_canceled_card", days_later: int = 0
    ) -> dict[str, Any]:
        """The refund fails (`days_later` than the last transaction): its money comes back
        to the balance (`refund_failure`)."""
        event = super().fail_refund(refund_id, reason)
        if days_later:
            self._clock = itertools.count(next(self._clock) + days_later * 86400, 60)
        self._add(event["amount"], 0, "refund_failure", refund_id)
        return event

    def fail_debit(self, intent_id: str) -> dict[str, Any]:
        """A debit Stripe showed in the balance fails (SEPA: the bank refuses it days
        later): its money is taken back (`payment_failure_refund`, source: the charge).
        Answers the intent as a `payment_intent.payment_failed` event object."""
        intent = replace(self.intents[intent_id], status="requires_payment_method")
        self.intents[intent_id] = intent
        charge = f"ch_{intent_id}"
        self._add(intent.amount, 0, "payment", charge)
        self._add(-intent.amount, 0, "payment_failure_refund", charge)
        return {
            "id": intent_id,
            "object": "payment_intent",
            "status": "requires_payment_method",
            "amount": intent.amount,
            "currency": "eur",
            "metadata": intent.metadata,
            "latest_charge": charge,
            "last_payment_error": {"code": "insufficient_funds", "message": "Refused."},
        }

    def open_dispute(self, intent_id: str, fee: int = 1500) -> dict[str, Any]:
        """The customer's bank disputes the payment: Stripe takes its amount and a dispute
        fee out of the balance (an `adjustment`, source: the dispute). Answers the dispute
        as a `charge.dispute.created` event object."""
        charge = self.charge_of(intent_id)
        dispute_id = f"dp_{len(self.disputes) + 1}"
        txn = self._add(-charge.amount, fee, "adjustment", dispute_id)
        self.disputes[dispute_id] = {
            "id": dispute_id,
            "object": "dispute",
            "amount": charge.amount,
            "currency": "eur",
            "charge": charge.source,
            "payment_intent": intent_id,
            "reason": "fraudulent",
            "status": "needs_response",
            "created": txn.created,
            "evidence_details": {"due_by": txn.created + 14 * 86400},
        }
        return dict(self.disputes[dispute_id])

    def close_dispute(
        self, dispute: dict[str, Any], *, won: bool, fee_back: int = 0
    ) -> dict[str, Any]:
        """The dispute closes: won, Stripe puts the amount back (and `fee_back` of its fee,
        where it does); lost, nothing moves. Answers the `charge.dispute.closed` object."""
        if won:
            self._add(dispute["amount"], -fee_back, "adjustment", dispute["id"])
        self.disputes[dispute["id"]] = {**dispute, "status": "won" if won else "lost"}
        return dict(self.disputes[dispute["id"]])

    def retrieve_dispute(self, dispute_id: str) -> dict[str, Any]:
        self._check("retrieve_dispute")
        if dispute_id not in self.disputes:
            return super().retrieve_dispute(dispute_id)
        return dict(self.disputes[dispute_id])

    def charge_of(self, intent_id: str) -> FakeBalanceTransaction:
        return next(t for t in self.balance if t.source == f"ch_{intent_id}")

    def pay_out(
        self,
        transactions: list[FakeBalanceTransaction] | None = None,
        *,
        amount: int | None = None,
        status: str = "paid",
        manual: bool = False,
        reconciliation_status: str = "completed",
    ) -> FakePayout:
        """A payout of `transactions` (default: all not paid out yet); `amount` defaults to
        their net, as Stripe's would be."""
        already = {t for ids in self.paid_out.values() for t in ids}
        items = transactions or [
            t for t in self.balance if t.type != "payout" and t.id not in already
        ]
        total = sum(t.net for t in items) if amount is None else amount
        created = next(self._clock)
        payout = FakePayout(
            f"po_{len(self.payouts) + 1}",
            total,
            created + TWO_DAYS,
            status,
            created,
            reconciliation_status,
        )
        self.payouts.append(payout)
        own = self._add(-total, 0, "payout", payout.id)
        self.paid_out[payout.id] = [t.id for t in items] + [own.id]
        if manual:
            self.manual_payouts.add(payout.id)
        return payout

    def return_payout(
        self, payout_id: str, *, status: str = "failed", days_later: int = 0
    ) -> FakeBalanceTransaction:
        """The payout comes back (`days_later` than the last transaction): the bank refuses
        it (`failed`, even once `paid`) or Stripe cancels it (`canceled`). Its money is in
        the balance again (`payout_failure` / `payout_cancel`, source: the payout), and the
        next payout pays it out."""
        payout = next(p for p in self.payouts if p.id == payout_id)
        if days_later:
            self._clock = itertools.count(next(self._clock) + days_later * 86400, 60)
        self.payouts = [replace(p, status=status) if p.id == payout_id else p for p in self.payouts]
        kind = "payout_failure" if status == "failed" else "payout_cancel"
        return self._add(payout.amount, 0, kind, payout_id)

    def finish_reconciling(self, payout_id: str) -> None:
        """Stripe's reconciliation of the payout is completed."""
        self.payouts = [
            replace(p, reconciliation_status="completed") if p.id == payout_id else p
            for p in self.payouts
        ]

    def _add(self, amount: int, fee: int, kind: str, source: str) -> FakeBalanceTransaction:
        txn = FakeBalanceTransaction(
            f"txn_{next(self._txn_ids)}", amount, fee, amount - fee, kind, source, next(self._clock)
        )
        self.balance.append(txn)
        return txn

    # -- the reconciliation reads ---------------------------------------------------------
    def list_balance_transactions(
        self, *, starting_after: str | None, limit: int = 100, payout: str | None = None
    ) -> tuple[list[FakeBalanceTransaction], bool]:
        self._check("list_balance_transactions")
        if payout is None:
            self.page_requests.append(starting_after)
            if starting_after is not None and self.fail_once_after_first_page:
                self.fail_once_after_first_page = False
                raise PaymentProviderUnavailable("Stripe timed out on page 2 (fake).")
            return _page(list(reversed(self.balance)), starting_after, limit)
        ids = self.paid_out[payout]
        return _page([t for t in reversed(self.balance) if t.id in ids], starting_after, limit)

    def list_payouts(
        self, *, starting_after: str | None, limit: int = 100
    ) -> tuple[list[FakePayout], bool]:
        self._check("list_payouts")
        return _page(list(reversed(self.payouts)), starting_after, limit)

    def list_payout_transactions(
        self, payout_id: str, *, starting_after: str | None, limit: int = 100
    ) -> tuple[list[FakeBalanceTransaction], bool]:
        if payout_id in self.manual_payouts:
            raise PaymentProviderError("payout= is for automatic payouts only (fake).")
        return self.list_balance_transactions(
            starting_after=starting_after, limit=limit, payout=payout_id
        )


def _page(items: list[Any], starting_after: str | None, limit: int) -> tuple[list[Any], bool]:
    start = 0
    if starting_after is not None:
        start = next(i for i, item in enumerate(items) if item.id == starting_after) + 1
    return items[start : start + limit], start + limit < len(items)
