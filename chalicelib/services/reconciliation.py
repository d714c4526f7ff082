"""Stripe reconciliation: the `reconcile_payments` job (its report to the accountants is
`reconciliation_report.py`).

The job reads Stripe's balance transactions and payouts, newest first, page by page
(`starting_after`). Each stream keeps a cursor: a sweep goes down from the newest item
to the watermark of the last finished sweep (less `OVERLAP_SECONDS`), and the cursor is
saved after every page, so a crash resumes where it stopped and a concurrent run stops
instead of rewinding it. Every transaction is recorded once and attributed once to the
operator of the payment or refund behind it; its Stripe fee is booked then
(D 627 / C 467). A paid payout is itemized (the transactions it paid out), split per
operator, and booked per operator (D 512 / C 467, that operator's part) once it adds
up: every item attributed and gross − fees − refunds − disputed + returned = net = amount
(`disputed`: what disputes took out of the balance, less what they put back). What
cannot be attributed yet is retried on later runs (`RETRY` long), then left for the
accountant.

A payout can come back: the bank refuses it (Stripe says some fail days after `paid`) or
Stripe cancels it; a `payout_failure` / `payout_cancel` transaction then puts its money
back in the balance, and a later payout pays it out again. The run marks the payout
returned (status `failed` / `canceled`), reverses what was booked for it (D 467 / C 512
per operator, on the day it came back) and keeps each operator's share of it on the
transaction, so that the later payout, which holds it, splits and matches (`returned`).

Ledger lines carry the `recorded_at` stored with the transaction or payout the first
time it was seen, so writing them again after a crash rewrites the very same lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamo import to_item
from chalicelib.adapters.reconciliation_store import UNATTRIBUTED, Cursor, ReconciliationStore
from chalicelib.domain.bookkeeping import dispute_entry, fee_entry, payout_entry
from chalicelib.domain.documents import Document
from chalicelib.domain.ledger import AccountingSettings, LedgerLine
from chalicelib.domain.payment import REFUND_NOT_MADE, Dispute, Payment, Refund
from chalicelib.domain.timezones import PARIS
from chalicelib.errors import (
    Misconfigured,
    PaymentProviderError,
    PaymentProviderUnavailable,
)
from chalicelib.observability import count as count_metric
from chalicelib.services import (
    accounting_settings,
    invoicing,
    payments,
    periods,
    refund_failures,
)
from chalicelib.services.context import Context
from chalicelib.services.ports import BalanceEntry, PayoutEntry

logger = logging.getLogger("relais.reconciliation")
PAGE_SIZE = 100
OVERLAP_SECONDS = 300  # re-read the edge of the last sweep: Stripe's `created` has seconds
LOOKBACK = timedelta(days=7)  # a charge comes at most this long after its intent was opened
# A refund may fail weeks after it was made (the bank answers late): its `refund_failure`
# is looked for among refunds made this long before it.
FAILED_REFUND_LOOKBACK = timedelta(days=90)
RETRY = timedelta(days=35)  # how long an unexplained transaction or payout is retried
KINDS = {  # Stripe's balance transaction types we attribute (others are left to the accountant)
    "charge": "payment",
    "payment": "payment",
    "refund": "refund",
    "payment_refund": "refund",
    "refund_failure": "refund",  # a refund that failed: its money back (source: the refund)
    # A debit that failed after Stripe showed it (SEPA): its money taken back; attributed
    # to the payment when its source is the charge the failure recorded.
    "payment_failure_refund": "refund",
    "payout": "payout",
    "payout_failure": "payout_return",  # a payout the bank sent back (source: the payout)
    "payout_cancel": "payout_return",  # a payout Stripe cancelled (source: the payout)
}
# An `adjustment` is a dispute's when its source is a dispute (Stripe's ids: dp_, du_).
DISPUTE_PREFIXES = ("dp_", "du_")
RETURNED_STATUS = {"payout_failure": "failed", "payout_cancel": "canceled"}
OPEN_PAYOUT_STATES = frozenset({"pending", "in_transit"})
COLUMNS = ("gross", "fees", "refunds", "disputed", "returned", "net")  # of a payout's part


def reconcile_payments(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    """Pull, record and book what Stripe did; safe to run again, concurrently or after a crash."""
    run = _Run(ctx, as_of or ctx.clock.now())
    run.sweep("balance_transactions", ctx.gateway.list_balance_transactions, run.on_transactions)
    run.attribute(run.store.pending_transactions())
    run.sweep("payouts", ctx.gateway.list_payouts, run.on_payouts)
    for head in run.store.open_payouts():
        if head["id"] not in run.settled_now and head.get("reconciliation") != "in_progress":
            run.settle(head)
    return run.summary()


@dataclass
class _Run:
    ctx: Context
    now: datetime
    counts: dict[str, int] = field(default_factory=dict)
    tried: set[str] = field(default_factory=set)
    settled_now: set[str] = field(default_factory=set)
    interrupted: bool = False
    # Each operator's accounting settings, read once per run.
    settings: dict[str, AccountingSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = self.ctx.reconciliation
        self.index = _Index(self.ctx, self.store)

    def books(self, operator_id: str) -> AccountingSettings:
        if operator_id not in self.settings:
            self.settings[operator_id] = accounting_settings.settings_for(
                self.ctx, operator_id, fresh=False
            )
        return self.settings[operator_id]

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def summary(self) -> dict[str, Any]:
        c = self.counts
        return {
            "job": "reconcile_payments",
            "processed": c.get("balance_transactions", 0) + c.get("payouts_settled", 0),
            "as_of": self.now.isoformat(),
            **{k: c.get(k, 0) for k in ("balance_transactions", "attributed", "fees_booked")},
            **{k: c.get(k, 0) for k in ("payouts_seen", "payouts_settled", "payouts_booked")},
            "payouts_returned": c.get("payouts_returned", 0),
            "interrupted_by_concurrent_run": self.interrupted,
        }

    # -- the two streams --------------------------------------------------------------
    def sweep(
        self,
        stream: str,
        fetch: Callable[..., tuple[Sequence[Any], bool]],
        on_page: Callable[[list[Any]], int | None],
    ) -> None:
        cursor = self.store.cursor(stream)
        mark = None if cursor.watermark is None else cursor.watermark - OVERLAP_SECONDS
        while True:
            page, has_more = fetch(starting_after=cursor.starting_after, limit=PAGE_SIZE)
            floor = on_page([item for item in page if mark is None or item.created >= mark])
            top = (
                cursor.top
                if cursor.top is not None
                else max((i.created for i in page), default=None)
            )
            cursor = cursor.advanced(top=top, floor=_least(cursor.floor, floor))
            done = not page or not has_more or (mark is not None and page[-1].created < mark)
            if done:
                reached = _least(cursor.top, cursor.floor)
                cursor = Cursor(version=cursor.version, watermark=reached or cursor.watermark)
            else:
                cursor = cursor.advanced(starting_after=page[-1].id)
            saved = self.store.save_cursor(stream, cursor)
            if saved is None:  # another run is on this stream: leave it to it
                self.interrupted = True
                return
            if done:
                return
            cursor = saved

    def on_transactions(self, page: list[BalanceEntry]) -> None:
        self.attribute(self.record(page))

    def record(self, page: Sequence[BalanceEntry]) -> list[dict[str, Any]]:
        """Record the transactions not recorded yet; answers those this run recorded."""
        known = self.store.transactions(txn.id for txn in page)
        fresh = [_txn_item(txn, self.now) for txn in page if txn.id not in known]
        recorded = [
            item
            for item in fresh
            if self.store.record_transaction(item, item["state"] == "pending")
        ]
        self.count("balance_transactions", len(recorded))
        return recorded

    def on_payouts(self, page: list[PayoutEntry]) -> int | None:
        """Record each payout's status, settle the paid ones; answers the oldest still open."""
        floor = None
        for payout in page:
            head = self.store.upsert_payout(_payout_item(payout), self.now)
            if head is None:
                continue  # settled for good
            self.count("payouts_seen")
            if payout.status in OPEN_PAYOUT_STATES or _reconciling(payout):
                floor = _least(floor, payout.created)
            elif payout.status == "paid":
                self.settle(head)
        return floor

    # -- transactions to operators ------------------------------------------------------
    def attribute(self, items: list[dict[str, Any]]) -> None:
        todo = [i for i in items if i.get("state") == "pending" and i["id"] not in self.tried]
        self.tried.update(i["id"] for i in todo)
        for item in [i for i in todo if i["kind"] == "payout_return"]:
            self.take_back(item)
        todo = [i for i in todo if i["kind"] != "payout_return"]
        if not todo:
            return
        self.index.cover(min(int(i["created"]) - _lookback(i) for i in todo))
        for item in todo:
            found = self.index.find(item)
            if found is None:
                if item.get("source") in self.index.foreign:
                    self.store.give_up(item["id"])  # left to the accountant
                else:
                    self.give_up_if_old(item)
                continue
            if item["kind"] == "dispute":
                booked = self.book_dispute(item, found)
                if booked is None:  # its payment's invoice is not issued yet: a later run
                    self.give_up_if_old(item)
                    continue
                found = {**found, **({"dispute_entry": booked} if booked else {})}
            if item["type"] == "refund_failure" and "refund_id" in found:
                self.refund_failed(found)
            fee_id = self.book_fee(item, found["operator_id"])
            attribution = {**found, **({"fee_entry": fee_id} if fee_id else {})}
            charge_of = found["intent_id"] if item["kind"] == "payment" else None
            if self.store.attribute(item["id"], attribution, charge_of):
                self.count("attributed")
                self.count("fees_booked", 1 if fee_id else 0)

    def book_fee(self, item: dict[str, Any], operator_id: str) -> str | None:
        fee = int(item["fee"])
        if fee == 0:
            return None
        books = self.books(operator_id)
        day = _paris_day(int(item["created"]))
        lines = fee_entry(operator_id, item["id"], day, fee, books.chart, _at(item), books.journals)
        periods.book(self.ctx, lines)
        return lines[0].entry_id

    def refund_failed(self, found: dict[str, str]) -> None:
        """A refund's `refund_failure` is proof it failed: taken into account as its event
        would have been (once: `refund_not_made` claims its entry, mails once), for when
        that event never came (lost after Stripe's three days of retries)."""
        refund = self.ctx.payments.refund(found["intent_id"], found["refund_id"])
        if refund is None or not refund.made:
            return  # its event came first
        logger.warning("Refund %s failed, seen in Stripe's balance first", refund.id)
        # Stripe's own word if it answers (`failed` or `canceled`, and why), else `failed`.
        told = self.index.ask_stripe(self.ctx.gateway.retrieve_refund, refund.id) or {}
        status = told.get("status") if told.get("status") in REFUND_NOT_MADE else "failed"
        failure = {"id": refund.id, "amount": refund.amount}
        failure["failure_reason"] = told.get("failure_reason")
        refund_failures.refund_not_made(self.ctx, refund.intent_id, failure, str(status))

    def book_dispute(self, item: dict[str, Any], found: dict[str, str]) -> str | None:
        """The money Stripe took out for a dispute, or put back, on its payment's invoice
        (see `dispute_entry`): the entry's id ("" if no money moved, a fee alone); None
        while that invoice is not issued."""
        if int(item["amount"]) == 0:
            return ""
        invoice_id = self.ctx.invoices.by_source(f"payment-{found['intent_id']}")
        if invoice_id is None:
            return None
        invoice = invoicing.get_document(self.ctx, invoice_id)
        books = self.books(found["operator_id"])
        day = _paris_day(int(item["created"]))
        lines = dispute_entry(
            Document.of(invoice),
            str(item["id"]),
            day,
            int(item["amount"]),
            books.chart,
            _at(item),
            books.journals,
        )
        periods.book(self.ctx, lines)
        return lines[0].entry_id

    # -- payouts ------------------------------------------------------------------------
    def settle(self, head: dict[str, Any]) -> None:
        self.settled_now.add(head["id"])
        if not head.get("itemized"):
            self.itemize(head["id"])
        members = [m for m in self.store.payout_members(head["id"]) if m["kind"] != "payout"]
        txns = self.store.transactions(m["id"] for m in members)
        parts, matched, waiting = _split(head, members, txns)
        self.store.put_parts(head, parts)
        if matched:
            for part in parts:
                books = self.books(str(part["operator_id"]))
                periods.book(self.ctx, _payout_lines(head, part, books))
            if not self.store.settle_payout(head["id"], matched=True):
                # It came back while this run booked it: the run that saw it come back may
                # have found nothing booked yet to reverse; this one does what is left.
                self.reverse(self.store.payout(head["id"]) or head, parts)
            self.count("payouts_booked")
        elif waiting and int(head["created"]) >= (self.now - RETRY).timestamp():
            return  # an item's payment may still be recorded: next run
        elif not self.store.settle_payout(head["id"], matched=False):
            # It came back meanwhile: shown so (this run wrote its parts `paid`).
            self.reverse(self.store.payout(head["id"]) or head, parts)
        self.count("payouts_settled")

    def take_back(self, item: dict[str, Any]) -> None:
        """A payout came back (`item`: its `payout_failure` or `payout_cancel`): marked
        returned, reversed if it was booked, and the transaction attributed to the
        operators it paid, each for its share (a later payout pays it out again)."""
        payout_id = str(item.get("source") or "")
        head = self.store.payout(payout_id)
        if head is None:  # the payout stream has not recorded it yet: a later run
            self.give_up_if_old(item)
            return
        if not head.get("itemized"):
            self.itemize(payout_id)
        members = [m for m in self.store.payout_members(payout_id) if m["kind"] != "payout"]
        parts, matched, waiting = _split(
            head, members, self.store.transactions(m["id"] for m in members)
        )
        split_known = matched and sum(int(p["net"]) for p in parts) == int(item["amount"])
        if not split_known and waiting:
            self.give_up_if_old(item)  # an item's payment may still be recorded
            return
        returned = {
            "txn": item["id"],
            "status": RETURNED_STATUS[str(item["type"])],
            "day": _paris_day(int(item["created"])).isoformat(),
            "recorded_at": item["recorded_at"],
        }
        self.reverse(self.store.mark_returned(payout_id, returned), parts)
        split = {str(part["operator_id"]): int(part["net"]) for part in parts}
        if not split_known:  # nobody's share can be named: the accountant's
            noted = self.store.give_up(item["id"])
        else:
            noted = self.store.attribute(item["id"], {"payout_id": payout_id, "split": split}, None)
            self.count("attributed", 1 if noted else 0)
        if noted:  # by this run (another may have done it meanwhile)
            how = "split per operator" if split_known else "unsplit: left to the accountant"
            logger.warning("Payout %s came back (%s), %s", payout_id, returned["status"], how)
            count_metric("PayoutsReturned")
            self.count("payouts_returned")

    def reverse(self, head: dict[str, Any], parts: list[dict[str, Any]]) -> None:
        """A payout that came back (`head["returned"]`): its parts shown with its new
        status (a concurrent run may have written them `paid`), and the reverse booked of
        each part that was booked. Its entry's claim says whether it was, not `matched`:
        a run may have died between booking the payout and settling it."""
        returned = head["returned"]
        parts = [{**part, "status": returned["status"]} for part in parts]
        self.store.put_parts(head, parts)
        for part in parts:
            operator_id = str(part["operator_id"])
            if operator_id == UNATTRIBUTED:
                continue
            if self.ctx.invoices.entry_written(operator_id, f"payout-{head['id']}"):
                books = self.books(operator_id)
                periods.book(self.ctx, _payout_lines(head, part, books, returned))

    def give_up_if_old(self, item: dict[str, Any]) -> None:
        if int(item["created"]) < (self.now - RETRY).timestamp():
            self.store.give_up(item["id"])

    def itemize(self, payout_id: str) -> None:
        """Record what the payout paid out (every page); a payout Stripe cannot itemize
        (a manual one) is left with no items, so it never matches."""
        starting_after, seen = None, 0
        while True:
            try:
                page, has_more = self.ctx.gateway.list_payout_transactions(
                    payout_id, starting_after=starting_after, limit=PAGE_SIZE
                )
            except PaymentProviderError as exc:
                logger.warning("Payout %s cannot be itemized: %s", payout_id, exc.detail)
                break
            self.store.add_payout_members(payout_id, [_txn_item(t, self.now) for t in page])
            self.attribute(self.record(page))
            seen += len(page)
            if not page or not has_more:
                break
            starting_after = page[-1].id
        self.store.mark_itemized(payout_id, itemizable=seen > 0)


class _Index:
    """The payments and refunds a run may attribute transactions to, read per operator
    from the payment store's GSI1 (by creation time), widened as older ones are needed."""

    def __init__(self, ctx: Context, store: ReconciliationStore) -> None:
        self._ctx, self._store = ctx, store
        self._low: str | None = None
        self._payments: dict[str, Payment] = {}  # by charge id and by intent id
        self._refunds: dict[str, Refund] = {}
        # Disputes and refunds Stripe knows of payments Relais does not.
        self.foreign: set[str] = set()

    def cover(self, since: int) -> None:
        """Read what was made from `since` (a timestamp) on, if not read yet."""
        low = datetime.fromtimestamp(since, UTC).isoformat()
        if self._low is not None and low >= self._low:
            return
        for operator_id in sorted(self._ctx.catalogue.get().operators):
            for payment in self._store.payments(operator_id, low, self._low):
                self._payments[payment.intent_id] = payment
                if payment.charge_id:
                    self._payments[payment.charge_id] = payment
            for refund in self._store.refunds(operator_id, low, self._low):
                self._refunds[refund.id] = refund
        self._low = low

    def find(self, item: dict[str, Any]) -> dict[str, str] | None:
        source = str(item.get("source") or "")
        if item["kind"] == "payment" and source in self._payments:
            payment = self._payments[source]
            return {"operator_id": payment.operator_id, "intent_id": payment.intent_id}
        if item["kind"] == "dispute":
            dispute = self._ctx.payments.dispute(source) or self._dispute_from_stripe(source)
            if dispute is None:
                return None
            return {
                "operator_id": dispute.operator_id,
                "intent_id": dispute.intent_id,
                "dispute_id": dispute.id,
            }
        if item["type"] == "payment_failure_refund" and source in self._payments:
            payment = self._payments[source]
            return {"operator_id": payment.operator_id, "intent_id": payment.intent_id}
        if item["type"] in ("refund", "payment_refund") and source not in self._refunds:
            self._refund_from_stripe(source)
        if item["kind"] == "refund" and source in self._refunds:
            refund = self._refunds[source]
            return {
                "operator_id": refund.operator_id,
                "intent_id": refund.intent_id,
                "refund_id": refund.id,
            }
        return None

    def _refund_from_stripe(self, refund_id: str) -> None:
        """A refund Relais has no record of (made in the Dashboard, its `charge.refunded`
        lost after Stripe's three days of retries): asked of Stripe and recorded as that
        event would have (a booking refunded in full cancelled, a pack revoked)."""
        found = self.ask_stripe(self._ctx.gateway.retrieve_refund, refund_id)
        if found is None:
            return
        intent_id = found.get("payment_intent")
        charge = {"payment_intent": intent_id, "refunds": {"data": [found]}}
        if payments.charge_refunded(self._ctx, charge) == "ignored":
            self.foreign.add(refund_id)  # not a payment of Relais: never explained here
            return
        recorded = self._ctx.payments.refund(str(intent_id), refund_id)
        if recorded is None:  # counted already, under the charge's id (not listed then)
            unlisted = [
                r
                for r in self._ctx.payments.refunds(str(intent_id))
                if payments.UNLISTED in r.id and r.credited
            ]
            recorded = unlisted[0] if unlisted else None
        if recorded is None:  # beyond the charge, yet not counted: the accountant's
            self.foreign.add(refund_id)
            return
        logger.warning("Refund %s had no record: read from Stripe", refund_id)
        self._refunds[refund_id] = recorded

    def ask_stripe(self, read: Callable[[str], dict[str, Any]], object_id: str) -> Any:
        """Stripe's object, or None while it cannot answer (or our key may not read it:
        the run goes on, the transaction waits)."""
        try:
            return read(object_id)
        except (PaymentProviderError, PaymentProviderUnavailable, Misconfigured) as exc:
            logger.warning("%s not read from Stripe: %s", object_id, exc.detail)
            return None

    def _dispute_from_stripe(self, dispute_id: str) -> Dispute | None:
        """A dispute its events did not record (lost after Stripe's three days of retries,
        or not subscribed): asked of Stripe and recorded as its event would have."""
        found = self.ask_stripe(self._ctx.gateway.retrieve_dispute, dispute_id)
        if found is None:
            return None
        if payments.dispute_changed(self._ctx, found) == "ignored":
            self.foreign.add(dispute_id)  # not a payment of Relais: never explained here
            return None
        dispute = self._ctx.payments.dispute(dispute_id)
        if dispute is not None and not dispute.closed:
            count_metric("DisputesOpened")  # its event, which counts it, never came
        return dispute


def _lookback(item: dict[str, Any]) -> int:
    """How long before a transaction its payment or refund may have been made, in s."""
    late = item.get("type") in ("refund_failure", "payment_failure_refund")
    span = FAILED_REFUND_LOOKBACK if late else LOOKBACK
    return int(span.total_seconds())


def _split(
    head: dict[str, Any], members: list[dict[str, Any]], txns: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], bool, bool]:
    """(the payout's part per operator, whether it is matched, whether an item may still
    be attributed)."""
    sums: dict[str, dict[str, int]] = {}
    waiting = False
    for member in members:
        txn = txns.get(member["id"], {})
        attributed = txn.get("state") == "attributed"
        waiting = waiting or txn.get("state", "pending") == "pending"
        if member["kind"] == "payout_return" and attributed:
            for operator_id, share in txn["split"].items():  # a payout that came back
                part = sums.setdefault(operator_id, dict.fromkeys(COLUMNS, 0))
                part["returned"] += int(share)
                part["net"] += int(share)
            continue
        operator_id = txn["operator_id"] if attributed else UNATTRIBUTED
        part = sums.setdefault(operator_id, dict.fromkeys(COLUMNS, 0))
        amount = int(member["amount"])
        part["gross"] += amount if member["kind"] == "payment" else 0
        part["refunds"] += -amount if member["kind"] == "refund" else 0
        part["disputed"] += -amount if member["kind"] == "dispute" else 0
        part["fees"] += int(member["fee"])
        part["net"] += int(member["net"])
    amount = int(head["amount"])
    matched = (
        bool(sums)
        and UNATTRIBUTED not in sums
        and sum(p["net"] for p in sums.values()) == amount
        and all(
            p["gross"] - p["fees"] - p["refunds"] - p["disputed"] + p["returned"] == p["net"]
            for p in sums.values()
        )
    )
    sums = sums or {UNATTRIBUTED: dict.fromkeys(COLUMNS, 0)}
    operators = sorted(op for op in sums if op != UNATTRIBUTED)
    parts = [
        {
            "payout_id": head["id"],
            "operator_id": operator_id,
            "amount": amount if len(sums) == 1 else part["net"],
            "payout_amount": amount,
            "arrival_date": _paris_day(int(head["arrival_date"])).isoformat(),
            "status": head["status"],
            "matched": matched,
            "operators": operators,
            **part,
        }
        for operator_id, part in sums.items()
    ]
    return parts, matched, waiting


def _payout_lines(
    head: dict[str, Any],
    part: dict[str, Any],
    books: AccountingSettings,
    returned: dict[str, Any] | None = None,
) -> list[LedgerLine]:
    """An operator's part of a payout booked (D 512 / C 467), or of a payout that came
    back, reversed on the day it did (`returned`: D 467 / C 512)."""
    net = int(part["net"])
    if net == 0:
        return []
    operator_id = part["operator_id"]
    chart, journals = books.chart, books.journals
    if returned is None:
        day, at = date.fromisoformat(part["arrival_date"]), _at(head)
    else:
        day, at = date.fromisoformat(returned["day"]), _at(returned)
    lines = payout_entry(
        operator_id, head["id"], day, abs(net), chart, at, journals, returned is not None
    )
    if net < 0:  # this operator's refunds outweighed its sales in the payout
        lines = [replace(line, debit=line.credit, credit=line.debit) for line in lines]
    return lines


def _txn_item(txn: BalanceEntry, now: datetime) -> dict[str, Any]:
    kind = KINDS.get(txn.type, "other")
    if txn.type == "adjustment" and str(txn.source or "").startswith(DISPUTE_PREFIXES):
        kind = "dispute"
    state = {
        "payment": "pending",
        "refund": "pending",
        "payout_return": "pending",
        "dispute": "pending",
        "payout": "payout",
    }.get(kind, "unattributed")
    return to_item(
        {
            "id": txn.id,
            "type": txn.type,
            "kind": kind,
            "state": state,
            "amount": txn.amount,
            "fee": txn.fee,
            "net": txn.net,
            "source": txn.source,
            "created": txn.created,
            "recorded_at": now.isoformat(),
        }
    )


def _reconciling(payout: PayoutEntry) -> bool:
    """Paid, but Stripe has not finished reconciling it: its transactions cannot all be
    listed yet (itemized now, it would stay unmatched for good). Looked at again later."""
    return payout.status == "paid" and payout.reconciliation_status == "in_progress"


def _payout_item(payout: PayoutEntry) -> dict[str, Any]:
    return {
        "id": payout.id,
        "amount": payout.amount,
        "arrival_date": payout.arrival_date,
        "status": payout.status,
        "created": payout.created,
        "reconciliation": payout.reconciliation_status,
    }


def _least(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _paris_day(timestamp: int) -> date:
    return datetime.fromtimestamp(timestamp, UTC).astimezone(PARIS).date()


def _at(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(item["recorded_at"]))
