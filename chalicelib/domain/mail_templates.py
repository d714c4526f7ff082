"""The members' mails, in French (the default) and English: subject, plain text and HTML.

Pure: no I/O, no locale. Every template takes a small dict of fields and answers
``(subject, text, html)``. Times are shown on the relay's wall clock (``timezone``), the
French way — "mercredi 2 décembre 2026, 08:00–19:00", "15,00 €" — or the English way —
"Wednesday 2 December 2026, 08:00–19:00", "€15.00". The HTML part says the same as the
text part, every value escaped (`html.escape`).

Fields (missing optional ones are simply left out of the mail):

- every mail: ``name`` (the member's, for the greeting; optional);
- bookings: ``relay_name``, ``resource_name``, ``start``, ``end`` (aware datetimes),
  ``timezone`` (IANA, default Europe/Paris), ``address``, ``booking_id``, ``amount``
  (cents paid), ``payment_method``, ``credits_used``, ``cancel_free_hours``;
- booking_cancelled: ``refund`` (``{"amount", "status"}`` or None), ``credits_restored``,
  ``closure_reason``;
- memberships: ``product_name``, ``amount``; renewed: ``period_first_day``,
  ``period_last_day`` (dates, inclusive), ``first`` (the first period); payment failed:
  ``next_attempt`` (datetime or None), ``cancelled``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.timezones import PARIS_ZONE_NAME

Fields = Mapping[str, Any]
Rendered = tuple[str, str, str]
LANGUAGES = ("fr", "en")
DEFAULT_TIMEZONE = PARIS_ZONE_NAME
NBSP = "\u00a0"  # before € and French high punctuation (":", ";")
NNBSP = "\u202f"  # French thousands separator
SIGNATURE = "Relais"

_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def language_of(value: object) -> str:
    """ "fr" or "en"; anything else (missing, unknown) is French."""
    return value if isinstance(value, str) and value in LANGUAGES else "fr"


# -- formatting ------------------------------------------------------------------------------
def format_date(day: date, language: str) -> str:
    """'mercredi 2 décembre 2026' (and 'mardi 1er décembre 2026'); 'Wednesday 2 December 2026'."""
    language = language_of(language)
    number = "1er" if language == "fr" and day.day == 1 else str(day.day)
    weekday = _DAYS[language][day.weekday()]
    return f"{weekday} {number} {_MONTHS[language][day.month - 1]} {day.year}"


def format_when(start: datetime, end: datetime, timezone: str, language: str) -> str:
    """'mercredi 2 décembre 2026, 08:00–19:00' on the relay's wall clock."""
    tz = ZoneInfo(timezone or DEFAULT_TIMEZONE)
    first, last = start.astimezone(tz), end.astimezone(tz)
    same_day = last.date() == first.date() or (
        (last.hour, last.minute) == (0, 0) and (last.date() - first.date()).days == 1
    )
    if same_day:
        return f"{format_date(first.date(), language)}, {first:%H:%M}–{last:%H:%M}"
    return (
        f"{format_date(first.date(), language)}, {first:%H:%M} – "
        f"{format_date(last.date(), language)}, {last:%H:%M}"
    )


def format_amount(cents: int, language: str) -> str:
    """1500 → '15,00 €' (fr, no-break spaces) or '€15.00' (en)."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(int(cents)), 100)
    if language_of(language) == "en":
        return f"{sign}€{euros:,}.{rest:02d}"
    grouped = f"{euros:,}".replace(",", NNBSP)
    return f"{sign}{grouped},{rest:02d}{NBSP}€"


def format_credits(credits: Decimal | float | int, language: str) -> str:
    """0.5 → '0,5 crédit' / '0.5 credits'; 2 → '2 crédits' / '2 credits'."""
    value = Decimal(str(credits)).normalize()
    text = f"{value:f}"
    if language_of(language) == "en":
        return f"{text} credit" if value == 1 else f"{text} credits"
    return f"{text.replace('.', ',')} crédit" + ("s" if abs(value) >= 2 else "")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _one_line(text: str) -> str:
    """A header's text on one line: a name stored with a line break or a tab (before names
    were checked) must not make the mail unbuildable (the email package refuses it)."""
    return _CONTROL.sub(" ", text).strip()


def _colon(language: str) -> str:
    return f"{NBSP}: " if language == "fr" else ": "


# -- a mail as blocks, rendered twice ---------------------------------------------------------
@dataclass(frozen=True)
class Mail:
    """What a mail says: a subject, paragraphs, and labelled details."""

    language: str
    subject: str
    greeting: str
    intro: list[str]
    details: list[tuple[str, str]]
    outro: list[str]

    def render(self) -> Rendered:
        return _one_line(self.subject), self._text(), self._html()

    def _text(self) -> str:
        colon = _colon(self.language)
        blocks = [self.greeting, *self.intro]
        if self.details:
            blocks.append("\n".join(f"{label}{colon}{value}" for label, value in self.details))
        blocks.extend(self.outro)
        blocks.append(SIGNATURE)
        return "\n\n".join(blocks) + "\n"

    def _html(self) -> str:
        e = html.escape
        colon = e(_colon(self.language))
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{e(self.language)}">',
            '<head><meta charset="utf-8">',
            f"<title>{e(self.subject)}</title></head>",
            '<body style="font-family: Helvetica, Arial, sans-serif; color: #222; '
            'line-height: 1.5;">',
            f"<p>{e(self.greeting)}</p>",
            *(f"<p>{e(p)}</p>" for p in self.intro),
        ]
        if self.details:
            parts.append('<table role="presentation" style="border-collapse: collapse;">')
            parts.extend(
                f'<tr><th style="text-align: left; padding: 2px 12px 2px 0;">{e(label)}'
                f'{colon}</th><td style="padding: 2px 0;">{e(value)}</td></tr>'
                for label, value in self.details
            )
            parts.append("</table>")
        parts.extend(f"<p>{e(p)}</p>" for p in self.outro)
        parts.extend([f"<p>{e(SIGNATURE)}</p>", "</body>", "</html>"])
        return "\n".join(parts) + "\n"


def _greeting(fields: Fields, language: str) -> str:
    name = str(fields.get("name") or "").strip()
    if language == "en":
        return f"Hello {name}," if name else "Hello,"
    return f"Bonjour {name}," if name else "Bonjour,"


def _booking_bits(fields: Fields, language: str) -> tuple[str, str, list[tuple[str, str]]]:
    """(place, when, details) of a booking mail."""
    relay = str(fields.get("relay_name") or "")
    resource = str(fields.get("resource_name") or "")
    place = f"{resource} — {relay}" if resource and resource != relay else relay
    when = format_when(
        fields["start"], fields["end"], str(fields.get("timezone") or DEFAULT_TIMEZONE), language
    )
    labels = {
        "fr": ("Lieu", "Adresse", "Date", "Référence"),
        "en": ("Place", "Address", "When", "Reference"),
    }[language]
    details = [(labels[0], place)]
    if fields.get("address"):
        details.append((labels[1], str(fields["address"])))
    details.append((labels[2], when))
    if fields.get("booking_id"):
        details.append((labels[3], str(fields["booking_id"])))
    return place, when, details


def _payment_line(fields: Fields, language: str) -> str | None:
    method = fields.get("payment_method")
    amount = int(fields.get("amount") or 0)
    credits = fields.get("credits_used") or 0
    fr = language == "fr"
    if method == "card" and amount:
        what = format_amount(amount, language)
        return f"{what} payés par carte" if fr else f"{what} paid by card"
    if method == "credits" and credits:
        what = format_credits(credits, language)
        return f"{what} de votre portefeuille" if fr else f"{what} from your wallet"
    if method == "membership":
        return "compris dans votre abonnement" if fr else "included in your membership"
    if method == "company":
        return "facturé à votre entreprise" if fr else "billed to your company"
    if method == "none" or (method == "card" and not amount):
        return "offert" if fr else "free of charge"
    return None


# -- the templates ----------------------------------------------------------------------------
def booking_confirmed(fields: Fields, language: str = "fr") -> Rendered:
    lang = language_of(language)
    place, when, details = _booking_bits(fields, lang)
    relay = str(fields.get("relay_name") or place)
    payment = _payment_line(fields, lang)
    free_hours = fields.get("cancel_free_hours")
    if lang == "fr":
        if payment:
            details.append(("Paiement", payment))
        outro = [
            "Le fichier booking.ics joint ajoute la réservation à votre agenda.",
            f"Pensez à faire votre check-in en arrivant{NBSP}: sans check-in une heure après le "
            "début, la place est libérée.",
        ]
        if free_hours is not None:
            outro.append(
                f"Annulation gratuite jusqu'à {int(free_hours)}{NBSP}h avant le début "
                "(remboursement ou crédits rendus)."
            )
        mail = Mail(
            lang,
            f"Réservation confirmée — {relay}, {when}",
            _greeting(fields, lang),
            ["Votre réservation est confirmée."],
            details,
            outro,
        )
    else:
        if payment:
            details.append(("Payment", payment))
        outro = [
            "The attached booking.ics adds the booking to your calendar.",
            "Remember to check in when you arrive: without a check-in one hour after the "
            "start, the seat is released.",
        ]
        if free_hours is not None:
            outro.append(
                f"Free cancellation up to {int(free_hours)} hours before the start "
                "(refund or credits back)."
            )
        mail = Mail(
            lang,
            f"Booking confirmed — {relay}, {when}",
            _greeting(fields, lang),
            ["Your booking is confirmed."],
            details,
            outro,
        )
    return mail.render()


def booking_cancelled(fields: Fields, language: str = "fr") -> Rendered:
    lang = language_of(language)
    place, when, details = _booking_bits(fields, lang)
    relay = str(fields.get("relay_name") or place)
    fr = lang == "fr"
    intro = [
        f"Votre réservation du {when} est annulée."
        if fr
        else f"Your booking on {when} is cancelled."
    ]
    reason = fields.get("closure_reason")
    if reason:
        intro.append(
            f"Le relais est fermé ce jour-là{NBSP}: {reason}"
            if fr
            else f"The relay is closed that day: {reason}"
        )
    intro.extend(_money_back(fields, lang))
    subject = (
        f"Réservation annulée — {relay}, {when}" if fr else f"Booking cancelled — {relay}, {when}"
    )
    return Mail(lang, subject, _greeting(fields, lang), intro, details, []).render()


def _money_back(fields: Fields, language: str) -> list[str]:
    """What the member gets back from a cancellation, in a sentence or two."""
    fr = language == "fr"
    lines: list[str] = []
    refund = fields.get("refund") or None
    restored = Decimal(str(fields.get("credits_restored") or 0))
    method = fields.get("payment_method")
    paid = int(fields.get("amount") or 0)
    if refund:
        amount = int(refund.get("amount") or 0)
        status = str(refund.get("status") or "")
        what = format_amount(amount, language)
        if amount <= 0 or status == "already_refunded":
            lines.append(
                "Ce paiement vous a déjà été remboursé."
                if fr
                else "This payment has already been refunded to you."
            )
        elif status == "succeeded":
            lines.append(
                f"Nous vous avons remboursé {what} sur votre carte{NBSP}; le remboursement "
                "apparaît sous quelques jours."
                if fr
                else f"We have refunded {what} to your card; it shows within a few days."
            )
        else:
            lines.append(
                f"Le remboursement de {what} sur votre carte est en cours."
                if fr
                else f"The refund of {what} to your card is under way."
            )
    if restored > 0:
        what = format_credits(restored, language)
        lines.append(
            f"{what} {'vous a été rendu' if restored < 2 else 'vous ont été rendus'} "
            "dans votre portefeuille."
            if fr
            else f"{what} {'has' if restored == 1 else 'have'} been returned to your wallet."
        )
    late = fields.get("cancelled_late")
    if late is None:  # a mail queued before the flag: guessed from what came back
        late = (method == "card" and paid > 0 and not refund) or (
            method == "credits" and restored <= 0 and fields.get("credits_used")
        )
    if late:
        hours = fields.get("cancel_free_hours")
        if fr:
            lines.append(
                f"L'annulation est intervenue moins de {int(hours)}{NBSP}h avant le début{NBSP}: "
                "elle ne donne pas lieu à remboursement."
                if hours is not None
                else "L'annulation est intervenue trop tard pour être remboursée."
            )
        else:
            lines.append(
                f"The booking was cancelled less than {int(hours)} hours before its start, "
                "so it is not refunded."
                if hours is not None
                else "The booking was cancelled too late to be refunded."
            )
    return lines


def hold_expired(fields: Fields, language: str = "fr") -> Rendered:
    lang = language_of(language)
    place, when, details = _booking_bits(fields, lang)
    relay = str(fields.get("relay_name") or place)
    if lang == "fr":
        mail = Mail(
            lang,
            f"Réservation non payée — {relay}, {when}",
            _greeting(fields, lang),
            [
                f"Le paiement de votre réservation du {when} n'a pas abouti à temps{NBSP}: "
                "la place a été libérée et le paiement annulé.",
                "Si votre paiement a tout de même été pris, la réservation est confirmée si la "
                f"place est encore libre, et remboursée en totalité sinon{NBSP}; un message "
                "vous le dira.",
            ],
            details,
            ["Vous pouvez réserver à nouveau à tout moment."],
        )
    else:
        mail = Mail(
            lang,
            f"Booking not paid — {relay}, {when}",
            _greeting(fields, lang),
            [
                f"The payment for your booking on {when} did not go through in time: the seat "
                "was released and the payment cancelled.",
                "Should your payment have been taken all the same, the booking is confirmed "
                "if the seat is still free, and refunded in full otherwise; we will tell you.",
            ],
            details,
            ["You can book again at any time."],
        )
    return mail.render()


def reminder(fields: Fields, language: str = "fr") -> Rendered:
    lang = language_of(language)
    place, when, details = _booking_bits(fields, lang)
    relay = str(fields.get("relay_name") or place)
    if lang == "fr":
        mail = Mail(
            lang,
            f"Rappel — demain à {relay}, {when}",
            _greeting(fields, lang),
            [f"Petit rappel{NBSP}: vous avez réservé pour demain, {when}."],
            details,
            [
                f"Pensez à faire votre check-in en arrivant{NBSP}: sans check-in une heure "
                "après le début, la place est libérée.",
                f"Vous ne pouvez pas venir{NBSP}? Annulez la réservation pour libérer la place.",
            ],
        )
    else:
        mail = Mail(
            lang,
            f"Reminder — tomorrow at {relay}, {when}",
            _greeting(fields, lang),
            [f"A quick reminder: you have a booking tomorrow, {when}."],
            details,
            [
                "Remember to check in when you arrive: without a check-in one hour after the "
                "start, the seat is released.",
                "Can't make it? Cancel the booking to free the seat.",
            ],
        )
    return mail.render()


def membership_renewed(fields: Fields, language: str = "fr") -> Rendered:
    lang = language_of(language)
    product = str(fields.get("product_name") or "")
    amount = format_amount(int(fields.get("amount") or 0), lang)
    first_day, last_day = fields.get("period_first_day"), fields.get("period_last_day")
    first = bool(fields.get("first"))
    details: list[tuple[str, str]] = []
    if lang == "fr":
        details.append(("Abonnement", product))
        if first_day and last_day:
            details.append(
                ("Période", f"du {format_date(first_day, lang)} au {format_date(last_day, lang)}")
            )
        details.append(("Montant", f"{amount} TTC"))
        mail = Mail(
            lang,
            f"Abonnement {product} {'activé' if first else 'renouvelé'}",
            _greeting(fields, lang),
            [
                f"Votre abonnement {product} est {'activé' if first else 'renouvelé'}{NBSP}: "
                f"nous avons reçu votre paiement de {amount}."
            ],
            details,
            ["La facture est disponible dans votre espace Relais."],
        )
    else:
        details.append(("Membership", product))
        if first_day and last_day:
            details.append(
                ("Period", f"{format_date(first_day, lang)} to {format_date(last_day, lang)}")
            )
        details.append(("Amount", f"{amount} incl. VAT"))
        mail = Mail(
            lang,
            f"Membership {product} {'started' if first else 'renewed'}",
            _greeting(fields, lang),
            [
                f"Your {product} membership is {'active' if first else 'renewed'}: "
                f"we have received your payment of {amount}."
            ],
            details,
            ["The invoice is in your Relais account."],
        )
    return mail.render()


def membership_payment_failed(fields: Fields, language: str = "fr") -> Rendered:
    lang = language_of(language)
    product = str(fields.get("product_name") or "")
    amount = format_amount(int(fields.get("amount") or 0), lang)
    cancelled = bool(fields.get("cancelled"))
    next_attempt = fields.get("next_attempt")
    tz = str(fields.get("timezone") or DEFAULT_TIMEZONE)
    next_day = (
        next_attempt.astimezone(ZoneInfo(tz)).date() if isinstance(next_attempt, datetime) else None
    )
    if lang == "fr":
        intro = [f"Le paiement de {amount} pour votre abonnement {product} n'a pas abouti."]
        if cancelled:
            intro.append("Après plusieurs tentatives, votre abonnement est résilié.")
            outro = ["Vous pouvez souscrire à nouveau à tout moment depuis votre espace Relais."]
        else:
            if next_day:
                intro.append(f"Nous réessaierons le {format_date(next_day, lang)}.")
            outro = ["Vérifiez votre moyen de paiement (carte expirée, plafond, mandat SEPA)."]
        subject = f"Abonnement {product} résilié" if cancelled else f"Échec du paiement — {product}"
    else:
        intro = [f"The payment of {amount} for your {product} membership did not go through."]
        if cancelled:
            intro.append("After several attempts, your membership is cancelled.")
            outro = ["You can subscribe again at any time from your Relais account."]
        else:
            if next_day:
                intro.append(f"We will try again on {format_date(next_day, lang)}.")
            outro = ["Please check your payment method (expired card, limit, SEPA mandate)."]
        subject = f"Membership {product} cancelled" if cancelled else f"Payment failed — {product}"
    return Mail(lang, subject, _greeting(fields, lang), intro, [], outro).render()


def document_issued(fields: Fields, language: str = "fr") -> Rendered:
    """An invoice or credit note, its Factur-X PDF attached: what it is, for how much,
    and whether it is paid or how to pay it (a transfer: the seller's IBAN)."""
    lang = language_of(language)
    credit_note = fields.get("doc_type") == "credit_note"
    number = str(fields.get("number") or "")
    seller = str(fields.get("seller_name") or "Relais")
    amount = format_amount(int(fields.get("amount") or 0), lang)
    issued = fields.get("issued_on")
    paid = fields.get("payment_status") == "paid"
    iban, due = fields.get("iban"), fields.get("due_date")
    fr = lang == "fr"
    what = (
        ("Avoir" if credit_note else "Facture")
        if fr
        else ("Credit note" if credit_note else "Invoice")
    )
    details = [("Numéro" if fr else "Number", number), ("Émetteur" if fr else "Issued by", seller)]
    if issued:
        details.append(("Date", format_date(issued, lang)))
    details.append(("Montant TTC" if fr else "Amount incl. VAT", amount))
    if fr:
        document = "l’avoir" if credit_note else "la facture"
        intro = [f"Veuillez trouver ci-joint {document} {number} de {seller}."]
    else:
        intro = [f"Please find attached {what.lower()} {number} from {seller}."]
    outro: list[str] = []
    if not credit_note and paid:
        outro.append(f"Elle est réglée{NBSP}: merci." if fr else "It is paid: thank you.")
    elif not credit_note:
        if due:
            details.append(("Échéance" if fr else "Due date", format_date(due, lang)))
        if iban:
            details.append(("IBAN", str(iban)))
            if fields.get("bic"):
                details.append(("BIC", str(fields["bic"])))
            outro.append(
                f"Règlement par virement, en indiquant la référence {number}."
                if fr
                else f"Payment by bank transfer, quoting the reference {number}."
            )
    outro.append(
        f"Le PDF joint est une facture électronique Factur-X{NBSP}: il contient ses données"
        " structurées."
        if fr
        else "The attached PDF is a Factur-X e-invoice: it carries its structured data."
    )
    subject = f"{what} {number} — {seller}"
    return Mail(lang, subject, _greeting(fields, lang), intro, details, outro).render()


def refund_failed(fields: Fields, language: str = "fr") -> Rendered:
    """A refund the member's bank refused: the amount is still theirs, paid by transfer."""
    lang = language_of(language)
    amount = format_amount(int(fields.get("amount") or 0), lang)
    number = str(fields.get("credit_note_number") or "")
    seller = str(fields.get("seller_name") or "")
    if lang == "fr":
        subject = f"Votre remboursement de {amount} n'a pas pu être effectué"
        intro = [
            f"Votre banque a refusé le remboursement de {amount} (avoir {number}) sur le moyen"
            " de paiement utilisé, par exemple parce que la carte a expiré ou a été résiliée.",
            f"Cette somme vous reste due{NBSP}: {seller} vous la remboursera par virement.",
        ]
        outro = ["Répondez à ce message en indiquant le RIB du compte à créditer."]
    else:
        subject = f"Your refund of {amount} could not be made"
        intro = [
            f"Your bank refused the refund of {amount} (credit note {number}) to the payment"
            " method you used, for instance because the card expired or was closed.",
            f"This amount is still yours: {seller} will refund it by bank transfer.",
        ]
        outro = ["Please reply to this message with the details of the account to credit."]
    return Mail(lang, subject, _greeting(fields, lang), intro, [], outro).render()


Template = Callable[[Fields, str], Rendered]

TEMPLATES: dict[str, Template] = {
    "booking_confirmed": booking_confirmed,
    "booking_cancelled": booking_cancelled,
    "hold_expired": hold_expired,
    "reminder": reminder,
    "membership_renewed": membership_renewed,
    "membership_payment_failed": membership_payment_failed,
    "document_issued": document_issued,
    "refund_failed": refund_failed,
}


def render(kind: str, fields: Fields, language: str = "fr") -> Rendered:
    """(subject, text, html) of the mail `kind` in `language` (French unless "en")."""
    return TEMPLATES[kind](fields, language_of(language))
