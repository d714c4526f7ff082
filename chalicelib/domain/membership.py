"""Memberships: monthly periods anchored on the start day, renewal and retry rules, days.

Periods are computed in Europe/Paris and start at local midnight: a membership started
on 31 January runs 31 Jan → 28 Feb → 31 Mar → 30 Apr... (always from the anchor, never
from the previous period, so a short month does not shift the following ones). Instants
are stored in UTC; a DST change only moves the UTC offset, never the local day.

A period is charged when it starts (pay in advance). A failed charge is retried 1, 3 and
7 days after the first failure of that period; when the last retry fails the membership
is cancelled. A debit still `processing` (SEPA) gives access like a paid one.

Every transition is a pure function of the membership and one outcome, safe to apply
twice (a webhook and the job may report the same outcome).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from chalicelib.domain.money import price_from_incl_vat
from chalicelib.domain.timezones import PARIS

RETRY_AFTER_DAYS = (1, 3, 7)
PaymentMethodType = Literal["card", "sepa_debit"]
ChargeStatus = Literal["pending", "processing", "succeeded", "failed"]


class MembershipStatus(StrEnum):
    incomplete = "incomplete"  # no period paid yet (payment method being saved, first charge)
    active = "active"
    past_due = "past_due"  # a renewal failed; retries are scheduled
    cancelled = "cancelled"


# -- calendar ---------------------------------------------------------------------------


def add_months(anchor: date, months: int) -> date:
    """The anchor's day `months` later, clamped to the month's last day (31 Jan + 1 = 28 Feb)."""
    years, month_index = divmod(anchor.month - 1 + months, 12)
    year, month = anchor.year + years, month_index + 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def local_midnight(day: date) -> datetime:
    """00:00 in Paris that day, in UTC (midnight exists every day: DST moves 02:00/03:00)."""
    return datetime.combine(day, time(0), tzinfo=PARIS).astimezone(UTC)


def period_bounds(anchor: date, number: int) -> tuple[datetime, datetime]:
    """[start, end) of period `number` (1 = the first), in UTC."""
    return (
        local_midnight(add_months(anchor, number - 1)),
        local_midnight(add_months(anchor, number)),
    )


def period_at(anchor: date, moment: datetime) -> int:
    """The number of the period that contains `moment` (0 before the first one)."""
    day = moment.astimezone(PARIS).date()
    months = (day.year - anchor.year) * 12 + day.month - anchor.month
    if day < add_months(anchor, months):
        months -= 1
    return max(months + 1, 0)


def retry_at(failed_since: datetime, failures: int) -> datetime | None:
    """When to try again after `failures` failed attempts at one period (None: give up):
    at the start of the 1st, 3rd, then 7th Paris day after the first failure, so the daily
    run of that day (just after midnight) makes the retry — a retry due at the very minute
    of the first failure would wait for the next day's run."""
    if not 1 <= failures <= len(RETRY_AFTER_DAYS):
        return None
    day = failed_since.astimezone(PARIS).date() + timedelta(days=RETRY_AFTER_DAYS[failures - 1])
    return local_midnight(day)


def days_left(days_per_period: Decimal | None, days_used: Decimal) -> Decimal | None:
    """Days still bookable this period (None: unlimited). Halves count as 0.5."""
    if days_per_period is None:
        return None
    return max(days_per_period - days_used, Decimal(0))


def charge_key(membership_id: str, period: int, failures: int) -> str:
    """Stripe idempotency key of one charge attempt. The first attempt at a period is
    `membership-{id}-period-{n}`; a retry after a failed attempt (which moved no money)
    needs a key of its own, since Stripe replays a key's first answer, failure included."""
    base = f"membership-{membership_id}-period-{period}"
    return base if failures == 0 else f"{base}-retry-{failures}"


def period_subject(membership_id: str, period: int) -> str:
    """The `subject_id` of a period's payment: one invoice per paid period."""
    return f"{membership_id}#{period}"


def parse_period_subject(subject_id: str) -> tuple[str, int] | None:
    membership_id, _, period = subject_id.rpartition("#")
    return (membership_id, int(period)) if membership_id and period.isdigit() else None


# -- the membership -----------------------------------------------------------------------


class Membership(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    id: str
    member_id: str
    product_id: str
    product_name: str
    operator_id: str  # the seller: issues the invoices
    amount: int  # per period, VAT included, frozen at subscription
    vat_rate: str
    payment_method_type: PaymentMethodType
    status: MembershipStatus = MembershipStatus.incomplete
    days_per_period: Decimal | None = None  # None: unlimited hot desk
    days_used: Decimal = Decimal(0)  # in the current period; kept by booking transactions
    customer_id: str | None = None
    setup_intent_id: str | None = None
    payment_method_id: str | None = None
    anchor: date | None = None  # local day the first period starts
    period: int = 0  # the current (paid or processing) period; 0: none yet
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    billing_period: int = 1  # the period the next charge is for
    failures: int = 0  # failed attempts at `billing_period`
    failed_since: datetime | None = None
    next_charge_at: datetime | None = None  # due for a charge (renewal or retry)
    lease_until: datetime | None = None  # a charge is in flight until then
    charge_key: str | None = None  # the last attempt's idempotency key...
    charge_intent_id: str | None = None  # ...its PaymentIntent...
    charge_status: ChargeStatus | None = None  # ...and what became of it
    # The payment method the attempt `charge_key` charges, fixed when it is first claimed:
    # a retry of that key sends Stripe the same request (a replaced method waits for the
    # next attempt), and the period's invoice names the method the money came by. None on
    # an attempt claimed before these were kept (the current method then).
    charge_payment_method_id: str | None = None
    charge_method_type: PaymentMethodType | None = None
    # Replacing the payment method: the SetupIntent the member started last (only its
    # success counts), the attempts made at once with a new method while a period is
    # failing (they do not use up the scheduled retries), and why the last attempt failed.
    pending_setup_intent_id: str | None = None
    manual_retries: int = 0
    last_payment_error: str | None = None
    version: int = 0
    created_at: datetime
    cancelled_at: datetime | None = None

    @field_validator(
        "current_period_start",
        "current_period_end",
        "failed_since",
        "next_charge_at",
        "lease_until",
        "created_at",
        "cancelled_at",
    )
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # One format in the table, so conditions can compare instants as strings.
        return value.astimezone(UTC) if value is not None else None

    @property
    def due_at(self) -> datetime | None:
        if self.status is MembershipStatus.cancelled:
            return None
        return self.lease_until or self.next_charge_at

    def is_due(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at <= now

    def public(self) -> dict[str, Any]:
        def local(moment: datetime | None) -> str | None:
            return moment.astimezone(PARIS).isoformat() if moment else None

        return {
            "id": self.id,
            "product_id": self.product_id,
            "product_name": self.product_name,
            "operator_id": self.operator_id,
            "status": self.status.value,
            "payment_method_type": self.payment_method_type,
            "price": price_from_incl_vat(self.amount, self.vat_rate).to_dict(),
            "current_period_start": local(self.current_period_start),
            "current_period_end": local(self.current_period_end),
            "days_used": self.days_used,
            "days_per_period": self.days_per_period,
            "cancel_at_period_end": self.cancel_at_period_end,
            "next_charge_at": local(self.next_charge_at),
            "last_payment_error": self.last_payment_error,
            "created_at": local(self.created_at),
            "cancelled_at": local(self.cancelled_at),
        }


# -- transitions ----------------------------------------------------------------------------


def payment_method_saved(m: Membership, payment_method_id: str, now: datetime) -> Membership:
    """The SetupIntent succeeded: the first period starts today (Paris) and is due now."""
    if m.anchor is not None or m.status is not MembershipStatus.incomplete:
        return m
    return m.model_copy(
        update={
            "payment_method_id": payment_method_id,
            "anchor": now.astimezone(PARIS).date(),
            "billing_period": 1,
            "next_charge_at": now.astimezone(UTC),
        }
    )


def prepare_charge(m: Membership, now: datetime) -> Membership:
    """What a due membership becomes before it is charged: a renewal of a membership
    cancelled at period end ends it; a catch-up run skips the periods already over
    (a member is never charged for a month in which they could not book)."""
    if m.cancel_at_period_end:
        return cancelled(m, now)
    if m.failures or m.anchor is None or m.period == 0:
        return m
    return m.model_copy(update={"billing_period": max(m.billing_period, period_at(m.anchor, now))})


def claimed(m: Membership, key: str, lease_until: datetime) -> Membership:
    """Take the charge of `key` for this run: off the due index until the lease ends.
    A new attempt fixes the payment method it charges; taking the same attempt again
    (after a crash or an outage) keeps the one it started with."""
    if m.charge_key != key:
        return m.model_copy(
            update={
                "charge_key": key,
                "charge_intent_id": None,
                "charge_status": "pending",
                "charge_payment_method_id": m.payment_method_id,
                "charge_method_type": m.payment_method_type,
                "lease_until": lease_until,
            }
        )
    return m.model_copy(update={"lease_until": lease_until})


def charged_method(m: Membership) -> tuple[str | None, PaymentMethodType]:
    """The payment method id and type the claimed attempt charges."""
    if m.charge_payment_method_id is not None:
        return m.charge_payment_method_id, m.charge_method_type or m.payment_method_type
    return m.payment_method_id, m.payment_method_type


def intent_recorded(m: Membership, key: str, intent_id: str) -> Membership:
    if m.charge_key != key or m.charge_intent_id == intent_id:
        return m
    return m.model_copy(update={"charge_intent_id": intent_id})


def period_covered(m: Membership, period: int, key: str, settled: bool) -> Membership:
    """A charge for `period` succeeded (`settled`) or is processing: the member has access
    to that period. Applying it again, or for an older period, changes nothing more; nor
    does a `processing` report arriving after the attempt's outcome (events come in any
    order). Money received always counts, whatever the attempt."""
    if m.anchor is None:
        return m
    if not settled and (m.charge_key != key or m.charge_status in ("succeeded", "failed")):
        return m
    update: dict[str, Any] = {}
    if m.period < period:
        start, end = period_bounds(m.anchor, period)
        update |= {
            "period": period,
            "current_period_start": start,
            "current_period_end": end,
            "days_used": Decimal(0),
        }
    if m.charge_key == key:
        update["charge_status"] = "succeeded" if settled else "processing"
    if m.billing_period <= period:
        update |= {
            "billing_period": period + 1,
            "failures": 0,
            "manual_retries": 0,
            "next_charge_at": period_bounds(m.anchor, period + 1)[0],
            "lease_until": None,
        }
    covered = m.model_copy(update=update)
    if covered.failures or covered.status is MembershipStatus.cancelled:
        return covered  # a later period is failing, or it is over: that stays so
    settled_now = settled and covered.billing_period == period + 1
    return covered.model_copy(
        update={
            "status": MembershipStatus.active,
            "failed_since": None if settled_now else covered.failed_since,
            "last_payment_error": None if settled_now else covered.last_payment_error,
        }
    )


def charge_failed(
    m: Membership,
    period: int,
    key: str,
    attempt: int,
    at: datetime,
    reason: str | None = None,
) -> Membership:
    """The attempt `key` (the `attempt`-th retry, 0 = first try) at `period` failed:
    retry later, or cancel after the last scheduled retry (attempts made at once with a
    new payment method do not count: the schedule stays where it was). A stale report
    changes nothing."""
    if (
        m.charge_key != key
        or m.charge_status in ("failed", "succeeded")  # a late failure of a paid charge
        or m.status is MembershipStatus.cancelled
    ):
        return m
    failures = attempt + 1
    since = m.failed_since if attempt and m.failed_since else at.astimezone(UTC)
    base = m.model_copy(
        update={
            "billing_period": period,
            "failures": failures,
            "failed_since": since,
            "charge_status": "failed",
            "lease_until": None,
            "last_payment_error": reason or "payment failed",
        }
    )
    retry = retry_at(since, failures - m.manual_retries)
    if retry is None or m.cancel_at_period_end:
        return cancelled(base, at)
    status = MembershipStatus.past_due if m.period > 0 else MembershipStatus.incomplete
    return base.model_copy(update={"status": status, "next_charge_at": retry})


def payment_method_replaced(
    m: Membership,
    setup_intent_id: str,
    payment_method_id: str,
    method_type: PaymentMethodType,
    now: datetime,
) -> Membership:
    """The member saved a new payment method (the SetupIntent they started last): it
    replaces the old one. A period whose charge failed is due again at once (charged
    with the next attempt's own key, never twice); a charge in flight keeps its course.
    A membership never set up takes it as its first method. An older SetupIntent, the
    same method reported again, or a cancelled membership: nothing changes."""
    if (
        m.status is MembershipStatus.cancelled
        or m.pending_setup_intent_id != setup_intent_id
        or m.payment_method_id == payment_method_id
    ):
        return m
    if m.anchor is None:
        first = m.model_copy(update={"payment_method_type": method_type})
        return payment_method_saved(first, payment_method_id, now)
    update: dict[str, Any] = {
        "payment_method_id": payment_method_id,
        "payment_method_type": method_type,
    }
    if m.failures and m.lease_until is None:
        update |= {"next_charge_at": now.astimezone(UTC), "manual_retries": m.manual_retries + 1}
    return m.model_copy(update=update)


def lease_released(m: Membership, key: str) -> Membership:
    """The provider could not be reached: the attempt stays due (same key next time)."""
    if m.charge_key != key or m.lease_until is None:
        return m
    return m.model_copy(update={"lease_until": None})


def cancel_requested(m: Membership, now: datetime) -> Membership:
    """A paid period runs to its end; nothing paid (incomplete) or unpaid (past_due)
    ends now — unless a charge is in flight: its outcome decides (paid: the period runs
    to its end; failed: it ends then). Asking twice is harmless."""
    if m.status is MembershipStatus.active or m.lease_until is not None:
        return m.model_copy(update={"cancel_at_period_end": True})
    if m.status is MembershipStatus.cancelled:
        return m
    return cancelled(m, now)


def cancelled(m: Membership, at: datetime) -> Membership:
    return m.model_copy(
        update={
            "status": MembershipStatus.cancelled,
            "cancelled_at": m.cancelled_at or at.astimezone(UTC),
            "next_charge_at": None,
            "lease_until": None,
        }
    )
