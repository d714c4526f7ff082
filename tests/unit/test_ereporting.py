"""E-reporting periods, aggregates and report types (pure rules), and the files' validity."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from chalicelib.adapters.flux10_xml import (
    Header,
    payments_xml,
    refusals,
    same_content,
    transactions_xml,
)
from chalicelib.domain.documents import Document
from chalicelib.domain.ereporting import (
    CALENDAR,
    DayTotal,
    Period,
    RateTotal,
    closed_periods,
    due_by,
    figures_digest,
    international_payments,
    international_refunds_left_out,
    international_sales,
    last_closed_period,
    month_period,
    next_type_code,
    payment_days,
    periods_to_report,
    refunds_beyond_receipts,
    regime_of,
    report_period,
    ten_day_period,
    transaction_days,
    two_month_period,
)
from tests.support.einvoicing import flux10_failures
from tests.unit.test_invoice import EU_BUSINESS
from tests.unit.test_invoice_pdf import (
    PAID_BY_CARD,
    b2b_invoice,
    credit_note,
    debits_invoice,
    franchise_invoice,
    invoice,
)

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


def d(text: str) -> date:
    return date.fromisoformat(text)


def p(start: str, end: str) -> Period:
    return Period(d(start), d(end))


@pytest.mark.parametrize(
    ("day", "decade"),
    [
        ("2027-03-01", p("2027-03-01", "2027-03-10")),
        ("2027-03-10", p("2027-03-01", "2027-03-10")),
        ("2027-03-11", p("2027-03-11", "2027-03-20")),
        ("2027-03-20", p("2027-03-11", "2027-03-20")),
        ("2027-03-21", p("2027-03-21", "2027-03-31")),
        ("2027-03-31", p("2027-03-21", "2027-03-31")),
        ("2027-04-30", p("2027-04-21", "2027-04-30")),
        ("2027-02-28", p("2027-02-21", "2027-02-28")),
        ("2028-02-29", p("2028-02-21", "2028-02-29")),  # leap year
        ("2100-02-21", p("2100-02-21", "2100-02-28")),  # not a leap year (century)
        ("2000-02-21", p("2000-02-21", "2000-02-29")),  # a leap year (400)
    ],
)
def test_decades_run_1_to_10_11_to_20_and_21_to_the_months_end(day: str, decade: Period) -> None:
    assert ten_day_period(d(day)) == decade


@pytest.mark.parametrize(
    ("day", "month", "two_months"),
    [
        ("2027-01-15", p("2027-01-01", "2027-01-31"), p("2027-01-01", "2027-02-28")),
        ("2027-02-28", p("2027-02-01", "2027-02-28"), p("2027-01-01", "2027-02-28")),
        ("2028-02-10", p("2028-02-01", "2028-02-29"), p("2028-01-01", "2028-02-29")),
        ("2027-04-01", p("2027-04-01", "2027-04-30"), p("2027-03-01", "2027-04-30")),
        ("2027-12-31", p("2027-12-01", "2027-12-31"), p("2027-11-01", "2027-12-31")),
    ],
)
def test_months_and_two_month_periods(day: str, month: Period, two_months: Period) -> None:
    assert month_period(d(day)) == month
    assert two_month_period(d(day)) == two_months


def test_the_calendar_follows_the_vat_regime_and_filing() -> None:
    assert regime_of("normal", "normal_monthly") == "normal_monthly"
    assert regime_of("normal", "normal_quarterly") == "normal_quarterly"
    assert regime_of("normal", "simplified") == "simplified"
    assert regime_of("franchise", "normal_monthly") == "franchise"  # filing ignored
    day = d("2027-05-15")
    assert report_period("transactions", day, "normal_monthly") == p("2027-05-11", "2027-05-20")
    assert report_period("payments", day, "normal_monthly") == p("2027-05-01", "2027-05-31")
    for regime in ("normal_quarterly", "simplified"):
        assert CALENDAR[regime] == {"transactions": "month", "payments": "month"}
        assert report_period("transactions", day, regime) == p("2027-05-01", "2027-05-31")
    assert report_period("payments", day, "franchise") == p("2027-05-01", "2027-06-30")


def test_the_closed_periods_across_a_leap_february() -> None:
    got = closed_periods("transactions", d("2028-03-01"), timedelta(days=20), "normal_monthly")
    assert got == [  # 20 days before 1 March 2028 is 10 February (29 days in February)
        p("2028-02-01", "2028-02-10"),
        p("2028-02-11", "2028-02-20"),
        p("2028-02-21", "2028-02-29"),
    ]
    got = closed_periods("transactions", d("2028-03-01"), timedelta(days=62), "franchise")
    assert got == [p("2027-11-01", "2027-12-31"), p("2028-01-01", "2028-02-29")]
    assert closed_periods("payments", d("2028-02-29"), timedelta(days=62), "franchise") == [
        p("2027-11-01", "2027-12-31")  # January-February has not ended on the 29th
    ]
    assert last_closed_period("transactions", d("2027-03-01"), "simplified") == p(
        "2027-02-01", "2027-02-28"
    )


@pytest.mark.parametrize(
    ("kind", "period", "regime", "due"),
    [
        ("transactions", p("2027-02-01", "2027-02-10"), "normal_monthly", "2027-02-20"),
        ("transactions", p("2027-02-11", "2027-02-20"), "normal_monthly", "2027-02-28"),
        ("transactions", p("2028-02-11", "2028-02-20"), "normal_monthly", "2028-02-29"),
        ("transactions", p("2027-02-21", "2027-02-28"), "normal_monthly", "2027-03-10"),
        ("payments", p("2027-02-01", "2027-02-28"), "normal_monthly", "2027-03-10"),
        ("transactions", p("2027-02-01", "2027-02-28"), "normal_quarterly", "2027-03-10"),
        ("payments", p("2027-12-01", "2027-12-31"), "simplified", "2028-01-25"),
        ("transactions", p("2027-01-01", "2027-02-28"), "franchise", "2027-03-25"),
    ],
)
def test_deadlines_follow_the_table(kind: Any, period: Period, regime: Any, due: str) -> None:
    assert due_by(kind, period, regime) == d(due)


def test_periods_reported_under_another_frequency_are_neither_repeated_nor_lost() -> None:
    months = [p("2027-01-01", "2027-01-31"), p("2027-02-01", "2027-02-28")]
    decades = {p("2027-01-01", "2027-01-10"), p("2027-01-11", "2027-01-20")}
    # décades until 20 January, then monthly: the rest of January, then February
    assert periods_to_report(months, decades) == [
        p("2027-01-01", "2027-01-10"),
        p("2027-01-11", "2027-01-20"),
        p("2027-01-21", "2027-01-31"),
        p("2027-02-01", "2027-02-28"),
    ]
    # the next run finds the rest of January reported: kept as is (for a correction)
    assert periods_to_report(months, {*decades, p("2027-01-21", "2027-01-31")}) == [
        p("2027-01-01", "2027-01-10"),
        p("2027-01-11", "2027-01-20"),
        p("2027-01-21", "2027-01-31"),
        p("2027-02-01", "2027-02-28"),
    ]
    # monthly, then décades: a month already reported covers its décades
    january = {p("2027-01-01", "2027-01-31")}
    decades_after = [p("2027-01-21", "2027-01-31"), p("2027-02-01", "2027-02-10")]
    assert periods_to_report(decades_after, january) == [
        p("2027-01-01", "2027-01-31"),
        p("2027-02-01", "2027-02-10"),
    ]
    assert periods_to_report([], january) == []


def test_business_buyers_are_left_out_and_credit_notes_net_the_day() -> None:
    (day,) = transaction_days(typed(invoice(), credit_note(), b2b_invoice()), DECEMBER)
    assert (day.count, day.base, day.vat) == (2, 0, 0)


def test_payments_are_reported_vat_included_per_rate() -> None:
    (day,) = payment_days(typed(invoice()), DECEMBER)
    assert [(r.rate, r.base) for r in day.rates] == [("20.00", 1500)]


def refund_on(day: str) -> dict[str, Any]:
    """The day pass's credit note, refunded (paid back) on `day`."""
    return {**credit_note(), "payment": {**PAID_BY_CARD, "paid_at": f"{day}T09:00:00+01:00"}}


def test_a_business_of_another_eu_state_is_left_out_of_the_b2c_aggregates() -> None:
    foreign = {**invoice(), "buyer": EU_BUSINESS}
    assert transaction_days(typed(foreign), DECEMBER) == []
    assert payment_days(typed(foreign), DECEMBER) == []


def test_a_refund_on_a_day_of_receipts_at_its_rate_is_deducted_from_them() -> None:
    (day,) = payment_days(typed(invoice(), invoice(), refund_on("2026-12-02")), DECEMBER)
    assert [(r.rate, r.base) for r in day.rates] == [("20.00", 1500)]


def test_a_refund_beyond_its_day_s_receipts_is_not_reported_as_a_negative_payment() -> None:
    documents = typed(invoice(), refund_on("2026-12-03"))
    assert [(d.day, [r.base for r in d.rates]) for d in payment_days(documents, DECEMBER)] == [
        (date(2026, 12, 2), [1500])
    ]
    (beyond,) = refunds_beyond_receipts(documents, DECEMBER)
    assert (beyond.day, [(r.rate, r.base) for r in beyond.rates]) == (
        date(2026, 12, 3),
        [("20.00", 1500)],
    )
    assert flux10_failures(payments_xml(HEADER, DECEMBER, payment_days(documents, DECEMBER))) == []


def test_the_refund_s_credit_note_counts_negatively_on_its_day_of_issue() -> None:
    note = {**credit_note(), "issued_at": "2026-12-03T09:00:00+01:00"}
    days = transaction_days(typed(invoice(), note), DECEMBER)
    assert [(d.day, d.base, d.vat) for d in days] == [
        (date(2026, 12, 2), 1250, 250),
        (date(2026, 12, 3), -1250, -250),
    ]
    assert flux10_failures(transactions_xml(HEADER, DECEMBER, days)) == []


NEGATIVE = [DayTotal(date(2026, 12, 3), "EUR", (RateTotal("20.00", -1500, 0),), 1)]
ONE_DAY = Period(date(2026, 12, 31), date(2026, 12, 31))


@pytest.mark.parametrize(
    ("xml", "rule"),
    [
        (payments_xml(HEADER, DECEMBER, NEGATIVE), "[G1.16]"),
        (payments_xml(HEADER, ONE_DAY, []), "[G6.25]"),
        (transactions_xml(replace(HEADER, type_code="XX"), DECEMBER, []), "[G8.01]"),
        (
            payments_xml(
                HEADER,
                DECEMBER,
                [DayTotal(date(2026, 12, 3), "EUR", (RateTotal("21.00", 100, 0),), 1)],
            ),
            "[G1.24]",
        ),
    ],
)
def test_the_guard_refuses_what_the_schematron_refuses(xml: bytes, rule: str) -> None:
    assert any(rule in problem for problem in refusals(xml))
    assert any(rule in failure for failure in flux10_failures(xml))


def test_the_guard_passes_the_files_the_schematron_passes() -> None:
    documents = typed(invoice(), credit_note(), refund_on("2026-12-03"))
    files = [
        transactions_xml(HEADER, DECEMBER, transaction_days(documents, DECEMBER)),
        payments_xml(HEADER, DECEMBER, payment_days(documents, DECEMBER)),
    ]
    assert [(refusals(xml), flux10_failures(xml)) for xml in files] == [([], []), ([], [])]


def test_two_files_differing_only_by_their_header_say_the_same() -> None:
    days = payment_days(typed(invoice()), DECEMBER)
    again = replace(HEADER, id="732829320-TX-02", issued_at="20270102040000", type_code="RE")
    assert same_content(payments_xml(HEADER, DECEMBER, days), payments_xml(again, DECEMBER, days))
    assert not same_content(
        payments_xml(HEADER, DECEMBER, days), payments_xml(HEADER, DECEMBER, [])
    )


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


# -- flux 10.1: sales to businesses of other EU states ------------------------------------


def abroad(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "buyer": EU_BUSINESS}


def test_a_sale_to_a_business_of_another_eu_state_is_reported_invoice_by_invoice() -> None:
    documents = typed(abroad(invoice()), abroad(credit_note()), invoice(), b2b_invoice())

    sold, credited = international_sales(documents, DECEMBER)

    assert (sold.number, sold.type_code, sold.refers_to) == ("RL-2026-000001", "380", None)
    assert (sold.buyer_vat, sold.buyer_country) == ("DE136695976", "DE")
    assert (sold.seller_siren, sold.seller_vat[:2]) == ("732829320", "FR")
    assert [(r.rate, r.base, r.vat) for r in sold.rates] == [("20.00", 1250, 250)]
    # a credit note states positive amounts (its type credits) and the invoice it credits
    assert (credited.type_code, credited.refers_to) == (
        "381",
        ("RL-2026-000001", date(2026, 12, 2)),
    )
    assert (credited.base, credited.vat) == (1250, 250)
    # the consumer's day still goes to flux 10.3, and the French business to neither
    assert [d.count for d in transaction_days(documents, DECEMBER)] == [1]


def test_a_file_with_international_sales_passes_the_flux_10_xsd_and_schematron() -> None:
    documents = typed(abroad(invoice()), abroad(credit_note()), invoice())
    sales = international_sales(documents, DECEMBER)
    days = transaction_days(documents, DECEMBER)

    both = transactions_xml(HEADER, DECEMBER, days, sales)
    alone = transactions_xml(HEADER, DECEMBER, [], sales)

    assert [(refusals(xml), flux10_failures(xml)) for xml in (both, alone)] == [([], []), ([], [])]
    assert both.count(b"<Invoice>") == 2 and b"<Transactions>" in both
    assert both.index(b"<Invoice>") < both.index(b"<Transactions>")  # the XSD's order


def test_a_franchise_seller_reports_its_sale_exempt_with_its_reason() -> None:
    sales = international_sales(typed(abroad(franchise_invoice())), DECEMBER)
    xml = transactions_xml(HEADER, DECEMBER, [], sales)
    assert b"<Code>E</Code>" in xml and b"VATEX-FR-FRANCHISE" in xml
    assert (refusals(xml), flux10_failures(xml)) == ([], [])


def test_the_guard_refuses_an_international_sale_the_schematron_refuses() -> None:
    (sale,) = international_sales(typed(abroad(credit_note())), DECEMBER)
    broken = [replace(sale, refers_to=None), replace(sale, buyer_country="Germany")]
    for bad, rule in zip(broken, ("[G1.32]", "[G2.01]"), strict=True):
        xml = transactions_xml(HEADER, DECEMBER, [], [bad])
        assert any(rule in problem for problem in refusals(xml)), rule
        assert any(rule in failure for failure in flux10_failures(xml)), rule


def test_a_file_without_international_sales_keeps_its_fingerprint() -> None:
    days = transaction_days(typed(invoice()), DECEMBER)
    assert figures_digest(days, []) == figures_digest(days)
    sales = international_sales(typed(abroad(invoice())), DECEMBER)
    assert figures_digest(days, sales) != figures_digest(days)


def test_the_money_received_for_an_international_sale_is_reported_invoice_by_invoice() -> None:
    documents = typed(abroad(invoice()), invoice())

    (paid,) = international_payments(documents, DECEMBER)

    assert (paid.number, paid.issued_on, paid.paid_on) == (
        "RL-2026-000001",
        date(2026, 12, 2),
        date(2026, 12, 2),
    )
    assert [(r.rate, r.base) for r in paid.rates] == [("20.00", 1500)]  # VAT included
    days = payment_days(documents, DECEMBER)
    both = payments_xml(HEADER, DECEMBER, days, [paid])
    alone = payments_xml(HEADER, DECEMBER, [], [paid])
    assert [(refusals(xml), flux10_failures(xml)) for xml in (both, alone)] == [([], []), ([], [])]
    assert both.index(b"<Invoice>") < both.index(b"<Transactions>")  # the XSD's order
    assert figures_digest(days, [], [paid]) != figures_digest(days)


def test_a_refund_is_deducted_from_what_its_invoice_received_in_the_period() -> None:
    refunded = {**refund_on("2026-12-03"), "buyer": EU_BUSINESS}
    documents = typed(abroad(invoice()), refunded)
    # refunded in full in the period: nothing was received and kept, as in flux 10.4
    assert international_payments(documents, DECEMBER) == []
    assert international_refunds_left_out(documents, DECEMBER) == []
    # refunded the next month: December keeps its payment; January cannot say the refund
    # (unsigned amounts): it is left out, for the VAT return
    january = Period(date(2027, 1, 1), date(2027, 1, 31))
    later = typed(abroad(invoice()), {**refund_on("2027-01-05"), "buyer": EU_BUSINESS})
    assert [p.number for p in international_payments(later, DECEMBER)] == ["RL-2026-000001"]
    assert international_payments(later, january) == []
    (left,) = international_refunds_left_out(later, january)
    assert (left.number, [(r.rate, r.base) for r in left.rates]) == (
        "RL-2026-000001",
        [("20.00", 1500)],
    )


def test_an_international_sale_says_what_its_invoice_says_of_its_process_and_vat_point() -> None:
    paid, on_debits = typed(abroad(invoice()), abroad(debits_invoice()))
    (card,) = international_sales([paid], DECEMBER)
    (transfer,) = international_sales([on_debits], DECEMBER)
    assert (card.business_process, card.vat_due) == ("S2", "72")  # paid; VAT on receipt
    assert (transfer.business_process, transfer.vat_due) == ("S1", "5")  # due; on debits
    xml = transactions_xml(HEADER, DECEMBER, [], [card, transfer])
    assert b"<TaxDueDateTypeCode>5</TaxDueDateTypeCode>" in xml
    assert (refusals(xml), flux10_failures(xml)) == ([], [])


def test_a_buyer_without_an_address_is_placed_by_its_vat_number() -> None:
    greek = {**EU_BUSINESS, "vat_number": "EL094259216", "address": None}
    (sale,) = international_sales(typed({**invoice(), "buyer": greek}), DECEMBER)
    assert sale.buyer_country == "GR"
    xml = transactions_xml(HEADER, DECEMBER, [], [sale])
    assert (refusals(xml), flux10_failures(xml)) == ([], [])


def test_the_guard_refuses_amounts_in_another_currency_as_the_schematron_does() -> None:
    dollars = {**abroad(invoice()), "currency": "USD"}
    sales = international_sales(typed(dollars), DECEMBER)
    paid = international_payments(typed(dollars), DECEMBER)
    for xml, rule in (
        (transactions_xml(HEADER, DECEMBER, [], sales), "[G6.23]"),
        (payments_xml(HEADER, DECEMBER, [], paid), "[G6.27]"),
    ):
        assert any(rule in problem for problem in refusals(xml)), rule
        assert any(rule in failure for failure in flux10_failures(xml)), rule


def test_the_b2c_days_of_a_seller_on_debits_say_when_their_vat_is_due() -> None:
    days = transaction_days(typed(invoice()), DECEMBER)
    xml = transactions_xml(HEADER, DECEMBER, days, on_debits=True)
    assert b"<TaxDueDateTypeCode>5</TaxDueDateTypeCode>" in xml  # TT-80
    assert (refusals(xml), flux10_failures(xml)) == ([], [])
    assert b"TaxDueDateTypeCode" not in transactions_xml(HEADER, DECEMBER, days)
