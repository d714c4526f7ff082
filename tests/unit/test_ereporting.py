"""E-reporting periods, aggregates and report types (pure rules), and the files' validity."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalicelib.adapters.flux10_xml import Header, payments_xml, transactions_xml
from chalicelib.domain.documents import Document
from chalicelib.domain.ereporting import (
    Period,
    closed_periods,
    last_closed_period,
    next_type_code,
    payment_days,
    ten_day_period,
    transaction_days,
)
from tests.support.einvoicing import flux10_failures
from tests.unit.test_invoice_pdf import b2b_invoice, credit_note, invoice

DECEMBER = Period(date(2026, 12, 1), date(2026, 12, 31))


def typed(*documents: dict[str, Any]) -> list[Document]:
    return [Document.of(document) for document in documents]


HEADER = Header("732829320-TX-01", "20270101040000", "IN", "2728", "PA", "732829320", "SCIC")


def test_ten_day_periods_end_on_the_10th_the_20th_and_the_month_end() -> None:
    assert ten_day_period(date(2027, 2, 25)) == Period(date(2027, 2, 21), date(2027, 2, 28))
    assert ten_day_period(date(2027, 2, 11)) == Period(date(2027, 2, 11), date(2027, 2, 20))


def test_the_last_closed_payments_period_is_the_previous_month() -> None:
    assert last_closed_period("payments", date(2027, 1, 1)) == DECEMBER


def test_the_job_looks_back_at_every_closed_ten_day_period() -> None:
    periods = closed_periods("transactions", date(2027, 1, 1), timedelta(days=20))
    assert [p.start.day for p in periods] == [11, 21]


def test_business_buyers_are_left_out_and_credit_notes_net_the_day() -> None:
    (day,) = transaction_days(typed(invoice(), credit_note(), b2b_invoice()), DECEMBER)
    assert (day.count, day.base, day.vat) == (2, 0, 0)


def test_payments_are_reported_vat_included_per_rate() -> None:
    (day,) = payment_days(typed(invoice()), DECEMBER)
    assert [(r.rate, r.base) for r in day.rates] == [("20.00", 1500)]


def test_a_changed_period_is_corrected_and_an_unchanged_one_left_alone() -> None:
    assert next_type_code([], "a") == "IN"
    assert next_type_code(["a"], "b") == "RE"
    assert next_type_code(["a", "b"], "b") is None


def test_both_files_pass_the_flux_10_xsd_and_schematron() -> None:
    days = transaction_days(typed(invoice()), DECEMBER)
    assert flux10_failures(transactions_xml(HEADER, DECEMBER, days)) == []
    assert (
        flux10_failures(payments_xml(HEADER, DECEMBER, payment_days(typed(invoice()), DECEMBER)))
        == []
    )


def test_a_wrong_platform_number_is_caught_by_the_schematron() -> None:
    bad = Header("x", "20270101040000", "IN", "27281", "PA", "732829320", "SCIC")
    failures = flux10_failures(transactions_xml(bad, DECEMBER, []))
    assert any("[G6.22]" in failure for failure in failures)
