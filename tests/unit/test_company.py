"""Pure rules of company accounts: billed month, due date, lines, payments, VAT shares."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.company import (
    Company,
    NewCompany,
    NewInvoicePayment,
    billable,
    booking_sale,
    invoice_source,
    payment_due_date,
    payment_entry,
    payment_status,
    previous_month,
    vat_share,
)
from chalicelib.domain.documents import Document, VatLine
from chalicelib.domain.invoice import document_line, legal_mentions, totals, vat_breakdown
from chalicelib.domain.money import price_from_incl_vat

PARIS = ZoneInfo("Europe/Paris")


def company_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Atelier Brie SAS",
        "siren": "552100554",
        "billing_address": {"line1": "12 rue de la Gare", "postcode": "77300", "city": "Avon"},
        "billing_email": "compta@atelier-brie.fr",
        "operator_id": "op_1",
        **overrides,
    }


def booking(**overrides: Any) -> Booking:
    fields: dict[str, Any] = {
        "id": "bkg_1",
        "member_id": "emp-1",
        "relay_id": "rly_1",
        "resource_id": "res_1",
        "operator_id": "op_1",
        "date": date(2026, 12, 2),
        "unit": "day",
        "start": datetime(2026, 12, 2, 8, 0, tzinfo=PARIS),
        "end": datetime(2026, 12, 2, 19, 0, tzinfo=PARIS),
        "slots": [0],
        "status": BookingStatus.confirmed,
        "price": {"amount": 1500, "amount_excl_vat": 1250, "vat_amount": 250, "vat_rate": "20.00"},
        "payment_method": "company",
        "company_id": "cmp_1",
        "created_at": datetime(2026, 12, 1, 7, 0, tzinfo=PARIS),
        **overrides,
    }
    return Booking(**fields)


def invoice(lines: list[dict[str, Any]]) -> Document:
    return Document.of(
        {
            "id": "inv-op_1-2027-000001",
            "number": "RL-2027-000001",
            "type": "invoice",
            "issued_at": "2027-01-01T02:00:00+01:00",
            "operator_id": "op_1",
            "company_id": "cmp_1",
            "member_id": None,
            "seller": {"name": "Relais SAS"},
            "buyer": {"name": "Atelier Brie SAS", "company_name": "Atelier Brie SAS"},
            "lines": lines,
            "totals": totals(lines),
            "vat_breakdown": vat_breakdown(lines),
            "payment": {"status": "due", "method": "transfer"},
            "legal_mentions": [],
            "previous_hash": "0" * 64,
            "hash": "1" * 64,
        }
    )


def test_company_siren_must_pass_luhn() -> None:
    assert NewCompany.model_validate(company_body()).siren == "552100554"
    for bad in ("552100555", "55210055", "55210055a"):
        with pytest.raises(ValidationError):
            NewCompany.model_validate(company_body(siren=bad))
    with pytest.raises(ValidationError):
        NewCompany.model_validate(company_body(billing_email="not-an-email"))


@pytest.mark.parametrize(
    ("as_of", "month"),
    [
        (datetime(2027, 1, 1, 2, 0, tzinfo=UTC), (2026, 12)),  # the cron of 1 January
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), (2026, 11)),  # already 1 Dec in Paris
        (datetime(2026, 11, 30, 22, 59, tzinfo=UTC), (2026, 10)),  # still 30 Nov in Paris
        (datetime(2026, 3, 31, 23, 0, tzinfo=PARIS), (2026, 2)),
    ],
)
def test_a_run_bills_the_month_before_in_paris(as_of: datetime, month: tuple[int, int]) -> None:
    assert previous_month(as_of) == month


def test_source_is_one_per_company_and_month() -> None:
    assert invoice_source("cmp_1", 2026, 3) == "company-cmp_1-2026-03"


@pytest.mark.parametrize(
    ("billed", "issued_on", "due"),
    [
        ((2026, 12), date(2027, 1, 1), date(2027, 1, 31)),  # on time: end of next month
        ((2027, 1), date(2027, 2, 1), date(2027, 3, 3)),  # February is short: 30 days
        ((2026, 12), date(2027, 3, 10), date(2027, 4, 9)),  # catch-up: 30 days to pay
        ((2026, 12), date(2026, 12, 1), date(2027, 1, 30)),  # early: never beyond 60 days
    ],
)
def test_payment_due_date(billed: tuple[int, int], issued_on: date, due: date) -> None:
    assert payment_due_date(*billed, issued_on) == due


def test_a_line_per_booking_says_when_what_where_and_who() -> None:
    sale = booking_sale(
        booking(), relay="Gare de Melun", resource="Open space", employee="Alice", tz="Europe/Paris"
    )
    assert sale.description == "02/12/2026 — Journée — Open space, Gare de Melun — Alice"
    assert sale.amount_incl_vat == 1500
    assert sale.vat_rate == Decimal("20.00")
    assert sale.service_date == date(2026, 12, 2)
    hour = booking(
        unit="hour",
        start=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
        end=datetime(2026, 12, 2, 11, 0, tzinfo=UTC),
    )
    text = booking_sale(hour, relay="R", resource="S", employee="B", tz="Europe/Paris").description
    assert "10:00–12:00" in text  # shown in the relay's time zone


def test_only_the_company_s_billable_bookings_are_invoiced_in_order() -> None:
    found = [
        booking(id="b3", date=date(2026, 12, 9)),
        booking(id="b1", status=BookingStatus.no_show),
        booking(id="b2", status=BookingStatus.cancelled),
        booking(id="b4", company_id="cmp_2"),
        booking(id="b5", status=BookingStatus.checked_in),
        booking(id="b6", status=BookingStatus.expired),
        booking(id="b7", status=BookingStatus.completed, date=date(2026, 12, 3)),
    ]
    assert [b.id for b in billable(found, "cmp_1")] == ["b1", "b5", "b7", "b3"]


def test_b2b_mentions_with_a_due_date() -> None:
    mentions = legal_mentions(
        {"vat_regime": "normal"},
        {"siren": "552100554"},
        {"status": "due", "due_date": "2027-01-31"},
        None,
    )
    text = " | ".join(mentions)
    assert "au plus tard le 31/01/2027" in text
    assert "prestations de services" in text
    assert "40 €" in text


def test_payment_status() -> None:
    assert payment_status(5500, 0) == "due"
    assert payment_status(5500, 1) == "partially_paid"
    assert payment_status(5500, 5500) == "paid"


def test_a_bank_payment_debits_the_bank_and_credits_the_customer() -> None:
    lines = payment_entry(
        invoice([]),
        payment_id="cpay_x",
        amount=5500,
        paid_on=date(2027, 1, 15),
        reference="VIR-1",
        method="transfer",
        recorded_at=datetime(2027, 1, 20, tzinfo=UTC),
    )
    assert [(li.account, li.debit, li.credit) for li in lines] == [
        ("512000", 5500, 0),
        ("411000", 0, 5500),
    ]
    assert {li.entry_id for li in lines} == {"inv-op_1-2027-000001-cpay_x"}
    assert {li.journal.value for li in lines} == {"BQ"}
    assert lines[1].aux_account == "cmp_1" and lines[0].aux_account == ""
    assert lines[0].label.startswith("Virement RL-2027-000001")
    assert lines[0].entry_date == date(2027, 1, 15)


def test_a_bank_payment_uses_the_operators_own_accounts_and_journal() -> None:
    from chalicelib.domain.ledger import Chart, JournalCodes

    lines = payment_entry(
        invoice([]),
        payment_id="cpay_x",
        amount=5500,
        paid_on=date(2027, 1, 15),
        reference="VIR-1",
        method="transfer",
        recorded_at=datetime(2027, 1, 20, tzinfo=UTC),
        chart=Chart(bank="512300", customers="411200"),
        journals=JournalCodes(bank="BNP"),
    )
    assert [(li.journal, li.account, li.account_label) for li in lines] == [
        ("BNP", "512300", "Banque"),
        ("BNP", "411200", "Clients"),
    ]


def test_vat_shares_of_payments_add_up_to_the_invoice() -> None:
    lines = [
        document_line(booking_sale(booking(), "R", "S", "A", "Europe/Paris"), franchise=False),
        document_line(
            booking_sale(
                booking(price=price_from_incl_vat(1001, "5.50").to_dict()),
                "R",
                "S",
                "A",
                "Europe/Paris",
            ),
            franchise=False,
        ),
    ]
    doc = invoice(lines)
    total = doc.totals.incl_vat
    breakdown = [vat.canonical() for vat in doc.vat_breakdown]
    assert vat_share(doc, total) == breakdown
    paid, received = 0, []
    for amount in (333, 1000, total - 1333):
        shares = vat_share(doc, amount, paid, received=received)
        assert all(share["base"] >= 0 and share["vat"] >= 0 for share in shares)
        received += shares
        paid += amount
    assert summed(received) == breakdown


def summed(shares: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sums: dict[str, list[int]] = {}
    for share in shares:
        pair = sums.setdefault(share["rate"], [0, 0])
        pair[0] += share["base"]
        pair[1] += share["vat"]
    return [{"rate": r, "base": b, "vat": v} for r, (b, v) in sums.items() if b or v]


def two_rates() -> tuple[Document, list[VatLine]]:
    """An invoice of a desk (15.00 at 20 %) and an office (44.00 at 10 %), and the VAT
    breakdown of the credit note of the desk's line."""
    desk = document_line(booking_sale(booking(), "R", "S", "A", "Europe/Paris"), franchise=False)
    office_price = price_from_incl_vat(4400, "10.00").to_dict()
    office = document_line(
        booking_sale(booking(id="bkg_2", price=office_price), "R", "S", "B", "Europe/Paris"),
        franchise=False,
    )
    credited = [VatLine(rate="20.00", base=-1250, vat=-250)]
    return invoice([desk, office]), credited


def test_a_payment_after_a_credit_note_carries_the_vat_of_what_it_left() -> None:
    doc, credited = two_rates()
    assert vat_share(doc, 4400, credited=credited) == [{"rate": "10.00", "base": 4000, "vat": 400}]
    part = vat_share(doc, 2200, credited=credited)
    assert part == [{"rate": "10.00", "base": 2000, "vat": 200}]


def test_payments_before_and_after_a_credit_note_add_up_to_what_was_due() -> None:
    doc, credited = two_rates()
    first = vat_share(doc, 2000)  # pro rata of both rates, before the credit note
    assert {share["rate"] for share in first} == {"20.00", "10.00"}
    rest = vat_share(doc, 2400, 2000, credited=credited, received=first)
    assert summed(first + rest) == [{"rate": "10.00", "base": 4000, "vat": 400}]


def test_payment_body() -> None:
    dated = NewInvoicePayment.model_validate(
        {"amount": 10, "method": "transfer", "paid_at": "2027-01-15", "reference": "R"}
    )
    assert dated.paid_at == date(2027, 1, 15)
    timed = NewInvoicePayment.model_validate(
        {
            "amount": 10,
            "method": "sepa_debit",
            "paid_at": "2027-01-15T10:00:00+01:00",
            "reference": "R",
        }
    )
    assert isinstance(timed.paid_at, datetime)
    for bad in (
        {"amount": 0},
        {"method": "card"},
        {"reference": ""},
        {"paid_at": "2027-01-15T10:00"},
    ):
        with pytest.raises(ValidationError):
            NewInvoicePayment.model_validate(
                {
                    "amount": 10,
                    "method": "transfer",
                    "paid_at": "2027-01-15",
                    "reference": "R",
                    **bad,
                }
            )


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "Atelier\nDupont"},
        {"billing_address": {"line1": "1 rue\tde la Gare", "postcode": "77000", "city": "Melun"}},
        {"service_code": "SERVICE\r\n1"},
    ],
)
def test_a_company_with_a_control_character_in_a_one_line_text_is_refused(
    bad: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError, match="one line"):
        NewCompany.model_validate(company_body(**bad))


def test_a_company_stored_with_a_line_break_in_its_name_is_read_as_one_line() -> None:
    stored = {
        **company_body(name="Atelier\nDupont"),
        "id": "co_1",
        "created_at": "2026-12-01T08:00:00Z",
    }
    assert Company.model_validate(stored).name == "Atelier Dupont"


def test_a_payment_reference_is_one_line() -> None:
    with pytest.raises(ValidationError, match="one line"):
        NewInvoicePayment.model_validate(
            {"amount": 10, "method": "transfer", "paid_at": "2027-01-15", "reference": "R\n1"}
        )


@pytest.mark.parametrize(
    "email",
    [
        "a,b@example.org",
        "a;b@example.org",
        "a@b.org,c@d.org",
        "<a@b.org>",
        'a"b@c.org',
        "a\\b@c.org",
    ],
)
def test_an_email_is_one_address_without_header_specials(email: str) -> None:
    # A comma or a semicolon would make one address two in a mail header.
    with pytest.raises(ValidationError):
        NewCompany.model_validate(company_body(billing_email=email))
    assert NewCompany.model_validate(company_body(billing_email="o'neil+relais@b.example.fr"))
