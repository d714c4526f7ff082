"""Membership rules without I/O: periods anchored on the start day in Europe/Paris (month
ends, DST), retries after 1, 3 and 7 days, and what each charge outcome does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.membership import (
    Membership,
    MembershipStatus,
    add_months,
    cancel_requested,
    charge_failed,
    charge_key,
    claimed,
    days_left,
    parse_period_subject,
    payment_method_replaced,
    payment_method_saved,
    period_at,
    period_bounds,
    period_covered,
    period_subject,
    prepare_charge,
    retry_at,
)

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def new_membership(**overrides: object) -> Membership:
    values: dict[str, object] = {
        "id": "mbr_1",
        "member_id": "member-1",
        "product_id": "prd_1",
        "product_name": "Nomade",
        "operator_id": "op_1",
        "amount": 9900,
        "vat_rate": "20.00",
        "payment_method_type": "card",
        "customer_id": "cus_1",
        "created_at": paris(2027, 1, 31, 10, 0),
        **overrides,
    }
    return Membership.model_validate(values)


def active_on(anchor_moment: datetime) -> Membership:
    """Saved and paid for its first period at `anchor_moment`."""
    saved = payment_method_saved(new_membership(), "pm_1", anchor_moment)
    key = charge_key("mbr_1", 1, 0)
    return period_covered(claimed(saved, key, anchor_moment), 1, key, settled=True)


def renewal_failed(m: Membership, at: datetime, period: int = 2) -> Membership:
    key = charge_key(m.id, period, m.failures)
    return charge_failed(claimed(m, key, at), period, key, m.failures, at)


# -- calendar -----------------------------------------------------------------------------


def test_monthly_periods_follow_the_start_day_31_jan_28_feb_31_mar() -> None:
    anchor = date(2027, 1, 31)
    assert [add_months(anchor, n) for n in range(4)] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]


def test_a_leap_february_ends_on_the_29th() -> None:
    assert add_months(date(2028, 1, 30), 1) == date(2028, 2, 29)
    assert add_months(date(2028, 1, 30), 2) == date(2028, 3, 30)


def test_periods_start_at_paris_midnight_on_both_sides_of_the_spring_dst_change() -> None:
    # GIVEN a membership started on 31 January 2027 (DST starts on 28 March 2027)
    anchor = date(2027, 1, 31)
    # WHEN its second and third periods are computed
    second, third = period_bounds(anchor, 2), period_bounds(anchor, 3)
    # THEN each starts at local midnight, and the UTC offset follows the season
    assert second[0].astimezone(PARIS) == paris(2027, 2, 28, 0, 0)
    assert second[0] == datetime(2027, 2, 27, 23, 0, tzinfo=UTC)
    assert third[0].astimezone(PARIS) == paris(2027, 3, 31, 0, 0)
    assert third[0] == datetime(2027, 3, 30, 22, 0, tzinfo=UTC)
    assert second[1] == third[0]
    assert second[1] - second[0] == timedelta(days=31, hours=-1)  # the night DST starts


def test_a_period_holding_the_autumn_dst_change_lasts_one_hour_more() -> None:
    start, end = period_bounds(date(2026, 10, 15), 1)  # DST ends on 25 October 2026
    assert end.astimezone(PARIS) == paris(2026, 11, 15, 0, 0)
    assert end - start == timedelta(days=31, hours=1)


def test_the_period_of_a_moment_is_read_on_the_paris_calendar() -> None:
    anchor = date(2027, 1, 31)
    assert period_at(anchor, paris(2027, 1, 30, 23, 59)) == 0
    assert period_at(anchor, paris(2027, 1, 31, 0, 0)) == 1
    assert period_at(anchor, paris(2027, 2, 27, 23, 59)) == 1
    # 27 Feb 23:30 UTC is already 28 Feb in Paris
    assert period_at(anchor, datetime(2027, 2, 27, 23, 30, tzinfo=UTC)) == 2
    assert period_at(anchor, paris(2027, 3, 31, 0, 0)) == 3
    assert period_at(anchor, paris(2028, 1, 31, 0, 0)) == 13


@pytest.mark.parametrize(("failures", "day"), [(1, 1), (2, 3), (3, 7)])
def test_failed_charges_are_retried_1_3_and_7_days_later(failures: int, day: int) -> None:
    # due at Paris midnight that day: the daily run just after midnight makes the retry
    assert retry_at(paris(2027, 2, 28, 0, 5, 12), failures) == paris(2027, 3, day, 0, 0)


def test_a_retry_day_starts_at_paris_midnight_across_the_dst_change() -> None:
    retry = retry_at(paris(2027, 3, 27, 16, 30), 2)  # +01:00; DST starts on the 28th
    assert retry == paris(2027, 3, 30, 0, 0)
    assert retry == datetime(2027, 3, 29, 22, 0, tzinfo=UTC)


def test_there_is_no_retry_after_the_third() -> None:
    assert retry_at(paris(2027, 2, 28, 0, 5), 4) is None


def test_days_left_counts_halves_and_unlimited_is_none() -> None:
    assert days_left(Decimal("2"), Decimal("1.5")) == Decimal("0.5")
    assert days_left(Decimal("2"), Decimal("2.5")) == Decimal(0)
    assert days_left(None, Decimal("7")) is None


def test_charge_keys_name_the_period_and_each_retry() -> None:
    assert charge_key("mbr_1", 3, 0) == "membership-mbr_1-period-3"
    assert charge_key("mbr_1", 3, 2) == "membership-mbr_1-period-3-retry-2"


def test_a_period_payment_subject_names_membership_and_period() -> None:
    assert parse_period_subject(period_subject("mbr_1", 12)) == ("mbr_1", 12)
    assert parse_period_subject("bkg_1") is None


# -- transitions ----------------------------------------------------------------------------


def test_saving_the_payment_method_anchors_the_first_period_on_the_paris_day() -> None:
    late_evening_utc = datetime(2027, 1, 30, 23, 30, tzinfo=UTC)  # 31 Jan in Paris
    saved = payment_method_saved(new_membership(), "pm_1", late_evening_utc)
    assert saved.anchor == date(2027, 1, 31)
    assert saved.is_due(late_evening_utc)
    assert saved.status is MembershipStatus.incomplete


def test_a_paid_first_period_activates_and_schedules_the_renewal() -> None:
    m = active_on(paris(2027, 1, 31, 10, 0))
    assert m.status is MembershipStatus.active
    assert (m.period, m.billing_period) == (1, 2)
    assert m.current_period_start == paris(2027, 1, 31, 0, 0)
    assert m.current_period_end == paris(2027, 2, 28, 0, 0)
    assert m.next_charge_at == paris(2027, 2, 28, 0, 0)
    assert m.lease_until is None


def test_reporting_the_same_payment_twice_changes_nothing_more() -> None:
    m = active_on(paris(2027, 1, 31, 10, 0))
    again = period_covered(m, 1, charge_key("mbr_1", 1, 0), settled=True)
    assert again == m


def test_a_new_period_starts_its_day_count_afresh() -> None:
    m = active_on(paris(2027, 1, 31, 10, 0)).model_copy(update={"days_used": Decimal("3.5")})
    key = charge_key("mbr_1", 2, 0)
    renewed = period_covered(claimed(m, key, paris(2027, 2, 28)), 2, key, settled=True)
    assert renewed.days_used == 0
    assert renewed.current_period_start == paris(2027, 2, 28, 0, 0)


def test_a_failed_renewal_is_past_due_then_retried_then_cancelled() -> None:
    # GIVEN an active membership whose renewal fails on 28 February
    m = active_on(paris(2027, 1, 31, 10, 0))
    first = paris(2027, 2, 28, 0, 5)
    m = renewal_failed(m, first)
    assert m.status is MembershipStatus.past_due
    assert m.next_charge_at == paris(2027, 3, 1, 0, 0)
    # WHEN each retry fails too
    m = renewal_failed(m, paris(2027, 3, 1, 0, 5))
    assert m.next_charge_at == paris(2027, 3, 3, 0, 0)
    m = renewal_failed(m, paris(2027, 3, 3, 0, 5))
    assert m.next_charge_at == paris(2027, 3, 7, 0, 0)
    m = renewal_failed(m, paris(2027, 3, 7, 0, 5))
    # THEN the membership is cancelled, off the due index, still on its last paid period
    assert m.status is MembershipStatus.cancelled
    assert m.due_at is None
    assert m.period == 1


def test_a_retry_that_succeeds_restores_the_membership() -> None:
    m = renewal_failed(active_on(paris(2027, 1, 31, 10, 0)), paris(2027, 2, 28, 0, 5))
    key = charge_key("mbr_1", 2, 1)
    paid = period_covered(claimed(m, key, paris(2027, 3, 1)), 2, key, settled=True)
    assert paid.status is MembershipStatus.active
    assert (paid.period, paid.billing_period, paid.failures) == (2, 3, 0)
    assert paid.failed_since is None
    # the period stays anchored: paying late does not move it
    assert paid.current_period_start == paris(2027, 2, 28, 0, 0)


def test_a_failure_reported_twice_counts_once() -> None:
    m = active_on(paris(2027, 1, 31, 10, 0))
    key = charge_key("mbr_1", 2, 0)
    at = paris(2027, 2, 28, 0, 5)
    once = charge_failed(claimed(m, key, at), 2, key, 0, at)
    assert charge_failed(once, 2, key, 0, at) == once


def test_a_failure_of_an_older_attempt_is_ignored() -> None:
    m = renewal_failed(active_on(paris(2027, 1, 31, 10, 0)), paris(2027, 2, 28, 0, 5))
    retry_key = charge_key("mbr_1", 2, 1)
    m = claimed(m, retry_key, paris(2027, 3, 1))
    stale = charge_failed(m, 2, charge_key("mbr_1", 2, 0), 0, paris(2027, 3, 1))
    assert stale == m


def test_a_sepa_debit_processing_gives_access_until_it_bounces() -> None:
    # GIVEN a renewal by SEPA debit that is processing
    m = active_on(paris(2027, 1, 31, 10, 0))
    key = charge_key("mbr_1", 2, 0)
    processing = period_covered(claimed(m, key, paris(2027, 2, 28)), 2, key, settled=False)
    assert processing.status is MembershipStatus.active
    assert processing.period == 2
    assert processing.charge_status == "processing"
    # WHEN the bank rejects the debit four days later
    bounced = charge_failed(processing, 2, key, 0, paris(2027, 3, 4, 9, 0))
    # THEN the period is owed again: past_due, retried the next day
    assert bounced.status is MembershipStatus.past_due
    assert (bounced.period, bounced.billing_period, bounced.failures) == (2, 2, 1)
    assert bounced.next_charge_at == paris(2027, 3, 5, 0, 0)


def test_a_processing_report_arriving_after_the_failure_changes_nothing() -> None:
    m = active_on(paris(2027, 1, 31, 10, 0))
    key = charge_key("mbr_1", 2, 0)
    processing = period_covered(claimed(m, key, paris(2027, 2, 28)), 2, key, settled=False)
    bounced = charge_failed(processing, 2, key, 0, paris(2027, 3, 4, 9, 0))
    assert period_covered(bounced, 2, key, settled=False) == bounced


def test_a_sepa_debit_that_settles_keeps_the_membership_active() -> None:
    m = active_on(paris(2027, 1, 31, 10, 0))
    key = charge_key("mbr_1", 2, 0)
    processing = period_covered(claimed(m, key, paris(2027, 2, 28)), 2, key, settled=False)
    settled = period_covered(processing, 2, key, settled=True)
    assert settled.status is MembershipStatus.active
    assert settled.charge_status == "succeeded"
    assert (settled.period, settled.billing_period) == (2, 3)


def test_a_first_charge_that_fails_leaves_the_membership_incomplete() -> None:
    saved = payment_method_saved(new_membership(), "pm_1", paris(2027, 1, 31, 10, 0))
    key = charge_key("mbr_1", 1, 0)
    failed = charge_failed(claimed(saved, key, paris(2027, 1, 31)), 1, key, 0, paris(2027, 1, 31))
    assert failed.status is MembershipStatus.incomplete
    assert failed.next_charge_at == paris(2027, 2, 1, 0, 0)


def test_a_catch_up_run_charges_the_current_period_not_the_missed_ones() -> None:
    m = active_on(paris(2027, 1, 31, 10, 0))  # period 2 was due on 28 February
    assert prepare_charge(m, paris(2027, 3, 3, 0, 5)).billing_period == 2
    assert prepare_charge(m, paris(2027, 4, 5, 0, 5)).billing_period == 3


def test_cancelling_an_active_membership_ends_it_at_period_end() -> None:
    m = cancel_requested(active_on(paris(2027, 1, 31, 10, 0)), paris(2027, 2, 10))
    assert m.status is MembershipStatus.active
    assert m.cancel_at_period_end
    ended = prepare_charge(m, paris(2027, 2, 28, 0, 5))
    assert ended.status is MembershipStatus.cancelled
    assert ended.due_at is None


def test_cancelling_an_unpaid_membership_ends_it_now() -> None:
    m = cancel_requested(new_membership(), paris(2027, 1, 31, 11, 0))
    assert m.status is MembershipStatus.cancelled
    assert m.cancelled_at == paris(2027, 1, 31, 11, 0)


def test_cancelling_while_the_first_charge_is_in_flight_lets_its_outcome_decide() -> None:
    saved = payment_method_saved(new_membership(), "pm_1", paris(2027, 1, 31, 10, 0))
    key = charge_key("mbr_1", 1, 0)
    in_flight = claimed(saved, key, paris(2027, 1, 31, 10, 15))
    asked = cancel_requested(in_flight, paris(2027, 1, 31, 10, 1))
    assert asked.status is MembershipStatus.incomplete and asked.cancel_at_period_end
    paid = period_covered(asked, 1, key, settled=True)
    assert paid.status is MembershipStatus.active and paid.cancel_at_period_end
    failed = charge_failed(asked, 1, key, 0, paris(2027, 1, 31, 10, 2))
    assert failed.status is MembershipStatus.cancelled


# -- replacing the payment method ---------------------------------------------------------


def started_setup(m: Membership, setup_id: str = "seti_2") -> Membership:
    return m.model_copy(update={"pending_setup_intent_id": setup_id})


def test_a_new_method_makes_a_failed_period_due_at_once() -> None:
    m = renewal_failed(active_on(paris(2027, 1, 31, 10, 0)), paris(2027, 2, 28, 0, 5))
    now = paris(2027, 2, 28, 11, 0)
    new = payment_method_replaced(started_setup(m), "seti_2", "pm_2", "sepa_debit", now)
    assert (new.payment_method_id, new.payment_method_type) == ("pm_2", "sepa_debit")
    assert new.next_charge_at == now and new.is_due(now)
    assert (new.failures, new.manual_retries, new.status) == (1, 1, MembershipStatus.past_due)
    # the same method reported again changes nothing: no second attempt
    assert payment_method_replaced(new, "seti_2", "pm_2", "sepa_debit", now) == new


def test_a_failed_attempt_with_a_new_method_keeps_the_retry_schedule() -> None:
    m = renewal_failed(active_on(paris(2027, 1, 31, 10, 0)), paris(2027, 2, 28, 0, 5))
    m = payment_method_replaced(started_setup(m), "seti_2", "pm_2", "card", paris(2027, 2, 28, 11))
    m = renewal_failed(m, paris(2027, 2, 28, 11, 0))
    assert m.status is MembershipStatus.past_due
    assert m.next_charge_at == paris(2027, 3, 1, 0, 0)  # as before the new card
    assert m.last_payment_error == "payment failed"
    for day in (1, 3):
        m = renewal_failed(m, paris(2027, 3, day, 0, 5))
        assert m.status is MembershipStatus.past_due
    assert renewal_failed(m, paris(2027, 3, 7, 0, 5)).status is MembershipStatus.cancelled


def test_a_paid_period_forgets_the_attempts_and_the_error() -> None:
    m = renewal_failed(active_on(paris(2027, 1, 31, 10, 0)), paris(2027, 2, 28, 0, 5))
    m = payment_method_replaced(started_setup(m), "seti_2", "pm_2", "card", paris(2027, 2, 28, 11))
    key = charge_key("mbr_1", 2, m.failures)
    paid = period_covered(claimed(m, key, paris(2027, 2, 28, 11)), 2, key, settled=True)
    assert (paid.status, paid.failures, paid.manual_retries) == (MembershipStatus.active, 0, 0)
    assert paid.last_payment_error is None


def test_an_active_membership_only_changes_its_method() -> None:
    m = active_on(paris(2027, 1, 31, 10, 0))
    new = payment_method_replaced(started_setup(m), "seti_2", "pm_2", "card", paris(2027, 2, 2))
    assert new.payment_method_id == "pm_2"
    assert new.next_charge_at == m.next_charge_at and new.manual_retries == 0


def test_an_older_setup_intent_or_a_cancelled_membership_changes_nothing() -> None:
    m = started_setup(active_on(paris(2027, 1, 31, 10, 0)), "seti_3")
    assert payment_method_replaced(m, "seti_2", "pm_2", "card", paris(2027, 2, 2)) == m
    gone = started_setup(cancel_requested(new_membership(), paris(2027, 2, 1)), "seti_2")
    assert payment_method_replaced(gone, "seti_2", "pm_2", "card", paris(2027, 2, 2)) == gone


def test_a_charge_in_flight_keeps_its_course() -> None:
    m = renewal_failed(active_on(paris(2027, 1, 31, 10, 0)), paris(2027, 2, 28, 0, 5))
    key = charge_key("mbr_1", 2, 1)
    in_flight = started_setup(claimed(m, key, paris(2027, 3, 1, 0, 20)))
    new = payment_method_replaced(in_flight, "seti_2", "pm_2", "card", paris(2027, 3, 1, 0, 6))
    assert new.payment_method_id == "pm_2"
    assert (new.next_charge_at, new.manual_retries) == (m.next_charge_at, 0)


def test_a_membership_never_set_up_takes_the_new_method_as_its_first() -> None:
    m = started_setup(new_membership())
    now = paris(2027, 2, 2, 9)
    new = payment_method_replaced(m, "seti_2", "pm_2", "sepa_debit", now)
    assert (new.anchor, new.payment_method_type, new.next_charge_at) == (
        date(2027, 2, 2),
        "sepa_debit",
        now.astimezone(UTC),
    )
