"""The booking page as a person uses it (labels, roles, the visible messages)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ACTION_TIMEOUT_MS = 20_000  # one click, one fill, one expected text
CONFIRMATION_TIMEOUT_MS = 30_000  # payment → webhook → booking confirmed and invoiced
HOT_DESK_AT_MELUN = re.compile(r"^Réserver Open space à Gare de Melun pour")


def bookable_weekday(days_ahead: int = 3) -> dt.date:
    """A weekday at least `days_ahead` days away (cancellable with a full refund)."""
    day = dt.datetime.now(ZoneInfo("Europe/Paris")).date() + dt.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


@dataclass
class Download:
    name: str
    body: bytes


@dataclass
class BookingPage:
    page: Any  # playwright.sync_api.Page
    url: str
    console: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", lambda message: self.console.append(message.text))

    def open(self, view: str = "") -> BookingPage:
        self.page.goto(self.url + (f"#{view}" if view else ""))
        self.page.wait_for_selector("body[data-pret=oui]", state="attached")
        return self

    def sign_in_as_demo(self, role: str) -> None:
        self.page.get_by_role("button", name=f"Jeton démo : {role}").click()
        self.page.locator("#identite", has_text="Connecté :").wait_for()

    def search(self, place: str, date: dt.date) -> None:
        self.page.get_by_label("Gare ou ville").fill(place)
        self.page.get_by_label("Date", exact=True).fill(date.isoformat())
        self.page.get_by_role("button", name="Rechercher").click()
        self.page.locator("#liste-relais li").first.wait_for()

    def book(self, resource: re.Pattern[str] = HOT_DESK_AT_MELUN) -> str:
        """Click "Réserver"; answer the held booking's id once the card form shows."""
        self.page.get_by_role("button", name=resource).click()
        self.page.get_by_role("heading", name="Paiement par carte").wait_for()
        return str(self.page.locator("#paiement").get_attribute("data-booking-id"))

    def pay_with_card(self, number: str) -> None:
        """Type the card in localstripe's mock Card Element and press "Payer"."""
        card = self.page.locator("#carte")
        card.locator("input[placeholder=number]").fill(number)
        card.locator("input[placeholder=exp_month]").fill("12")
        card.locator("input[placeholder=exp_year]").fill(str(dt.date.today().year % 100 + 3))
        card.locator("input[placeholder=cvc]").fill("123")
        self.page.get_by_role("button", name=re.compile(r"^Payer")).click()

    def wait_for_status(self, status: str, timeout: int = CONFIRMATION_TIMEOUT_MS) -> None:
        self.page.wait_for_selector(f"#reservation-etat[data-status={status}]", timeout=timeout)

    def wait_for_invoice(self) -> None:
        button = self.page.get_by_role("button", name="Télécharger la facture (PDF)")
        button.wait_for(timeout=CONFIRMATION_TIMEOUT_MS)

    def download(self, button: str) -> Download:
        with self.page.expect_download() as started:
            self.page.get_by_role("button", name=button).click()
        done = started.value
        return Download(done.suggested_filename, Path(done.path()).read_bytes())

    def alert(self) -> str:
        return str(self.page.locator("#alerte").inner_text())

    def status(self) -> str:
        return str(self.page.locator("#statut").inner_text())
