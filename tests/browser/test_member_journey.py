"""A member books a hot desk, pays by card with Stripe.js, gets the documents, cancels."""

from __future__ import annotations

import pytest

from tests.browser.pages import BookingPage, bookable_weekday
from tests.e2e.conftest import Stack
from tools.localstripe_server import CARD_DECLINED_AT_CHARGE, CARD_SUCCEEDS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]
MEMBER = "demo-member"  # the demo member token the page offers


def paid_booking(page: BookingPage) -> str:
    page.open()
    page.sign_in_as_demo("membre")
    page.search("Gare de Melun", bookable_weekday())
    booking_id = page.book()
    page.pay_with_card(CARD_SUCCEEDS)
    page.wait_for_status("confirmed")
    return booking_id


def test_card_payment_confirms_the_booking_through_the_webhook(
    booking_page: BookingPage, web_stack: Stack
) -> None:
    booking_id = paid_booking(booking_page)

    booking = web_stack.get(f"/v1/bookings/{booking_id}", token=web_stack.token(MEMBER)).json()
    assert booking["status"] == "confirmed"
    assert booking["payment_method"] == "card"


def test_invoice_pdf_downloads_from_the_confirmation(booking_page: BookingPage) -> None:
    paid_booking(booking_page)
    booking_page.wait_for_invoice()

    invoice = booking_page.download("Télécharger la facture (PDF)")

    assert invoice.body.startswith(b"%PDF-")
    assert invoice.name.endswith(".pdf")


def test_booking_adds_to_a_calendar_as_an_ics_event(booking_page: BookingPage) -> None:
    booking_id = paid_booking(booking_page)

    event = booking_page.download("Ajouter à mon agenda (.ics)")

    assert event.name.endswith(".ics")
    assert event.body.startswith(b"BEGIN:VCALENDAR")
    assert b"BEGIN:VEVENT" in event.body
    assert booking_id.encode() in event.body


def test_cancelling_from_the_page_refunds_the_card(
    booking_page: BookingPage, web_stack: Stack
) -> None:
    booking_id = paid_booking(booking_page)

    booking_page.page.get_by_role("button", name="Annuler la réservation").click()
    booking_page.page.get_by_role("button", name="Confirmer l’annulation").click()
    booking_page.wait_for_status("cancelled")

    answer = web_stack.get(f"/v1/bookings/{booking_id}", token=web_stack.token(MEMBER)).json()
    assert answer["status"] == "cancelled"
    assert "Remboursement de 15,00" in booking_page.status()


def test_declined_card_says_so_in_french_and_leaves_no_held_booking(
    booking_page: BookingPage, web_stack: Stack
) -> None:
    booking_page.open()
    booking_page.sign_in_as_demo("membre")
    booking_page.search("Gare de Melun", bookable_weekday())
    booking_id = booking_page.book()

    booking_page.pay_with_card(CARD_DECLINED_AT_CHARGE)
    booking_page.page.get_by_text("Paiement refusé.").wait_for()

    alert = booking_page.alert()
    assert "Votre carte a été refusée par votre banque" in alert
    assert "la réservation a été annulée" in alert
    token = web_stack.token(MEMBER)
    assert web_stack.get(f"/v1/bookings/{booking_id}", token=token).json()["status"] == "cancelled"
    held = web_stack.get("/v1/bookings", token=token, params={"status": "held"}).json()["items"]
    assert booking_id not in {booking["id"] for booking in held}
