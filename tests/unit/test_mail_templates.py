"""The members' mails: French and English wording, dates on the relay's wall clock, amounts,
refund and credits lines, escaped HTML."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.mail_templates import (
    NBSP,
    NNBSP,
    TEMPLATES,
    format_amount,
    format_credits,
    format_date,
    format_when,
    language_of,
    render,
)

PARIS = ZoneInfo("Europe/Paris")
UTC_START = datetime(2026, 12, 2, 7, 0, tzinfo=ZoneInfo("UTC"))  # 08:00 in Paris
UTC_END = datetime(2026, 12, 2, 18, 0, tzinfo=ZoneInfo("UTC"))  # 19:00 in Paris


def booking_fields(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Alice Martin",
        "relay_name": "Gare de Melun",
        "resource_name": "Open space",
        "address": "Place Gallieni, 77000 Melun",
        "start": UTC_START,
        "end": UTC_END,
        "timezone": "Europe/Paris",
        "booking_id": "bkg_123",
        "amount": 1500,
        "payment_method": "card",
        "credits_used": Decimal(0),
        "cancel_free_hours": 24,
        **overrides,
    }


def membership_fields(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Alice",
        "product_name": "Nomade",
        "amount": 9900,
        "period_first_day": date(2026, 12, 1),
        "period_last_day": date(2026, 12, 31),
        "first": False,
        **overrides,
    }


ALL_FIELDS = {
    "booking_confirmed": booking_fields(),
    "booking_cancelled": booking_fields(refund={"amount": 1500, "status": "succeeded"}),
    "hold_expired": booking_fields(),
    "reminder": booking_fields(),
    "membership_renewed": membership_fields(),
    "membership_payment_failed": membership_fields(
        next_attempt=datetime(2026, 12, 2, 23, 0, tzinfo=ZoneInfo("UTC"))
    ),
    "refund_failed": {
        "name": "Camille Martin",
        "amount": 1500,
        "credit_note_number": "MLN-2026-000043",
        "seller_name": "Relais Melun",
    },
    "document_issued": {
        "name": "Atelier Dupont",
        "doc_type": "invoice",
        "number": "MLN-2026-000042",
        "seller_name": "Relais Melun",
        "amount": 18000,
        "issued_on": date(2026, 12, 1),
        "payment_status": "due",
        "due_date": date(2026, 12, 31),
        "iban": "FR76 3000 6000 0112 3456 7890 189",
        "bic": "AGRIFRPP",
    },
}


# -- formatting -------------------------------------------------------------------------------
def test_dates_the_french_and_the_english_way() -> None:
    assert format_date(date(2026, 12, 2), "fr") == "mercredi 2 décembre 2026"
    assert format_date(date(2026, 12, 1), "fr") == "mardi 1er décembre 2026"
    assert format_date(date(2026, 8, 15), "fr") == "samedi 15 août 2026"
    assert format_date(date(2026, 12, 2), "en") == "Wednesday 2 December 2026"
    assert format_date(date(2026, 12, 1), "en") == "Tuesday 1 December 2026"


def test_times_are_the_relays_wall_clock_across_dst() -> None:
    assert format_when(UTC_START, UTC_END, "Europe/Paris", "fr") == (
        "mercredi 2 décembre 2026, 08:00–19:00"
    )
    assert format_when(UTC_START, UTC_END, "Europe/Paris", "en") == (
        "Wednesday 2 December 2026, 08:00–19:00"
    )
    # 2026-03-29: Paris goes from UTC+1 to UTC+2 at 02:00.
    utc = ZoneInfo("UTC")
    start, end = datetime(2026, 3, 29, 6, 0, tzinfo=utc), datetime(2026, 3, 29, 17, 0, tzinfo=utc)
    assert format_when(start, end, "Europe/Paris", "fr") == "dimanche 29 mars 2026, 08:00–19:00"
    # Another relay's zone is its own wall clock.
    assert format_when(UTC_START, UTC_END, "America/Cayenne", "fr").endswith("04:00–15:00")


def test_a_booking_ending_at_midnight_stays_on_its_day() -> None:
    start = datetime(2026, 12, 2, 20, 0, tzinfo=PARIS)
    end = datetime(2026, 12, 3, 0, 0, tzinfo=PARIS)
    assert format_when(start, end, "Europe/Paris", "fr") == "mercredi 2 décembre 2026, 20:00–00:00"


def test_amounts() -> None:
    assert format_amount(1500, "fr") == f"15,00{NBSP}€"
    assert format_amount(1500, "en") == "€15.00"
    assert format_amount(5, "fr") == f"0,05{NBSP}€"
    assert format_amount(123456, "fr") == f"1{NNBSP}234,56{NBSP}€"
    assert format_amount(123456, "en") == "€1,234.56"
    assert format_amount(-900, "fr") == f"-9,00{NBSP}€"


def test_credits() -> None:
    assert format_credits(Decimal("0.5"), "fr") == "0,5 crédit"
    assert format_credits(Decimal("1.0"), "fr") == "1 crédit"
    assert format_credits(Decimal(2), "fr") == "2 crédits"
    assert format_credits(Decimal("1"), "en") == "1 credit"
    assert format_credits(Decimal("0.5"), "en") == "0.5 credits"


def test_unknown_languages_are_french() -> None:
    assert [language_of(v) for v in ("en", "fr", "de", None, "")] == ["en", "fr", "fr", "fr", "fr"]
    assert render("reminder", booking_fields(), "de") == render("reminder", booking_fields(), "fr")


# -- every template ---------------------------------------------------------------------------
class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_template_has_a_subject_a_text_and_the_same_text_in_html(
    kind: str, language: str
) -> None:
    subject, text, html = render(kind, ALL_FIELDS[kind], language)
    assert subject and "\n" not in subject
    assert text.endswith("Relais\n")
    assert html.startswith("<!DOCTYPE html>") and f'<html lang="{language}">' in html
    parser = _Text()
    parser.feed(html)
    shown = " ".join("".join(parser.chunks).split())
    for paragraph in text.split("\n\n"):
        for line in paragraph.splitlines():
            # Each line of the text part is in the HTML (details as "label : value" cells).
            label, sep, value = line.partition(" : " if language == "fr" else ": ")
            for piece in (label, value) if sep and value else (line,):
                assert " ".join(piece.split()) in shown, (piece, shown)


def test_booking_confirmed_in_french() -> None:
    subject, text, _html = render("booking_confirmed", booking_fields(), "fr")
    assert subject == "Réservation confirmée — Gare de Melun, mercredi 2 décembre 2026, 08:00–19:00"
    assert text.startswith("Bonjour Alice Martin,\n\nVotre réservation est confirmée.")
    assert f"Lieu{NBSP}: Open space — Gare de Melun" in text
    assert f"Adresse{NBSP}: Place Gallieni, 77000 Melun" in text
    assert f"Date{NBSP}: mercredi 2 décembre 2026, 08:00–19:00" in text
    assert f"Paiement{NBSP}: 15,00{NBSP}€ payés par carte" in text
    assert "booking.ics" in text
    assert f"jusqu'à 24{NBSP}h avant le début" in text


def test_a_name_stored_with_a_line_break_still_makes_a_one_line_subject() -> None:
    # GIVEN a relay name stored before control characters were refused
    fields = booking_fields(relay_name="Gare de Melun\r\nQuai\t2")
    # WHEN its confirmation is rendered
    subject, _text, _html = render("booking_confirmed", fields, "fr")
    # THEN the subject is one line (the email package refuses a header with a line break)
    assert subject.startswith("Réservation confirmée — Gare de Melun Quai 2, mercredi")


def test_booking_confirmed_in_english() -> None:
    subject, text, _html = render("booking_confirmed", booking_fields(name=""), "en")
    assert subject == "Booking confirmed — Gare de Melun, Wednesday 2 December 2026, 08:00–19:00"
    assert text.startswith("Hello,\n\nYour booking is confirmed.")
    assert "Payment: €15.00 paid by card" in text
    assert "Free cancellation up to 24 hours before the start" in text


@pytest.mark.parametrize(
    ("method", "fields", "fr", "en"),
    [
        ("credits", {"credits_used": Decimal("0.5")}, "0,5 crédit de votre", "0.5 credits from"),
        ("membership", {}, "compris dans votre abonnement", "included in your membership"),
        ("company", {}, "facturé à votre entreprise", "billed to your company"),
        ("none", {"amount": 0}, "offert", "free of charge"),
    ],
)
def test_how_the_booking_was_paid(method: str, fields: dict[str, Any], fr: str, en: str) -> None:
    assert fr in render("booking_confirmed", booking_fields(payment_method=method, **fields))[1]
    en_text = render("booking_confirmed", booking_fields(payment_method=method, **fields), "en")[1]
    assert en in en_text


def test_cancellation_says_what_comes_back() -> None:
    refunded = render(
        "booking_cancelled", booking_fields(refund={"amount": 1500, "status": "succeeded"})
    )
    assert (
        refunded[0] == "Réservation annulée — Gare de Melun, mercredi 2 décembre 2026, 08:00–19:00"
    )
    assert f"Nous vous avons remboursé 15,00{NBSP}€ sur votre carte" in refunded[1]
    pending = render(
        "booking_cancelled", booking_fields(refund={"amount": 1500, "status": "pending"}), "en"
    )
    assert "The refund of €15.00 to your card is under way." in pending[1]
    late = render("booking_cancelled", booking_fields(refund=None))[1]
    assert f"moins de 24{NBSP}h avant le début" in late and "remboursé" not in late
    credits = booking_fields(
        payment_method="credits", amount=0, credits_used=Decimal(1), credits_restored=Decimal(1)
    )
    assert (
        "1 crédit vous a été rendu dans votre portefeuille."
        in render("booking_cancelled", credits)[1]
    )
    assert (
        "1 credit has been returned to your wallet."
        in render("booking_cancelled", credits, "en")[1]
    )
    late_credits = {**credits, "credits_restored": 0}
    assert "not refunded" in render("booking_cancelled", late_credits, "en")[1]
    flagged_late = {**late_credits, "cancelled_late": True}
    assert "not refunded" in render("booking_cancelled", flagged_late, "en")[1]
    # In time, but the pack was refunded meanwhile: nothing back, and never "too late"
    of_a_refunded_pack = {**late_credits, "cancelled_late": False}
    assert "not refunded" not in render("booking_cancelled", of_a_refunded_pack, "en")[1]
    already = render(
        "booking_cancelled", booking_fields(refund={"amount": 0, "status": "already_refunded"})
    )
    assert "déjà été remboursé" in already[1]


def test_cancellation_of_a_closed_day_says_why() -> None:
    fields = booking_fields(
        refund={"amount": 1500, "status": "succeeded"}, closure_reason="Travaux en gare"
    )
    assert (
        f"Le relais est fermé ce jour-là{NBSP}: Travaux en gare"
        in render("booking_cancelled", fields)[1]
    )


def test_hold_expired_and_reminder() -> None:
    subject, text, _ = render("hold_expired", booking_fields())
    assert subject.startswith("Réservation non payée — Gare de Melun")
    assert "la place a été libérée et le paiement annulé" in text
    subject, text, _ = render("reminder", booking_fields(), "fr")
    assert subject == "Rappel — demain à Gare de Melun, mercredi 2 décembre 2026, 08:00–19:00"
    assert "check-in" in text
    subject, _, _ = render("reminder", booking_fields(), "en")
    assert subject == "Reminder — tomorrow at Gare de Melun, Wednesday 2 December 2026, 08:00–19:00"


def test_membership_mails() -> None:
    subject, text, _ = render("membership_renewed", membership_fields())
    assert subject == "Abonnement Nomade renouvelé"
    assert "du mardi 1er décembre 2026 au jeudi 31 décembre 2026" in text
    assert f"99,00{NBSP}€ TTC" in text
    assert render("membership_renewed", membership_fields(first=True), "en")[0] == (
        "Membership Nomade started"
    )
    retry = membership_fields(next_attempt=datetime(2026, 12, 2, 23, 0, tzinfo=ZoneInfo("UTC")))
    subject, text, _ = render("membership_payment_failed", retry)
    assert subject == "Échec du paiement — Nomade"
    # 2026-12-02 23:00 UTC is already the 3rd in Paris.
    assert "Nous réessaierons le jeudi 3 décembre 2026." in text
    subject, text, _ = render("membership_payment_failed", membership_fields(cancelled=True), "en")
    assert subject == "Membership Nomade cancelled"
    assert "your membership is cancelled" in text


def test_a_failed_refund_says_the_money_is_still_the_members() -> None:
    subject, text, _ = render("refund_failed", ALL_FIELDS["refund_failed"])
    assert subject == f"Votre remboursement de 15,00{NBSP}€ n'a pas pu être effectué"
    assert "(avoir MLN-2026-000043)" in text
    assert "Relais Melun vous la remboursera par virement" in text
    subject, text, _ = render("refund_failed", ALL_FIELDS["refund_failed"], "en")
    assert subject == "Your refund of €15.00 could not be made"
    assert "Relais Melun will refund it by bank transfer" in text


def test_html_escapes_every_value() -> None:
    evil = '<script>alert("x")</script> & Co'
    fields = booking_fields(name=evil, relay_name=evil, resource_name=evil, closure_reason=evil)
    fields["refund"] = {"amount": 1500, "status": "succeeded"}
    for kind in ("booking_confirmed", "booking_cancelled", "hold_expired", "reminder"):
        _subject, text, html = render(kind, fields)
        assert "<script>" not in html, kind
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
        assert evil in text  # plain text is plain
    _s, _t, html = render("membership_renewed", membership_fields(product_name=evil))
    assert "<script>" not in html


def test_an_invoice_due_by_transfer_says_where_to_pay() -> None:
    subject, text, _html = render("document_issued", ALL_FIELDS["document_issued"], "fr")
    assert subject == "Facture MLN-2026-000042 — Relais Melun"
    assert "FR76 3000 6000 0112 3456 7890 189" in text and "AGRIFRPP" in text
    assert "jeudi 31 décembre 2026" in text and "virement" in text


def test_a_paid_invoice_and_a_credit_note_ask_for_nothing() -> None:
    paid = {**ALL_FIELDS["document_issued"], "payment_status": "paid"}
    _subject, text, _html = render("document_issued", paid, "en")
    assert "It is paid" in text and "IBAN" not in text
    credit = {**ALL_FIELDS["document_issued"], "doc_type": "credit_note"}
    subject, text, _html = render("document_issued", credit, "fr")
    assert subject.startswith("Avoir ") and "IBAN" not in text
