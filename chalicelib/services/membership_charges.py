"""Charging memberships: the first period when the payment method is saved, each renewal
when its period starts (`renew_memberships`, daily, catch-up with `as_of`), retries after
a failure (1, 3 and 7 days, then cancelled), and what Stripe's webhooks report.

Every attempt is claimed in the table first — a compare-and-swap that takes it off the
due index for a lease — then made with a deterministic idempotency key
(`membership-{id}-period-{n}`, `-retry-{k}` for retries): concurrent or repeated runs,
and the webhook racing the job, charge a period once. A run that dies after charging
leaves the intent recorded; the next one (after the lease) reads it instead of charging
again. Outcomes (succeeded, processing, failed) go through the same pure transitions
whether the job's answer or a webhook reports them; each paid period gets one invoice.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.membership import (
    PARIS,
    Membership,
    MembershipStatus,
    charge_failed,
    charge_key,
    charged_method,
    claimed,
    intent_recorded,
    lease_released,
    payment_method_replaced,
    payment_method_saved,
    period_bounds,
    period_covered,
    period_subject,
    prepare_charge,
)
from chalicelib.domain.payment import Payment
from chalicelib.errors import (
    OffSessionChargeFailed,
    PaymentProviderConflict,
    PaymentProviderError,
    PaymentProviderUnavailable,
    RelaisError,
)
from chalicelib.services import invoicing, notifications, run_budget
from chalicelib.services.context import Context
from chalicelib.services.memberships import REPLACEMENT, gateway
from chalicelib.services.payments import charge_id_of
from chalicelib.services.ports import IntentInfo

logger = logging.getLogger("relais.memberships")
# How long a charge attempt stays claimed by the run making it; then it is due again, with
# the same key and the recorded intent: never a second charge.
CHARGE_LEASE = timedelta(minutes=15)
# A run stops claiming charges after this long, well inside the API Lambda's 30 s timeout
# (a run by hand); the scheduled function (15 minutes) goes on until a margin before its
# own timeout (services/run_budget.py). Charges left due go to the next run.
RUN_SECONDS = 20.0
# What a run did to a membership (vs skipped: another run has it; unavailable: Stripe down;
# deferred: out of time — all three left due).
ACTED = ("paid", "processing", "failed", "cancelled")
METHOD_TYPES = ("card", "sepa_debit")


@dataclass(frozen=True)
class Attempt:
    """One charge attempt: which membership, period, retry number and idempotency key,
    and the payment method type it charges (None: not known, an older charge)."""

    member_id: str
    membership_id: str
    period: int
    attempt: int
    key: str
    method: str | None = None

    @classmethod
    def of_intent(cls, intent: dict[str, Any]) -> Attempt | None:
        metadata = intent.get("metadata") or {}
        if metadata.get("kind") != "membership":
            return None
        method = metadata.get("payment_method_type")
        try:
            return cls(
                member_id=str(metadata["member_id"]),
                membership_id=str(metadata["membership_id"]),
                period=int(metadata["period"]),
                attempt=int(metadata["attempt"]),
                key=str(metadata["charge_key"]),
                method=method if method in METHOD_TYPES else None,
            )
        except (KeyError, ValueError):
            return None

    def metadata(self, operator_id: str) -> dict[str, str]:
        return {
            "kind": "membership",
            "membership_id": self.membership_id,
            "member_id": self.member_id,
            "operator_id": operator_id,
            "period": str(self.period),
            "attempt": str(self.attempt),
            "charge_key": self.key,
            **({"payment_method_type": self.method} if self.method else {}),
        }


def renew_memberships(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    """Charge every membership due at `as_of` (default now): renewals and retries, each
    once whatever the concurrent runs; a catch-up run charges the current period only.

    One membership's trouble never stops the others: Stripe unreachable leaves it due
    (`unavailable`); any other error is named in `errors` (`failed` counts the charges
    that failed) and the next run takes it again (after the claim's lease, if any)."""
    now = as_of or ctx.clock.now()
    outcomes: Counter[str] = Counter()
    errors: list[dict[str, str]] = []
    deadline = run_budget.deadline(RUN_SECONDS)
    for member_id, membership_id in ctx.memberships.due(now):
        if time.monotonic() > deadline:  # left due for the next run (every 15 min, 2 h)
            outcomes["deferred"] += 1
            continue
        membership = ctx.memberships.get(member_id, membership_id)
        if membership is None or not membership.is_due(now):
            continue
        try:
            outcomes[charge_due(ctx, membership, now)] += 1
        except PaymentProviderUnavailable as exc:
            logger.warning("Membership %s not charged: %s", membership_id, exc.detail)
            outcomes["unavailable"] += 1
        except RelaisError as exc:
            logger.exception("Membership %s: renewal failed", membership_id)
            errors.append({"membership_id": membership_id, "error": exc.detail})
    processed = sum(outcomes[outcome] for outcome in ACTED)
    answer = {"job": "renew_memberships", "processed": processed, **dict(sorted(outcomes.items()))}
    return answer | ({"errors": errors} if errors else {})


def charge_due(ctx: Context, membership: Membership, now: datetime) -> str:
    """Claim the charge a due membership owes and make it; answers what became of it:
    paid | processing | failed | cancelled, or skipped (not due, or another run has it)."""
    mine = _claim(ctx, membership, now)
    if mine is None:
        return "skipped"
    if mine.status is MembershipStatus.cancelled:
        return "cancelled"
    assert mine.charge_key is not None
    # The type sent in the metadata only on an attempt claimed with it fixed: a retry of
    # an older attempt's key sends Stripe the very request it sent first.
    method = mine.charge_method_type if mine.charge_payment_method_id else None
    attempt = Attempt(
        mine.member_id, mine.id, mine.billing_period, mine.failures, mine.charge_key, method
    )
    # A failure is dated when it happened, not at a catch-up run's `as_of`: its retries
    # (1, 3, 7 days after) count from the member's real declined charge.
    failed_at = max(now, ctx.clock.now())
    try:
        intent = _charge(ctx, mine, attempt)
    except OffSessionChargeFailed as exc:
        logger.info("Membership %s charge %s failed: %s", mine.id, attempt.key, exc.reason)
        if exc.payment_intent_id:
            _record_payment(ctx, mine, attempt, exc.payment_intent_id, mine.amount)
            ctx.payments.mark_failed(exc.payment_intent_id, exc.detail)
        return _failed(ctx, attempt, failed_at, exc.reason)
    except PaymentProviderUnavailable:
        ctx.memberships.update(mine.member_id, mine.id, lambda m: lease_released(m, attempt.key))
        raise
    except PaymentProviderError as exc:
        if mine.charge_intent_id or isinstance(exc, PaymentProviderConflict):
            # Stripe will not show an intent it made, or refuses the key a request was
            # first sent with: not a refusal of the charge (which may have gone through);
            # the job names the error, the lease then lapses.
            raise
        # Stripe refused the charge (the customer or its payment method deleted, ...):
        # nothing was charged; a failed attempt like a declined card.
        logger.warning("Membership %s charge %s refused: %s", mine.id, attempt.key, exc.detail)
        return _failed(ctx, attempt, failed_at, _refusal_reason(exc))
    ctx.memberships.update(
        mine.member_id, mine.id, lambda m: intent_recorded(m, attempt.key, intent.id)
    )
    _record_payment(ctx, mine, attempt, intent.id, intent.amount)
    if intent.status in ("succeeded", "processing"):
        settled = intent.status == "succeeded"
        return _covered(ctx, attempt, intent.id, settled=settled, charge=None)
    # a recorded intent that did not go through
    return _failed(ctx, attempt, failed_at, intent.status)


def _claim(ctx: Context, membership: Membership, now: datetime) -> Membership | None:
    """The membership with this run's claim on its due charge (or it just ended at period
    end); None if it is not due any more, or another run claimed it first."""
    lease = max(now, ctx.clock.now()) + CHARGE_LEASE

    def take(current: Membership) -> Membership:
        if not current.is_due(now):
            return current
        prepared = prepare_charge(current, now)
        if prepared.status is MembershipStatus.cancelled:
            return prepared
        key = charge_key(prepared.id, prepared.billing_period, prepared.failures)
        return claimed(prepared, key, lease)

    done = ctx.memberships.update(membership.member_id, membership.id, take)
    return done[0] if done is not None and done[1] else None


def _charge(ctx: Context, mine: Membership, attempt: Attempt) -> IntentInfo:
    if mine.charge_intent_id:  # a run died after charging: finish that same attempt
        return gateway(ctx).retrieve_payment_intent(mine.charge_intent_id)
    payment_method, method_type = charged_method(mine)
    assert mine.customer_id and payment_method
    return gateway(ctx).charge_off_session(
        customer=mine.customer_id,
        payment_method=payment_method,
        payment_method_type=str(method_type),
        amount=mine.amount,
        currency="EUR",
        description=_description(mine, attempt.period),
        metadata=attempt.metadata(mine.operator_id),
        idempotency_key=attempt.key,
    )


def _covered(
    ctx: Context, attempt: Attempt, intent_id: str, *, settled: bool, charge: str | None
) -> str:
    if settled:
        # Money in, invoiced (once per paid period) before the period moves on: a run
        # that dies in between finds the charge still claimed and finishes it here.
        ctx.payments.mark_succeeded(intent_id, charge, ctx.clock.now())
        payment = ctx.payments.payment(intent_id)
        assert payment is not None
        invoicing.invoice_for_payment(ctx, payment)
    done = ctx.memberships.update(
        attempt.member_id,
        attempt.membership_id,
        lambda m: period_covered(m, attempt.period, attempt.key, settled),
    )
    if done is None:
        return "ignored"
    if not settled:
        return "processing"
    notifications.notify_membership(ctx, done[0], "renewed")
    return "paid"


def _refusal_reason(exc: PaymentProviderError) -> str:
    """Stripe's error code in the gateway's message (`... (code=resource_missing)`)."""
    found = re.search(r"\(code=([A-Za-z0-9_]+)\)", exc.detail)
    return found.group(1) if found else "payment_provider_error"


def _failed(ctx: Context, attempt: Attempt, at: datetime, reason: str) -> str:
    done = ctx.memberships.update(
        attempt.member_id,
        attempt.membership_id,
        lambda m: charge_failed(m, attempt.period, attempt.key, attempt.attempt, at, reason),
    )
    if done is None or not done[1]:
        return "stale"
    notifications.notify_membership(ctx, done[0], "payment_failed")
    return "cancelled" if done[0].status is MembershipStatus.cancelled else "failed"


def _record_payment(
    ctx: Context, membership: Membership, attempt: Attempt, intent_id: str, amount: int
) -> None:
    """The attempt's payment, once, with the method type it was made with: the intent's
    metadata, else the attempt the membership has claimed; None for an older charge
    that did not say (its invoice then names the membership's current method)."""
    method = attempt.method
    if method is None and membership.charge_key == attempt.key:
        method = charged_method(membership)[1] if membership.charge_payment_method_id else None
    ctx.payments.add_payment(
        Payment(
            intent_id=intent_id,
            kind="membership",
            subject_id=period_subject(membership.id, attempt.period),
            member_id=membership.member_id,
            operator_id=membership.operator_id,
            amount=amount,
            description=_description(membership, attempt.period),
            created_at=ctx.clock.now(),
            payment_method_type=method,
        )
    )


def _description(membership: Membership, period: int) -> str:
    assert membership.anchor is not None
    start, end = period_bounds(membership.anchor, period)
    first = start.astimezone(PARIS).date()
    last = (end.astimezone(PARIS) - timedelta(days=1)).date()
    return f"{membership.product_name} — abonnement du {first:%d/%m/%Y} au {last:%d/%m/%Y}"


# -- webhooks -------------------------------------------------------------------------


def setup_succeeded(ctx: Context, setup_intent: dict[str, Any]) -> str:
    """`setup_intent.succeeded`: the payment method is saved; charge the first period.
    A SetupIntent started by `PUT /v1/memberships/{id}/payment-method` replaces the
    method instead, and charges again at once a period whose charge failed."""
    metadata = setup_intent.get("metadata") or {}
    method = setup_intent.get("payment_method")
    method_id = method.get("id") if isinstance(method, dict) else method
    if metadata.get("kind") != "membership" or not isinstance(method_id, str):
        return "ignored"
    now = ctx.clock.now()
    change: Callable[[Membership], Membership]
    if metadata.get("purpose") == REPLACEMENT:
        method_type = metadata.get("payment_method_type")
        if method_type not in ("card", "sepa_debit"):
            return "ignored"
        setup_id = str(setup_intent.get("id"))

        def change(m: Membership) -> Membership:
            return payment_method_replaced(m, setup_id, method_id, method_type, now)
    else:

        def change(m: Membership) -> Membership:
            return payment_method_saved(m, method_id, now)

    done = ctx.memberships.update(
        str(metadata.get("member_id")), str(metadata.get("membership_id")), change
    )
    if done is None or done[0].status is MembershipStatus.cancelled:
        return "ignored"
    # A Stripe outage raises: the event is given back, and the job finds the charge due.
    return charge_due(ctx, done[0], now)


def intent_succeeded(ctx: Context, intent: dict[str, Any]) -> str:
    """`payment_intent.succeeded` of a membership charge: the period is paid, invoiced."""
    attempt = Attempt.of_intent(intent)
    membership = _membership_of(ctx, attempt)
    if attempt is None or membership is None:
        return "ignored"
    _record_payment(ctx, membership, attempt, intent["id"], int(intent.get("amount") or 0))
    return _covered(ctx, attempt, intent["id"], settled=True, charge=charge_id_of(intent))


def intent_processing(ctx: Context, intent: dict[str, Any]) -> str:
    """`payment_intent.processing` (a SEPA debit on its way): the member has access."""
    attempt = Attempt.of_intent(intent)
    if attempt is None or _membership_of(ctx, attempt) is None:
        return "ignored"
    return _covered(ctx, attempt, intent["id"], settled=False, charge=None)


def intent_failed(ctx: Context, intent: dict[str, Any]) -> str:
    """`payment_intent.payment_failed` of a membership charge (a SEPA debit that bounced,
    a card refused): past_due with a retry, or cancelled after the last one."""
    attempt = Attempt.of_intent(intent)
    membership = _membership_of(ctx, attempt)
    if attempt is None or membership is None:
        return "ignored"
    _record_payment(ctx, membership, attempt, intent["id"], int(intent.get("amount") or 0))
    error = intent.get("last_payment_error") or {}
    message = str(error.get("message") or "payment failed")
    ctx.payments.mark_failed(intent["id"], message, charge_id_of(intent))
    reason = str(error.get("code") or error.get("message") or "payment_failed")
    return _failed(ctx, attempt, ctx.clock.now(), reason)


def _membership_of(ctx: Context, attempt: Attempt | None) -> Membership | None:
    return ctx.memberships.get(attempt.member_id, attempt.membership_id) if attempt else None
