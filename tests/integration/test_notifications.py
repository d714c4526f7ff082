"""Members' mails through SES (moto): confirmation with its ICS, English for those who
prefer it, cancellation with its refund, expired holds, the reminders job, and SES failures
that never break a booking and are retried from the outbox."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.adapters.mailer import MailNotSent, MemoryMailer, OutgoingMail, SesMailer
from chalicelib.config import Settings
from chalicelib.domain.mail_templates import NBSP
from chalicelib.services import mail_delivery, notifications
from chalicelib.services.context import Context
from tests.conftest import NOW, make_settings
from tests.support.api import Answer, Api, book, booked
from tests.support.fake_stripe import FakeGateway, signed_event

PARIS = ZoneInfo("Europe/Paris")
SENDER_ADDRESS = "noreply@relais.test"
SENDER = f"Relais <{SENDER_ADDRESS}>"
REGION = "eu-west-3"
TOMORROW = "2026-12-02"  # NOW is Tuesday 2026-12-01 07:00 in Paris
THURSDAY = "2026-12-03"

pytestmark = pytest.mark.usefixtures("ses")


@pytest.fixture
def settings(auth_keys: tuple[Path, Path]) -> Settings:
    return make_settings(auth_keys[1], MAIL_FROM=SENDER)


@pytest.fixture
def stripe_fake() -> FakeGateway:
    # The membership flow needs the membership fake; it is a FakeGateway for the rest.
    try:
        from tests.support.fake_stripe_memberships import MembershipFakeGateway
    except ImportError:  # no membership feature
        return FakeGateway()
    return MembershipFakeGateway()


@pytest.fixture
def ses(table: Table) -> Any:
    """SES in moto (active with the table), the sender verified; answers moto's backend."""
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER_ADDRESS)
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    backend.sent_messages.clear()
    return backend


# -- helpers ------------------------------------------------------------------------------------
def sent(ses: Any, documents: bool = False) -> list[EmailMessage]:
    """Every mail SES accepted, parsed; without the invoices and credit notes sent to their
    buyers unless `documents` (tests/integration/test_document_mail.py is about those)."""
    parsed = [
        email.message_from_string(m.raw_data, policy=default_policy) for m in ses.sent_messages
    ]
    return [m for m in parsed if documents or not _about_a_document(str(m["X-Relais-Message-Key"]))]


def _about_a_document(key: str) -> bool:
    return key.startswith("document-")


def journal_of(ctx: Context, day: str) -> list[dict[str, Any]]:
    """The outbox journal of a day, without the invoice mails (see `sent`)."""
    return [
        e for e in mail_delivery.outbox(ctx).journal(day) if not _about_a_document(e["message_key"])
    ]


def mails_about(ses: Any, suffix: str) -> list[EmailMessage]:
    return [m for m in sent(ses) if str(m["X-Relais-Message-Key"]).endswith(suffix)]


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def deliver(api: Api, settings: Settings, event_type: str, obj: dict[str, Any]) -> Answer:
    payload, header = signed_event(event_type, obj, settings.stripe_webhook_secret)
    return api.post("/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header})


def pay(api: Api, settings: Settings, stripe_fake: FakeGateway, answer: Answer) -> None:
    assert answer.status == 201, answer.json
    intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200


def paid_booking(
    api: Api, settings: Settings, stripe_fake: FakeGateway, token: str, resource: str, day: str
) -> str:
    answer = book(api, token, resource, date=day)
    pay(api, settings, stripe_fake, answer)
    return str(answer.json["booking"]["id"])


def run_job(api: Api, admin: str, job: str, as_of: datetime | None = None) -> dict[str, Any]:
    body = {"as_of": as_of.isoformat()} if as_of else {}
    answer = api.post(f"/v1/admin/jobs/{job}", body, token=admin)
    assert answer.status == 200, answer.json
    return dict(answer.json)


def outbox_status(ctx: Context, key: str) -> str | None:
    record = mail_delivery.outbox(ctx).get(key)
    return str(record["status"]) if record else None


def break_ses(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make SES refuse every mail (Throttling) until the returned list is emptied."""
    mailer = mail_delivery.mailer_for(ctx)
    assert isinstance(mailer, SesMailer)
    calls: list[int] = []

    def refuse(**kwargs: Any) -> Any:
        calls.append(1)
        error = {"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}
        raise ClientError(error, "SendRawEmail")

    monkeypatch.setattr(mailer.client, "send_raw_email", refuse)
    return calls


class Crash(BaseException):
    """The Lambda died here (no `except Exception` of the code under test swallows it)."""


def crash_once(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The process dies just before `notifications.<name>` runs, the first time only."""
    real = getattr(notifications, name)
    crashed: list[bool] = []

    def dying(*args: Any, **kwargs: Any) -> Any:
        if not crashed:
            crashed.append(True)
            raise Crash(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(notifications, name, dying)


def mend_ses(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    mailer = mail_delivery.mailer_for(ctx)
    assert isinstance(mailer, SesMailer)
    monkeypatch.delattr(mailer.client, "send_raw_email")


# -- confirmation ---------------------------------------------------------------------------
def test_a_paid_booking_is_confirmed_by_one_french_mail_with_its_ics(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
    ctx: Context,
) -> None:
    answer = book(api, member, network["pool"], date=THURSDAY)
    assert sent(ses) == []  # a hold waiting for its payment says nothing yet
    intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
    for _ in range(3):  # Stripe delivers again, with new event ids: still one mail
        assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    booking_id = answer.json["booking"]["id"]

    (mail,) = sent(ses)
    assert mail["From"] == SENDER
    assert mail["To"] == "member-1@example.org"
    assert mail["Subject"] == (
        "Réservation confirmée — Gare de Melun, jeudi 3 décembre 2026, 08:00–19:00"
    )
    assert mail["X-Relais-Message-Key"] == f"booking-{booking_id}-confirmed"
    assert mail.get_content_type() == "multipart/mixed"
    alternative, attachment = mail.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    text, html = bodies(mail)
    assert "Votre réservation est confirmée." in text
    assert f"Paiement{NBSP}: 15,00{NBSP}€ payés par carte" in text
    assert "jeudi 3 décembre 2026, 08:00–19:00" in text
    assert booking_id in text
    assert '<html lang="fr">' in html and "Votre réservation est confirmée." in html

    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_filename() == "booking.ics"
    assert attachment.get_content_disposition() == "attachment"
    ics = attachment.get_content()
    assert "METHOD:PUBLISH" in ics
    assert f"UID:{booking_id}@relais" in ics
    assert "STATUS:CONFIRMED" in ics
    assert "DTSTART;TZID=Europe/Paris:20261203T080000" in ics

    record = mail_delivery.outbox(ctx).get(f"booking-{booking_id}-confirmed")
    assert record is not None and record["status"] == "sent" and record["message_id"]
    assert "text" not in record and "attachments" not in record  # the body goes once sent
    (entry,) = journal_of(ctx, NOW.astimezone(ZoneInfo("UTC")).date().isoformat())
    assert entry["status"] == "sent" and entry["message_key"] == f"booking-{booking_id}-confirmed"
    assert entry["message_id"] == record["message_id"]


def test_a_member_who_prefers_english_gets_english(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
) -> None:
    me = {"name": "Ada Lovelace", "email": "ada@example.org", "language": "en"}
    assert api.request("PUT", "/v1/me", me, token=member).status == 200
    paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    (mail,) = sent(ses)
    assert mail["To"] == "ada@example.org"
    assert (
        mail["Subject"]
        == "Booking confirmed — Gare de Melun, Thursday 3 December 2026, 08:00–19:00"
    )
    text, html = bodies(mail)
    assert text.startswith("Hello Ada Lovelace,")
    assert "Payment: €15.00 paid by card" in text
    assert '<html lang="en">' in html
    assert mail.get_content_type() == "multipart/mixed"


def test_a_booking_confirmed_at_once_is_mailed_and_its_cancellation_gives_the_credits_back(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
) -> None:
    product = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000, "vat_rate": "20.00"},
            "operator_id": network["operator"],
            "credits": 10,
            "validity_days": 180,
        },
        token=admin,
    ).json
    bought = api.post("/v1/purchases", {"product_id": product["id"]}, token=member)
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    booking = booked(api, member, network["pool"], date=THURSDAY, payment="credits")
    assert booking["status"] == "confirmed"
    (confirmed,) = mails_about(ses, "-confirmed")
    assert "1 crédit de votre portefeuille" in bodies(confirmed)[0]

    assert api.post(f"/v1/bookings/{booking['id']}/cancel", token=member).status == 200
    (cancelled,) = mails_about(ses, "-cancelled")
    assert cancelled["Subject"].startswith("Réservation annulée — Gare de Melun")
    assert "1 crédit vous a été rendu dans votre portefeuille." in bodies(cancelled)[0]


# -- cancellation, expiry -------------------------------------------------------------------
def test_the_cancellation_mail_tells_the_refund(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
) -> None:
    booking_id = paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    cancelled = api.post(f"/v1/bookings/{booking_id}/cancel", token=member)
    assert cancelled.status == 200, cancelled.json
    assert cancelled.json["refund"]["amount"] == 1500
    (mail,) = mails_about(ses, "-cancelled")
    assert mail["Subject"] == (
        "Réservation annulée — Gare de Melun, jeudi 3 décembre 2026, 08:00–19:00"
    )
    text, html = bodies(mail)
    assert "Votre réservation du jeudi 3 décembre 2026, 08:00–19:00 est annulée." in text
    assert f"Nous vous avons remboursé 15,00{NBSP}€ sur votre carte" in text
    assert "remboursé 15,00" in html
    # Cancelling again is refused, and mails nothing more.
    assert api.post(f"/v1/bookings/{booking_id}/cancel", token=member).status == 409
    assert len(mails_about(ses, "-cancelled")) == 1


def test_a_closed_day_cancels_by_mail_with_the_reason(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
) -> None:
    paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    closure = {"date": THURSDAY, "reason": "Travaux en gare"}
    answer = api.post(f"/v1/relays/{network['relay']}/closures", closure, token=admin)
    assert answer.status == 201, answer.json
    (mail,) = mails_about(ses, "-cancelled")
    text, _html = bodies(mail)
    assert f"Le relais est fermé ce jour-là{NBSP}: Travaux en gare" in text
    assert f"Nous vous avons remboursé 15,00{NBSP}€" in text


def test_a_cancelled_hold_that_was_never_confirmed_mails_nothing(
    api: Api, member: str, network: dict[str, str], ses: Any
) -> None:
    held = booked(api, member, network["pool"], date=THURSDAY)
    assert api.post(f"/v1/bookings/{held['id']}/cancel", token=member).status == 200
    assert sent(ses) == []


def test_an_expired_hold_is_told_once(
    api: Api, admin: str, member: str, network: dict[str, str], ses: Any, clock: FixedClock
) -> None:
    held = booked(api, member, network["pool"], date=THURSDAY)
    clock.advance(minutes=16)
    assert run_job(api, admin, "expire_holds")["processed"] == 1
    assert run_job(api, admin, "expire_holds")["processed"] == 0
    (mail,) = sent(ses)
    assert mail["X-Relais-Message-Key"] == f"booking-{held['id']}-hold-expired"
    assert (
        mail["Subject"]
        == "Réservation non payée — Gare de Melun, jeudi 3 décembre 2026, 08:00–19:00"
    )
    assert "la place a été libérée et le paiement annulé" in bodies(mail)[0]


# -- reminders ------------------------------------------------------------------------------
def test_reminders_go_once_to_each_confirmed_booking_of_tomorrow(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
) -> None:
    other = api.token("member-2")
    english = api.token("member-3")
    me = {"name": "Grace", "email": "grace@example.org", "language": "en"}
    assert api.request("PUT", "/v1/me", me, token=english).status == 200
    first = paid_booking(api, settings, stripe_fake, member, network["pool"], TOMORROW)
    second = paid_booking(api, settings, stripe_fake, english, network["pool"], TOMORROW)
    cancelled = paid_booking(api, settings, stripe_fake, other, network["pool"], TOMORROW)
    cancelled_ = api.post(f"/v1/bookings/{cancelled}/cancel", token=other)
    assert cancelled_.status == 200
    booked(api, other, network["pool"], date=TOMORROW)  # held, never paid: no reminder
    paid_booking(api, settings, stripe_fake, other, network["pool"], THURSDAY)  # not tomorrow

    # Before 17:00 at the relay, tomorrow's reminders wait.
    early = run_job(api, admin, "send_reminders", datetime(2026, 12, 1, 16, 59, tzinfo=PARIS))
    assert early["job"] == "send_reminders" and early["processed"] == 0
    evening = datetime(2026, 12, 1, 18, 0, tzinfo=PARIS)
    answer = run_job(api, admin, "send_reminders", evening)
    assert answer["processed"] == 2 and answer["reminders_sent"] == 2
    reminders = mails_about(ses, "-reminder")
    assert sorted(str(m["X-Relais-Message-Key"]) for m in reminders) == sorted(
        [f"booking-{first}-reminder", f"booking-{second}-reminder"]
    )
    by_to = {str(m["To"]): m for m in reminders}
    assert by_to["member-1@example.org"]["Subject"] == (
        "Rappel — demain à Gare de Melun, mercredi 2 décembre 2026, 08:00–19:00"
    )
    assert by_to["grace@example.org"]["Subject"] == (
        "Reminder — tomorrow at Gare de Melun, Wednesday 2 December 2026, 08:00–19:00"
    )
    assert all(m.get_content_type() == "multipart/alternative" for m in reminders)

    again = run_job(api, admin, "send_reminders", evening + timedelta(hours=1))
    assert again["processed"] == 0 and again["reminders_already_sent"] == 2
    assert len(mails_about(ses, "-reminder")) == 2


def test_reminders_follow_each_relays_own_time_zone(
    api: Api, admin: str, member: str, network: dict[str, str], ctx: Context, ses: Any
) -> None:
    from tests.support.api import add_relay

    cayenne = add_relay(api, admin, network["operator"], timezone="America/Cayenne")
    manager = api.token("manager-1", f"manager:{cayenne['relay']}")
    assert api.get("/v1/me", token=manager).status == 200  # a profile: where mails go
    booking = booked(api, manager, cayenne["pool"], date=THURSDAY, payment="none")
    assert booking["status"] == "confirmed"
    # 21:00 in Paris on Wednesday is 17:00 in Cayenne: Thursday is tomorrow there.
    answer = notifications.send_reminders(ctx, datetime(2026, 12, 2, 20, 59, tzinfo=PARIS))
    assert answer["reminders_sent"] == 0
    answer = notifications.send_reminders(ctx, datetime(2026, 12, 2, 21, 0, tzinfo=PARIS))
    assert answer["reminders_sent"] == 1
    (mail,) = mails_about(ses, "-reminder")
    assert mail["To"] == "manager-1@example.org"
    assert "jeudi 3 décembre 2026, 08:00–19:00" in mail["Subject"]


def test_a_catch_up_run_sends_no_reminder_for_a_booking_that_already_started(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
    clock: FixedClock,
) -> None:
    # GIVEN a booking of tomorrow 08:00, and a reminders run missed last evening
    booking_id = paid_booking(api, settings, stripe_fake, member, network["pool"], TOMORROW)
    clock.moment = datetime(2026, 12, 2, 9, 30, tzinfo=PARIS)  # the booking began at 08:00
    # WHEN the missed run is made up (as of last evening) after the booking started
    answer = run_job(api, admin, "send_reminders", datetime(2026, 12, 1, 18, 0, tzinfo=PARIS))
    # THEN no "you booked for tomorrow" goes out, nor is claimed
    assert answer["reminders_sent"] == 0
    assert mails_about(ses, "-reminder") == []
    assert api.get(f"/v1/bookings/{booking_id}", token=member).json["status"] == "confirmed"


def test_a_mail_already_past_its_send_until_is_not_sent_even_once(
    api: Api, network: dict[str, str], ctx: Context, ses: Any, clock: FixedClock
) -> None:
    # GIVEN a confirmed booking whose day is over by the clock
    manager = api.token("manager-1", f"manager:{network['relay']}")
    assert api.get("/v1/me", token=manager).status == 200  # a profile: where mails go
    booking = booked(api, manager, network["pool"], date=THURSDAY, payment="none")
    clock.moment = datetime(2026, 12, 3, 20, 0, tzinfo=PARIS)
    stored = ctx.bookings.get(booking["id"])
    assert stored is not None
    # WHEN its reminder is asked for (a late flow)
    outcome = notifications.notify_reminder(ctx, stored)
    # THEN nothing is claimed nor sent
    assert outcome == "skipped"
    assert outbox_status(ctx, notifications.reminder_key(booking["id"])) is None
    assert mails_about(ses, "-reminder") == []


# -- a flow that died before its mail -------------------------------------------------------
def test_a_confirmation_lost_to_a_crash_is_sent_when_stripe_delivers_the_event_again(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a payment whose webhook died after confirming the booking, before its mail
    answer = book(api, member, network["pool"], date=THURSDAY)
    intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
    crash_once(monkeypatch, "notify_booking_confirmed")
    secret = settings.stripe_webhook_secret
    payload, header = signed_event("payment_intent.succeeded", intent, secret, event_id="evt_1")
    with pytest.raises(Crash):
        api.post("/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header})
    booking_id = answer.json["booking"]["id"]
    assert api.get(f"/v1/bookings/{booking_id}", token=member).json["status"] == "confirmed"
    assert mails_about(ses, "-confirmed") == []
    # WHEN Stripe delivers the event again, once its claim lapsed (then a new event too)
    clock.advance(minutes=5)
    again = api.post("/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header})
    assert (again.status, again.json.get("outcome")) == (200, "already_confirmed"), again.json
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    # THEN the member is told of the confirmation, once
    (mail,) = mails_about(ses, "-confirmed")
    assert mail["X-Relais-Message-Key"] == f"booking-{booking_id}-confirmed"


def test_a_cancellation_mail_lost_to_a_crash_is_sent_by_the_retried_cancel(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a cancel that died after cancelling and refunding the booking, before its mail
    booking_id = paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    crash_once(monkeypatch, "notify_booking_cancelled")
    with pytest.raises(Crash):
        api.post(f"/v1/bookings/{booking_id}/cancel", token=member)
    assert mails_about(ses, "-cancelled") == []
    # WHEN the member retries it (twice)
    retried = [api.post(f"/v1/bookings/{booking_id}/cancel", token=member) for _ in range(2)]
    # THEN the retry still answers 409, and the cancellation with its refund goes out once
    assert [r.json["code"] for r in retried] == ["invalid_state"] * 2
    assert [r.status for r in retried] == [409, 409]
    (mail,) = mails_about(ses, "-cancelled")
    assert f"Nous vous avons remboursé 15,00{NBSP}€" in bodies(mail)[0]


def test_a_retried_cancel_of_a_hold_never_confirmed_mails_nothing(
    api: Api, member: str, network: dict[str, str], ses: Any
) -> None:
    held = booked(api, member, network["pool"], date=THURSDAY)
    assert api.post(f"/v1/bookings/{held['id']}/cancel", token=member).status == 200
    assert api.post(f"/v1/bookings/{held['id']}/cancel", token=member).status == 409
    assert sent(ses) == []


def test_a_mail_that_cannot_be_built_is_counted_and_journaled(
    api: Api,
    network: dict[str, str],
    ctx: Context,
    ses: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a mail whose rendering fails (a name the templates cannot take, say)
    counted: list[str] = []
    monkeypatch.setattr(mail_delivery, "count", lambda name, value=1: counted.append(name))

    def unrenderable(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("Header values may not contain linefeed or carriage return")

    monkeypatch.setattr(notifications, "render", unrenderable)
    # WHEN a booking is confirmed
    manager = api.token("manager-1", f"manager:{network['relay']}")
    assert api.get("/v1/me", token=manager).status == 200  # a profile: where mails go
    booking = booked(api, manager, network["pool"], date=THURSDAY, payment="none")
    # THEN the booking stands, and the lost mail is counted and in the day's journal
    assert booking["status"] == "confirmed"
    assert counted == ["MailErrors"]
    (entry,) = journal_of(ctx, "2026-12-01")
    key = f"booking-{booking['id']}-confirmed"
    assert (entry["message_key"], entry["status"]) == (key, "error")
    assert "linefeed" in entry["error"]
    # AND nothing is claimed: a later flow can still send it
    assert outbox_status(ctx, key) is None and sent(ses) == []


# -- SES failures ---------------------------------------------------------------------------
def test_ses_failing_never_breaks_the_booking_and_the_mail_is_retried(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = break_ses(ctx, monkeypatch)
    booking_id = paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    assert refused  # SES was asked, and said no
    assert api.get(f"/v1/bookings/{booking_id}", token=member).json["status"] == "confirmed"
    key = f"booking-{booking_id}-confirmed"
    assert outbox_status(ctx, key) == "failed"
    record = mail_delivery.outbox(ctx).get(key)
    assert record is not None and "Throttling" in record["last_error"]
    (entry,) = journal_of(ctx, "2026-12-01")
    assert entry["status"] == "failed" and entry["message_key"] == key
    assert sent(ses) == []

    mend_ses(ctx, monkeypatch)
    # Not due yet (the first retry waits 15 minutes): nothing.
    soon = run_job(api, admin, "send_reminders", NOW + timedelta(minutes=5))
    assert soon["processed"] == 0 and sent(ses) == []
    later = run_job(api, admin, "send_reminders", NOW + timedelta(minutes=20))
    # The confirmation, and the booking's invoice that failed with it.
    assert later["processed"] == 2 and later["retries_sent"] == 2
    (mail,) = sent(ses)
    assert mail["X-Relais-Message-Key"] == key
    assert [p.get_filename() for p in mail.iter_attachments()] == ["booking.ics"]
    assert "Votre réservation est confirmée." in bodies(mail)[0]
    assert outbox_status(ctx, key) == "sent"
    journal = journal_of(ctx, "2026-12-01")
    assert [e["status"] for e in journal] == ["failed", "sent"]
    # Retried once only.
    assert run_job(api, admin, "send_reminders", NOW + timedelta(hours=2))["processed"] == 0
    assert len(sent(ses)) == 1


def test_a_failed_mail_about_a_booking_that_changed_is_given_up(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    break_ses(ctx, monkeypatch)
    booking_id = paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    mend_ses(ctx, monkeypatch)
    assert api.post(f"/v1/bookings/{booking_id}/cancel", token=member).status == 200
    answer = notifications.send_reminders(ctx, NOW + timedelta(hours=1))
    # The invoice of the booking (it was issued) still goes out; the confirmation not.
    assert answer["abandoned"] == 1 and answer["retries_sent"] == 1
    assert outbox_status(ctx, f"booking-{booking_id}-confirmed") == "abandoned"
    # The cancellation went out; the stale confirmation never did.
    assert [str(m["X-Relais-Message-Key"]) for m in sent(ses)] == [
        f"booking-{booking_id}-cancelled"
    ]


def test_a_mail_failing_every_time_is_given_up_after_the_last_attempt(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    break_ses(ctx, monkeypatch)
    booking_id = paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    key = f"booking-{booking_id}-confirmed"
    moment = NOW
    while outbox_status(ctx, key) == "failed":
        moment += timedelta(hours=13)
        assert moment < datetime(2026, 12, 3, 19, tzinfo=PARIS)  # given up before it is stale
        notifications.send_reminders(ctx, moment)
    record = mail_delivery.outbox(ctx).get(key)
    assert record is not None
    assert record["status"] == "abandoned" and record["attempts"] == mail_delivery.MAX_ATTEMPTS
    assert mail_delivery.outbox(ctx).due(moment + timedelta(days=1)) == []


def test_no_mail_for_a_member_without_an_email(
    api: Api,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
    ctx: Context,
) -> None:
    anonymous = api.token("member-9", email="")
    booking_id = paid_booking(api, settings, stripe_fake, anonymous, network["pool"], THURSDAY)
    assert sent(ses) == []
    assert outbox_status(ctx, f"booking-{booking_id}-confirmed") is None


def test_without_a_sender_mail_is_off_and_nothing_is_written(
    auth_keys: tuple[Path, Path],
    table: Table,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = Context(settings=make_settings(auth_keys[1]), table=table, clock=clock)
    assert mail_delivery.mailer_for(ctx) is None
    answer = notifications.send_reminders(ctx)
    assert answer == {"job": "send_reminders", "processed": 0, "mail": "disabled"}


def test_a_mailer_put_on_the_context_is_the_one_used(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
    ctx: Context,
) -> None:
    memory = MemoryMailer()
    ctx.__dict__[mail_delivery.MAILER_ATTRIBUTE] = memory
    paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    (message,) = [m for m in memory.sent if not _about_a_document(m.message_key or "")]
    assert message.subject.startswith("Réservation confirmée")
    assert [a.filename for a in message.attachments] == ["booking.ics"]
    assert sent(ses) == []


# -- memberships ----------------------------------------------------------------------------
def test_membership_renewed_and_payment_failed(
    api: Api, member: str, ctx: Context, clock: FixedClock, ses: Any
) -> None:
    membership = pytest.importorskip("chalicelib.domain.membership")
    Membership, MembershipStatus = membership.Membership, membership.MembershipStatus

    api.get("/v1/me", token=member)  # the profile, from the token
    renewed = Membership(
        id="mbr_1",
        member_id="member-1",
        product_id="prd_1",
        product_name="Nomade",
        operator_id="op_1",
        amount=9900,
        vat_rate="20.00",
        payment_method_type="card",
        status=MembershipStatus.active,
        anchor=datetime(2026, 11, 1).date(),
        period=2,
        current_period_start=datetime(2026, 12, 1, tzinfo=PARIS),
        current_period_end=datetime(2027, 1, 1, tzinfo=PARIS),
        created_at=NOW,
    )
    assert notifications.notify_membership(ctx, renewed, "renewed") == "sent"
    assert notifications.notify_membership(ctx, renewed, "renewed") == "duplicate"
    failing = renewed.model_copy(
        update={
            "status": MembershipStatus.past_due,
            "billing_period": 3,
            "failures": 1,
            "next_charge_at": datetime(2027, 1, 2, tzinfo=PARIS),
        }
    )
    as_dict = {**failing.model_dump(mode="json")}
    assert notifications.notify_membership(ctx, as_dict, "payment_failed") == "sent"
    given_up = failing.model_copy(update={"status": MembershipStatus.cancelled, "failures": 3})
    assert notifications.notify_membership(ctx, given_up, "payment_failed") == "sent"
    subjects = [str(m["Subject"]) for m in sent(ses)]
    assert subjects == [
        "Abonnement Nomade renouvelé",
        "Échec du paiement — Nomade",
        "Abonnement Nomade résilié",
    ]
    text = bodies(sent(ses)[0])[0]
    assert "du mardi 1er décembre 2026 au jeudi 31 décembre 2026" in text
    assert "Nous réessaierons le samedi 2 janvier 2027." in bodies(sent(ses)[1])[0]


def test_membership_mails_through_the_membership_flow(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    settings: Settings,
    ses: Any,
    ctx: Context,
) -> None:
    from tests.support.fake_stripe_memberships import MembershipFakeGateway

    gateway = ctx.gateway
    assert isinstance(gateway, MembershipFakeGateway)
    product = api.post(
        "/v1/products",
        {
            "kind": "membership",
            "name": "Nomade",
            "price": {"amount": 9900, "vat_rate": "20.00"},
            "operator_id": network["operator"],
            "period": "month",
            "days_per_period": 2,
        },
        token=admin,
    )
    assert product.status == 201, product.json
    for token, behaviour in ((member, "succeeds"), (api.token("member-2"), "declined")):
        answer = api.post(
            "/v1/memberships",
            {"product_id": product.json["id"], "payment_method_type": "card"},
            token=token,
        )
        assert answer.status == 201, answer.json
        setup = gateway.save_payment_method(answer.json["setup"]["setup_intent_id"], behaviour)
        assert deliver(api, settings, "setup_intent.succeeded", setup).status == 200
    by_to = {str(m["To"]): m for m in sent(ses)}
    assert by_to["member-1@example.org"]["Subject"] == "Abonnement Nomade activé"
    assert by_to["member-2@example.org"]["Subject"] == "Échec du paiement — Nomade"
    assert len(sent(ses)) == 2


# -- the adapter ----------------------------------------------------------------------------
def test_ses_errors_become_mail_not_sent(ses: Any) -> None:
    unverified = SesMailer(REGION, "Relais <someone@elsewhere.test>")
    mail = OutgoingMail(to="a@example.org", subject="s", text="t", html="<p>t</p>")
    with pytest.raises(MailNotSent) as refused:
        unverified.send(mail)
    assert refused.value.code == "MessageRejected"
    assert SesMailer(REGION, SENDER).send(mail)  # SES's message id
    (raw,) = sent(ses)
    assert raw["To"] == "a@example.org"


def test_a_mail_stuck_in_flight_is_sent_by_the_retry_job_after_its_lease(
    api: Api, member: str, ctx: Context, ses: Any
) -> None:
    # A sender that died between its claim and SES: the claim and its retry marker remain.
    api.get("/v1/me", token=member)
    record = {
        "kind": "reminder",
        "to": "member-1@example.org",
        "subject": "Rappel",
        "text": "Bonjour,\n",
        "html": "<p>Bonjour,</p>",
        "language": "fr",
        "attachments": [],
        "member_id": "member-1",
    }
    assert mail_delivery.outbox(ctx).claim("test-stuck", record, NOW) is not None
    assert mail_delivery.outbox(ctx).claim("test-stuck", record, NOW) is None  # once
    assert mail_delivery.retry_failed(ctx, NOW + timedelta(minutes=4))["retried"] == 0
    assert mail_delivery.retry_failed(ctx, NOW + timedelta(minutes=6))["retried"] == 1
    (mail,) = sent(ses)
    assert mail["Subject"] == "Rappel" and mail["X-Relais-Message-Key"] == "test-stuck"
    assert outbox_status(ctx, "test-stuck") == "sent"
