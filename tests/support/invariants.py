"""Invariants on the money in the table, checked after a test has moved some.

"A payment never goes unaccounted for" (API.md, Bookings). Every succeeded payment
ends in exactly one of:

- the booking it pays is confirmed / checked_in / completed / no_show with that intent;
- the purchase it pays is completed and its credit pack was granted;
- the membership period it pays is invoiced;
- refunds recorded for it sum to its amount (a refund that failed later still counts: its
  credit note stands and the customer is owed it, paid another way; such a refund has its
  bank entry putting the money back, `{credit note}-BQ-failed`, written once; paid by
  transfer since, with its bank entry `{credit note}-BQ-transfer`).

Two more ends follow from the contract and are accepted as well (each named in the
messages): the booking was cancelled *after* the free-cancellation deadline and nothing is
owed ("later -> cancelled, nothing refunded": the money is kept by policy); or the booking
was cancelled with its full amount owed as a refund that is queued for retry (Stripe was
down: `refund_due` on the booking and a REFUNDS_DUE marker).

And no card booking holds a paid-for status without a succeeded payment record behind it.

Reads the whole table with a Scan: fine in tests, never on a request path.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.services.context import Context

# A booking in one of these statuses has used (or is using) the seat it was paid for.
PAID_FOR_STATUSES = frozenset({"confirmed", "checked_in", "completed", "no_show"})
# Refunds that moved, or are moving, money back to the customer.
VOID_REFUND_STATUSES = frozenset({"failed", "canceled"})  # refunds Stripe did not make


def scan_items(ctx: Context) -> Iterator[dict[str, Any]]:
    """Every item of the table (follows the Scan's pages; moto's own items when the table
    is moto's, as its Scan answers grow slow with the table)."""
    in_moto = _moto_items(ctx)
    if in_moto is not None:
        yield from in_moto
        return
    kwargs: dict[str, Any] = {"TableName": ctx.table.name, "ConsistentRead": True}
    while True:
        response = ctx.table.client.scan(**kwargs)
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def _moto_items(ctx: Context) -> list[dict[str, Any]] | None:
    if ctx.table.client.meta.endpoint_url.startswith(("http://127.", "http://localhost")):
        return None  # DynamoDB Local
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
    except ImportError:
        return None
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][ctx.table.client.meta.region_name]
    if ctx.table.name not in backend.tables:
        return None
    return [item.to_regular_json() for item in backend.get_table(ctx.table.name).all_items()]


def money_violations(ctx: Context) -> list[str]:
    """Every breach of the money invariants, one readable line each (empty: all is well)."""
    by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in scan_items(ctx):
        by_entity[str(item.get("entity", ""))].append(item)

    bookings = {b["id"]: b for b in by_entity["booking"]}
    purchases = {p["id"]: p for p in by_entity["purchase"]}
    payments = {p["intent_id"]: p for p in by_entity["payment"]}
    packs_by_purchase = {p["purchase_id"] for p in by_entity["pack"]}
    lost: dict[str, int] = defaultdict(int)  # what lost disputes gave back, per payment
    for dispute in by_entity["dispute"]:
        if dispute.get("status") == "lost":
            lost[dispute["intent_id"]] += int(dispute["amount"])
    refunds_queued = {i["SK"] for i in by_entity[""] if i.get("PK") == "REFUNDS_DUE"}
    invoiced = {
        str(i["PK"]).removeprefix("DOCSOURCE#")
        for i in by_entity[""]
        if str(i.get("PK", "")).startswith("DOCSOURCE#")
    }
    free_hours = timedelta(hours=ctx.settings.cancel_free_hours)
    refunded: dict[str, int] = defaultdict(int)
    for refund in by_entity["refund"]:
        if refund.get("credited", True):  # not one that failed before it was taken as made
            refunded[refund["intent_id"]] += int(refund["amount"])
    claimed = {str(i["SK"]) for i in by_entity["claim"] if str(i["PK"]).startswith("LEDGERENTRY#")}
    sources = {
        str(i["PK"]).removeprefix("DOCSOURCE#"): str(i.get("document_id", ""))
        for i in by_entity[""]
        if str(i.get("PK", "")).startswith("DOCSOURCE#")
    }

    violations: list[str] = []
    for refund in by_entity["refund"]:
        if refund.get("status") in VOID_REFUND_STATUSES and refund.get("credited", True):
            note = sources.get(f"refund-{refund['id']}")
            if not note or f"{note}-BQ-failed" not in claimed:
                violations.append(
                    f"refund {refund['id']} {refund['status']} without its bank entry "
                    f"(credit note {note})"
                )
            if refund.get("transfer") and f"{note}-BQ-transfer" not in claimed:
                violations.append(
                    f"refund {refund['id']} paid by transfer without its bank entry "
                    f"(credit note {note})"
                )
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
            given_back = lost[intent_id] and lost[intent_id] + refunded[intent_id] >= amount
            if (
                purchase is not None
                and purchase.get("status") == "completed"
                and subject in packs_by_purchase
                and not given_back  # a pack whose money all went back is revoked
            ):
                ends.append(f"purchase {subject} completed with its pack")
            elif purchase is not None and purchase.get("status") == "refunded" and given_back:
                ends.append(f"purchase {subject} revoked, its dispute lost")
        if kind == "membership" and f"payment-{intent_id}" in invoiced:
            ends.append(f"membership period {subject} invoiced")
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


# -- the invariants of the whole table, checked after every crash-and-recover run ----------

SEAT_HOLDING_STATUSES = frozenset({"held", "confirmed", "checked_in"})
CREDITS_SPENT_STATUSES = frozenset({"held", "confirmed", "checked_in", "completed", "no_show"})


def table_violations(ctx: Context, gateway: Any = None) -> list[str]:
    """Every breach of the table's invariants beyond the money ends (`money_violations`):

    - no oversold slot: seats counted per slot between the bookings holding one and the
      capacity;
    - one document per source: one invoice per payment, one credit note per refund,
      and no document without its source claim;
    - per operator and year, numbers 1..n without a gap, the head on n, each document's
      hash the chain hash of its body and the previous hash;
    - every ledger entry balanced, written once (one date, distinct lines), and the
      bank entry of each succeeded card payment's invoice and refund's credit note
      present exactly once;
    - each credit pack's balance its credits less those drawn by live bookings;
    - (with the fake `gateway`) no member charged twice for one thing.
    """
    from chalicelib.domain.invoice import GENESIS_HASH, chain_hash

    by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    heads: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    occupancy: list[dict[str, Any]] = []
    for item in scan_items(ctx):
        pk = str(item["PK"])
        if pk.startswith("DOCHEADS#"):
            heads[f"DOC#{pk.removeprefix('DOCHEADS#')}#{item['SK']}"] = item
        elif pk.startswith("DOCSOURCE#"):
            sources[pk.removeprefix("DOCSOURCE#")] = str(item["document_id"])
        elif pk.startswith("OCC#"):
            occupancy.append(item)
        by_entity[str(item.get("entity", ""))].append(item)
    violations: list[str] = []
    bookings = by_entity["booking"]

    # No oversold slot.
    holding: dict[tuple[str, str, str], int] = defaultdict(int)
    for booking in bookings:
        if booking.get("status") in SEAT_HOLDING_STATUSES:
            for slot in booking.get("slots") or []:
                where = (str(booking["relay_id"]), str(booking["date"]), booking["resource_id"])
                holding[(*where[:2], f"{where[2]}#s{int(slot)}")] += 1
    for item in occupancy:
        relay_day = str(item["PK"]).removeprefix("OCC#")
        relay, day = relay_day.rsplit("#", 1)
        resource = str(item["SK"]).removeprefix("RES#")
        capacity = int(item.get("capacity") or 0)
        for name, value in item.items():
            if not (name.startswith("s") and name[1:].isdigit()):
                continue
            held = holding.pop((relay, day, f"{resource}#{name}"), 0)
            if not held <= int(value) <= capacity:
                violations.append(
                    f"slot {relay} {day} {resource} {name}: {int(value)} seats counted, "
                    f"{held} bookings hold one, capacity {capacity}"
                )
    for (relay, day, slot), held in sorted(holding.items()):
        violations.append(f"slot {relay} {day} {slot}: {held} bookings hold a seat never counted")

    # One document per source; gapless numbers and a valid chain.
    documents = by_entity["document"]
    targets: dict[str, list[str]] = defaultdict(list)
    for source, document_id in sources.items():
        targets[document_id].append(source)
    by_id = {str(d["id"]): d for d in documents}
    for document_id, claimed in sorted(targets.items()):
        if len(claimed) > 1:
            violations.append(f"document {document_id} claimed by {len(claimed)} sources {claimed}")
        if document_id not in by_id:
            violations.append(f"source {claimed} names document {document_id}, not stored")
    for document_id in sorted(set(by_id) - set(targets)):
        violations.append(f"document {document_id} has no source claim (issued twice?)")
    chains: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for document in documents:
        chains[str(document["PK"])].append(document)
    for chain_pk in sorted(set(chains) | set(heads)):
        chain = sorted(chains.get(chain_pk, []), key=lambda d: int(d["SK"]))
        numbers = [int(d["SK"]) for d in chain]
        if numbers != list(range(1, len(chain) + 1)):
            violations.append(f"{chain_pk}: numbers {numbers} are not 1..{len(chain)}")
        previous = GENESIS_HASH
        for document in chain:
            body = json.loads(document["body"])
            if body.get("previous_hash") != previous or body.get("hash") != chain_hash(
                body, previous
            ):
                violations.append(f"{chain_pk}: chain broken at {document['number']}")
                break
            previous = body["hash"]
        head = heads.get(chain_pk)
        last = (int(head["last_number"]), str(head["last_hash"])) if head else (0, GENESIS_HASH)
        if last != (len(chain), previous):
            violations.append(f"{chain_pk}: head {last[0]} but {len(chain)} documents")

    # Ledger: balanced entries, each written once.
    entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in by_entity["ledger"]:
        entries[json.loads(line["body"])["entry_id"]].append(
            {**json.loads(line["body"]), "_sk": line["SK"]}
        )
    for entry_id, lines in sorted(entries.items()):
        debit = sum(int(line["debit"]) for line in lines)
        credit = sum(int(line["credit"]) for line in lines)
        if debit != credit:
            violations.append(f"ledger entry {entry_id}: debit {debit} != credit {credit}")
        dates = {line["entry_date"] for line in lines}
        indexes = [str(line["_sk"]).rsplit("#", 1)[1] for line in lines]
        if len(dates) > 1 or len(indexes) != len(set(indexes)):
            violations.append(f"ledger entry {entry_id} written more than once: {sorted(dates)}")
    for payment in by_entity["payment"]:
        if payment.get("status") == "succeeded" and payment.get("kind") in ("booking", "purchase"):
            _booked_once(f"payment-{payment['intent_id']}", sources, entries, violations)
    for refund in by_entity["refund"]:
        if refund.get("status") == "succeeded" and refund.get("kind") in ("booking", "purchase"):
            _booked_once(f"refund-{refund['id']}", sources, entries, violations)

    # Wallets: each pack's balance is what live bookings left of it.
    drawn: dict[str, int] = defaultdict(int)
    given_back: dict[str, int] = defaultdict(int)
    for booking in bookings:
        for draw in booking.get("credit_draws") or []:
            pack = f"{booking['member_id']}|{draw['pack_key']}"
            if booking.get("status") in CREDITS_SPENT_STATUSES:
                drawn[pack] += int(draw["credits"])
            else:
                given_back[pack] += int(draw["credits"])
    refunded_purchases = {p["id"] for p in by_entity["purchase"] if p.get("status") == "refunded"}
    for pack in by_entity["pack"]:
        key = f"{str(pack['PK']).removeprefix('MEMBER#')}|{pack['SK']}"
        total, remaining = int(pack["credits_total"]), int(pack["credits_remaining"])
        if pack.get("purchase_id") in refunded_purchases:
            if remaining:  # revoked: nothing left to spend
                violations.append(f"pack {key} of a refunded purchase: {remaining} credits left")
            continue
        high = total - drawn[key]
        if not high - given_back[key] <= remaining <= high:
            violations.append(
                f"pack {key}: {remaining} credits left of {total}, {drawn[key]} drawn by live "
                f"bookings, {given_back[key]} by cancelled ones"
            )

    # No member charged twice for one thing (the fake Stripe's own record).
    if gateway is not None:
        net: dict[str, int] = defaultdict(int)
        charges: dict[str, int] = defaultdict(int)
        for intent in gateway.intents.values():
            if intent.status == "succeeded":
                subject = _charged_for(intent.metadata) or intent.id
                net[subject] += intent.amount
                charges[subject] = max(charges[subject], intent.amount)
        for refund in gateway.refunds.values():
            if refund.status == "succeeded":
                intent = gateway.intents[refund.payment_intent]
                net[_charged_for(intent.metadata) or intent.id] -= refund.amount
        for subject, amount in sorted(net.items()):
            if amount > charges[subject]:
                violations.append(f"{subject} charged {amount}, more than once")
    return violations


def _charged_for(metadata: dict[str, str]) -> str | None:
    if metadata.get("membership_id") and metadata.get("period"):
        return f"membership={metadata['membership_id']} period={metadata['period']}"
    for name in ("booking_id", "purchase_id", "membership_period", "invoice_id"):
        if metadata.get(name):
            return f"{name}={metadata[name]}"
    return None


def _booked_once(
    source: str,
    sources: dict[str, str],
    entries: dict[str, list[dict[str, Any]]],
    violations: list[str],
) -> None:
    document_id = sources.get(source)
    if document_id is None:
        violations.append(f"{source} has no document")
        return
    if not entries.get(f"{document_id}-BQ"):
        violations.append(f"{source}: its bank entry {document_id}-BQ is not in the ledger")


def assert_invariants(ctx: Context, gateway: Any = None) -> None:
    """The money invariants and the table's (see `table_violations`), all at once."""
    violations = money_violations(ctx) + table_violations(ctx, gateway)
    if violations:
        raise AssertionError(
            f"{len(violations)} invariant violation(s):\n  " + "\n  ".join(violations)
        )
