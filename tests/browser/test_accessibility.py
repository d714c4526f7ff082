"""The page is usable without a mouse and tells assistive technologies what happens."""

from __future__ import annotations

import re

import pytest

from tests.browser.pages import BookingPage, bookable_weekday

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

UNNAMED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby') && !el.textContent.trim())
  .map((el) => el.outerHTML)"""


def test_every_form_control_has_an_accessible_name(booking_page: BookingPage) -> None:
    booking_page.open()

    assert booking_page.page.evaluate(UNNAMED_CONTROLS) == []


def test_page_has_landmarks_a_language_and_live_regions(booking_page: BookingPage) -> None:
    page = booking_page.open().page

    assert page.get_attribute("html", "lang") == "fr"
    assert page.get_by_role("banner").count() == 1
    assert page.get_by_role("navigation").count() == 1
    assert page.get_by_role("main").count() == 1
    assert page.get_by_role("contentinfo").count() == 1
    assert page.get_attribute("#statut", "aria-live") == "polite"
    assert page.get_attribute("#alerte", "role") == "alert"


def test_a_seat_is_found_and_held_with_the_keyboard_alone(booking_page: BookingPage) -> None:
    page = booking_page.open().page
    page.get_by_role("button", name="Jeton démo : membre").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Date", exact=True).fill(bookable_weekday().isoformat())
    page.get_by_label("Gare ou ville").focus()
    page.keyboard.type("Gare de Melun")
    page.keyboard.press("Enter")  # submits the search form
    page.locator("#liste-relais li").first.wait_for()

    page.get_by_role("button", name=re.compile(r"^Réserver Open space à Gare de Melun")).focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Paiement par carte").wait_for()

    assert page.evaluate("document.activeElement.id") == "paiement-titre"
    page.get_by_role("button", name="Abandonner la réservation").focus()
    page.keyboard.press("Enter")
    page.get_by_text("le poste est libéré").wait_for()
