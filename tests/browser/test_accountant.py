"""An accountant downloads the FEC, the VAT report and the invoices CSV of an operator."""

from __future__ import annotations

import json

import pytest

from tests.browser.pages import BookingPage

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]
OPERATOR = "Relais Briards (SIREN 912345675)"


def accountant_view(page: BookingPage) -> BookingPage:
    page.open("comptable")
    page.sign_in_as_demo("comptable")
    page.page.get_by_label("Opérateur").select_option(label=OPERATOR)
    return page


def test_accountant_downloads_the_fec_of_the_year(booking_page: BookingPage) -> None:
    fec = accountant_view(booking_page).download("Télécharger le FEC")

    assert fec.name.startswith("912345675FEC") and fec.name.endswith("1231.txt")
    assert fec.body.decode().startswith("JournalCode|JournalLib|EcritureNum|")


def test_accountant_downloads_the_vat_report_of_the_month(booking_page: BookingPage) -> None:
    vat = accountant_view(booking_page).download("Télécharger le rapport de TVA")

    report = json.loads(vat.body)
    assert vat.name.startswith("tva-") and vat.name.endswith(".json")
    assert set(report) >= {"lines", "total_vat"}
    assert booking_page.page.get_by_role("table").first.is_visible()


def test_accountant_downloads_the_invoices_csv_of_the_period(booking_page: BookingPage) -> None:
    csv = accountant_view(booking_page).download("Télécharger les factures (CSV)")

    assert csv.name.endswith(".csv")
    assert csv.body.decode("utf-8-sig").startswith("number;type;issued_at;")
