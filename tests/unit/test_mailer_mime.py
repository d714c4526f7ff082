"""The raw MIME of a mail: text and HTML alternatives, the ICS attachment, 7-bit clean."""

from __future__ import annotations

import email
from email.policy import default as default_policy

import pytest

from chalicelib.adapters.mailer import Attachment, OutgoingMail, build_mime, ics_attachment

ICS = "BEGIN:VCALENDAR\r\nMETHOD:PUBLISH\r\nSUMMARY:Open space — Gare de Melun\r\nEND:VCALENDAR\r\n"


def mail(**overrides: object) -> OutgoingMail:
    values: dict[str, object] = {
        "to": "alice@example.org",
        "subject": "Réservation confirmée — Gare de Melun",
        "text": "Bonjour,\n\nVotre réservation est confirmée : 15,00\u00a0€.\n",
        "html": "<p>Votre réservation est confirmée.</p>",
        "attachments": (ics_attachment(ICS),),
        "message_key": "booking-bkg_1-confirmed",
        **overrides,
    }
    return OutgoingMail(**values)  # type: ignore[arg-type]


def test_mixed_with_alternatives_then_the_ics() -> None:
    raw = build_mime(mail(), "Relais <noreply@relais.test>", reply_to="contact@relais.test")
    assert all(byte < 128 for byte in raw)  # 7-bit: any relay accepts it
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert parsed["Subject"] == "Réservation confirmée — Gare de Melun"
    assert parsed["From"] == "Relais <noreply@relais.test>"
    assert parsed["Reply-To"] == "contact@relais.test"
    assert parsed["X-Relais-Message-Key"] == "booking-bkg_1-confirmed"
    assert parsed["Message-ID"].endswith("@relais.test>")
    assert parsed.get_content_type() == "multipart/mixed"
    alternative, ics = parsed.iter_parts()
    plain, html = alternative.iter_parts()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert "confirmée : 15,00\u00a0€." in plain.get_content()
    assert html.get_content().startswith("<p>Votre réservation")
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "PUBLISH"
    assert ics.get_content_charset() == "utf-8"
    assert ics.get_filename() == "booking.ics"
    assert ics.get_content() == ICS


def test_without_attachments_it_is_just_the_alternatives() -> None:
    parsed = email.message_from_bytes(
        build_mime(mail(attachments=()), "noreply@relais.test"), policy=default_policy
    )
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Reply-To"] is None


def test_binary_attachments_stay_binary() -> None:
    pdf = Attachment("invoice.pdf", b"%PDF-1.7\x00\xff", "application/pdf")
    parsed = email.message_from_bytes(
        build_mime(mail(attachments=(pdf,)), "noreply@relais.test"), policy=default_policy
    )
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.7\x00\xff"


@pytest.mark.parametrize("attachments", [(), (ics_attachment(ICS),)])
def test_every_mail_says_its_language_in_its_headers(attachments: tuple[Attachment, ...]) -> None:
    # GIVEN a mail in English, with or without an attachment
    message = mail(language="en", attachments=attachments)
    # WHEN its MIME is built (set_content and add_attachment move Content-* headers)
    parsed = email.message_from_bytes(
        build_mime(message, "noreply@relais.test"), policy=default_policy
    )
    # THEN the message itself says its language, once
    assert parsed.get_all("Content-Language") == ["en"]
