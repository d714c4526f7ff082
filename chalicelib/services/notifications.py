"""Members' mails: booking confirmed (with its ICS), cancelled, hold expired, the reminder
the day before, membership renewed or payment failed — and retrying those that failed.

A mail never breaks the flow that wanted it: every `notify_*` catches everything, logs it
and answers an outcome (``sent``, ``failed``, ``duplicate``, ``disabled``, ``no_recipient``,
``skipped``, ``error``). Nothing is lost silently either: a mail is claimed in the outbox
under a deterministic key (`booking-{id}-confirmed`...) *before* it is sent, so a retried
flow never sends it twice, and a failed attempt stays in the outbox until `send_reminders`
(hourly) sends it, or gives it up after `MAX_ATTEMPTS` or once it is pointless (past
`send_until`, the booking no longer in the status the mail speaks of, the member erased).

The language is the member's profile's (`"fr"` by default, `"en"`), the recipient its
email; members without an email, or erased, get no mail. Mail is off (every notify answers
``disabled``, nothing is written) while no sender is configured (``MAIL_FROM``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from chalicelib.adapters.mailer import Attachment, MailNotSent, OutgoingMail, ics_attachment
from chalicelib.adapters.outbox_store import OutboxStore
from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.mail_templates import language_of, render
from chalicelib.domain.timezones import PARIS, PARIS_ZONE_NAME
from chalicelib.services import calendars, document_mail, members
from chalicelib.services.context import Context

logger = logging.getLogger("relais.notifications")

MAX_ATTEMPTS = 5
RETRY_AFTER = (  # after the 1st, 2nd... failed attempt
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
    timedelta(hours=12),
)
MAILER_ATTRIBUTE = "_mailer"  # where the context keeps its mailer (see `mailer_for`)

MembershipEvent = Literal["renewed", "payment_failed"]
CONFIRMED = (BookingStatus.confirmed.value, BookingStatus.checked_in.value)


class Mailer(Protocol):
    def send(self, message: OutgoingMail) -> str: ...


# -- configuration --------------------------------------------------------------------------
def build_mailer(ctx: Context) -> Mailer | None:
    """An SES mailer from the settings; None while `MAIL_FROM` is unset (mail off)."""
    sender = ctx.settings.mail_from
    if not sender:
        return None
    from chalicelib.adapters.mailer import SesMailer

    return SesMailer(
        region=ctx.settings.ses_region or ctx.settings.aws_region,
        sender=sender,
        endpoint_url=ctx.settings.ses_endpoint_url,
        reply_to=ctx.settings.mail_reply_to,
    )


def mailer_for(ctx: Context) -> Mailer | None:
    """The context's mailer, built on first use (boto3 only on the first send) and kept on
    the context; tests may put their own in `ctx._mailer`. None: mail is off."""
    mailer: Mailer | None = ctx.__dict__.get(MAILER_ATTRIBUTE)
    if mailer is None:
        mailer = build_mailer(ctx)
        if mailer is not None:  # two threads may both build one: harmless, both work
            ctx.__dict__[MAILER_ATTRIBUTE] = mailer
    return mailer


def outbox(ctx: Context) -> OutboxStore:
    return ctx.outbox


# -- bookings ---------------------------------------------------------------------------------
def notify_booking_confirmed(ctx: Context, booking: Booking) -> str:
    """The confirmation, with the booking as `booking.ics` (once per booking)."""

    def attachments(shown: Booking, relay: Any, resource_name: str) -> tuple[Attachment, ...]:
        if shown.status is BookingStatus.held:  # handed over just before its confirmation
            shown = shown.model_copy(update={"status": BookingStatus.confirmed})
        ics = calendars.booking_ics(shown, relay, resource_name, ctx.clock.now())
        return (ics_attachment(ics),)

    return _guarded(
        "booking_confirmed",
        booking.id,
        lambda: _booking_mail(
            ctx,
            booking,
            kind="booking_confirmed",
            key=f"booking-{booking.id}-confirmed",
            while_status=CONFIRMED,
            send_until=booking.end,
            attachments=attachments,
        ),
    )


def notify_booking_cancelled(
    ctx: Context,
    booking: Booking,
    refund: Mapping[str, Any] | None,
    credits_restored: Any,
    *,
    reason: str | None = None,
) -> str:
    """The cancellation of a booking that was confirmed (a pending card hold that is
    cancelled got no confirmation, so gets no cancellation either): what comes back —
    the refund, the credits — and, on a closed day, why."""
    if booking.status is BookingStatus.held:
        return "skipped"

    def extra() -> dict[str, Any]:
        closure = reason or _closure_reason(ctx, booking)
        return {
            "refund": dict(refund) if refund else None,
            "credits_restored": credits_restored or 0,
            "closure_reason": closure,
        }

    return _guarded(
        "booking_cancelled",
        booking.id,
        lambda: _booking_mail(
            ctx,
            booking,
            kind="booking_cancelled",
            key=f"booking-{booking.id}-cancelled",
            while_status=None,
            send_until=ctx.clock.now() + timedelta(days=7),
            extra=extra,
        ),
    )


def notify_hold_expired(ctx: Context, booking: Booking) -> str:
    """A card booking not paid in time: its seat was released."""
    return _guarded(
        "hold_expired",
        booking.id,
        lambda: _booking_mail(
            ctx,
            booking,
            kind="hold_expired",
            key=f"booking-{booking.id}-hold-expired",
            while_status=(BookingStatus.expired.value,),
            send_until=booking.end,
        ),
    )


def notify_reminder(ctx: Context, booking: Booking) -> str:
    """The reminder the day before (once per booking)."""
    return _guarded(
        "reminder",
        booking.id,
        lambda: _booking_mail(
            ctx,
            booking,
            kind="reminder",
            key=reminder_key(booking.id),
            while_status=(BookingStatus.confirmed.value,),
            send_until=booking.start,
        ),
    )


def reminder_key(booking_id: str) -> str:
    return f"booking-{booking_id}-reminder"


def _booking_mail(
    ctx: Context,
    booking: Booking,
    *,
    kind: str,
    key: str,
    while_status: tuple[str, ...] | None,
    send_until: datetime,
    extra: Callable[[], dict[str, Any]] | None = None,
    attachments: Callable[[Booking, Any, str], tuple[Attachment, ...]] | None = None,
) -> str:
    mailer = mailer_for(ctx)
    if mailer is None:
        return "disabled"
    if outbox(ctx).get(key) is not None:
        return "duplicate"  # the claim below would say so too, after rendering for nothing
    recipient = _recipient(ctx, booking.member_id)
    if recipient is None:
        return "no_recipient"
    email, name, language = recipient
    relay = ctx.catalogue.relay(booking.relay_id)
    resource = ctx.catalogue.get().resources.get(booking.resource_id)
    resource_name = resource.name if resource is not None else relay.name
    fields: dict[str, Any] = {
        "name": name,
        "relay_name": relay.name,
        "resource_name": resource_name,
        "address": calendars.one_line_address(relay.address),
        "start": booking.start,
        "end": booking.end,
        "timezone": relay.timezone,
        "booking_id": booking.id,
        "amount": int(booking.price.get("amount", 0)),
        "payment_method": booking.payment_method,
        "credits_used": booking.credits_used,
        "cancel_free_hours": ctx.settings.cancel_free_hours,
    }
    if extra is not None:
        fields.update(extra())
    subject, text, html = render(kind, fields, language)
    message = OutgoingMail(
        to=email,
        subject=subject,
        text=text,
        html=html,
        attachments=attachments(booking, relay, resource_name) if attachments else (),
        language=language,
        message_key=key,
    )
    return deliver(
        ctx,
        mailer,
        message,
        kind=kind,
        member_id=booking.member_id,
        booking_id=booking.id,
        while_status=while_status,
        send_until=send_until,
    )


def _closure_reason(ctx: Context, booking: Booking) -> str | None:
    return ctx.catalogue_store.closure_reason(booking.relay_id, booking.date.isoformat())


# -- memberships ------------------------------------------------------------------------------
def notify_membership(ctx: Context, membership: Any, event: MembershipEvent) -> str:
    """`renewed` (a period paid; the first one says "started") or `payment_failed` (a
    retry is scheduled, or the membership is cancelled). `membership` is a `Membership`
    or its `model_dump(mode="json")` (the stored fields: `member_id`, `period`, `failures`...).
    """
    data: dict[str, Any] = (
        membership.model_dump(mode="json")
        if hasattr(membership, "model_dump")
        else dict(membership)
    )
    return _guarded(
        f"membership_{event}", str(data.get("id")), lambda: _membership_mail(ctx, data, event)
    )


def _membership_mail(ctx: Context, data: dict[str, Any], event: MembershipEvent) -> str:
    mailer = mailer_for(ctx)
    if mailer is None:
        return "disabled"
    membership_id, member_id = str(data["id"]), str(data["member_id"])
    amount = data.get("amount")
    if amount is None:
        amount = (data.get("price") or {}).get("amount", 0)
    fields: dict[str, Any] = {"product_name": data.get("product_name"), "amount": int(amount)}
    tz = PARIS  # memberships' periods are Paris days
    if event == "renewed":
        period = int(data.get("period") or 0)
        key = f"membership-{membership_id}-period-{period}-renewed"
        start, end = (
            _instant(data.get("current_period_start")),
            _instant(data.get("current_period_end")),
        )
        if start and end:
            fields["period_first_day"] = start.astimezone(tz).date()
            fields["period_last_day"] = (end.astimezone(tz) - timedelta(days=1)).date()
        fields["first"] = period == 1
        kind = "membership_renewed"
    else:
        period = int(data.get("billing_period") or data.get("period") or 0)
        attempt = data.get("failures")
        if attempt is None:
            attempt = data.get("next_charge_at") or data.get("status") or "0"
        key = f"membership-{membership_id}-period-{period}-failed-{attempt}"
        fields["cancelled"] = data.get("status") == "cancelled"
        fields["next_attempt"] = (
            None if fields["cancelled"] else _instant(data.get("next_charge_at"))
        )
        fields["timezone"] = PARIS_ZONE_NAME
        kind = "membership_payment_failed"
    if outbox(ctx).get(key) is not None:
        return "duplicate"
    recipient = _recipient(ctx, member_id)
    if recipient is None:
        return "no_recipient"
    email, name, language = recipient
    fields["name"] = name
    subject, text, html = render(kind, fields, language)
    message = OutgoingMail(
        to=email, subject=subject, text=text, html=html, language=language, message_key=key
    )
    return deliver(
        ctx,
        mailer,
        message,
        kind=kind,
        member_id=member_id,
        send_until=ctx.clock.now() + timedelta(days=3),
    )


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


# -- the outbox -------------------------------------------------------------------------------
def deliver(
    ctx: Context,
    mailer: Mailer,
    message: OutgoingMail,
    *,
    kind: str,
    member_id: str | None = None,
    booking_id: str | None = None,
    while_status: tuple[str, ...] | None = None,
    send_until: datetime | None = None,
) -> str:
    """Claim `message.message_key`, send, record: `sent`, `failed` (retried later) or
    `duplicate` (claimed before: sent, being sent, or already waiting for a retry)."""
    assert message.message_key, "every mail needs its deterministic key"
    now = ctx.clock.now()
    record: dict[str, Any] = {
        "kind": kind,
        "to": message.to,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "language": message.language,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "content": a.content}
            for a in message.attachments
        ],
        "member_id": member_id,
        "booking_id": booking_id,
        "while_status": list(while_status) if while_status else None,
        "send_until": send_until.astimezone(UTC).isoformat() if send_until else None,
    }
    claim = outbox(ctx).claim(message.message_key, record, now)
    if claim is None:
        return "duplicate"
    return _attempt(ctx, mailer, message, claim, now)


def _attempt(
    ctx: Context, mailer: Mailer, message: OutgoingMail, claim: dict[str, Any], now: datetime
) -> str:
    try:
        message_id = mailer.send(message)
    except MailNotSent as exc:
        return _failed(ctx, claim, exc.detail, now)
    except Exception as exc:  # a mail never breaks the flow: record it, retry it
        logger.exception("Mail %s: unexpected error", message.message_key)
        return _failed(ctx, claim, f"{type(exc).__name__}: {exc}", now)
    outbox(ctx).record_sent(claim, message_id, now)
    return "sent"


def _failed(ctx: Context, claim: dict[str, Any], error: str, now: datetime) -> str:
    attempts = int(claim["attempts"])
    retry_at = now + RETRY_AFTER[attempts - 1] if attempts < MAX_ATTEMPTS else None
    logger.warning(
        "Mail %s not sent (attempt %d, %s): %s",
        claim.get("message_key"),
        attempts,
        f"retry from {retry_at.isoformat()}" if retry_at else "given up",
        error,
    )
    outbox(ctx).record_failed(claim, error, now, retry_at)
    return "failed"


def retry_failed(ctx: Context, now: datetime) -> Counter[str]:
    """Try again every mail whose retry is due; give up those that became pointless."""
    outcomes: Counter[str] = Counter()
    mailer = mailer_for(ctx)
    if mailer is None:
        return outcomes
    store = outbox(ctx)
    for key in store.due(now):
        try:
            outcomes[_retry_one(ctx, mailer, store, key, now)] += 1
        except Exception:
            logger.exception("Mail %s: retry failed", key)
            outcomes["error"] += 1
    return outcomes


def _retry_one(ctx: Context, mailer: Mailer, store: OutboxStore, key: str, now: datetime) -> str:
    record = store.get(key)
    if record is None or record.get("status") in ("sent", "abandoned"):
        store.forget_retry(key)
        return "skipped"
    pointless = _pointless(ctx, record, now)
    if pointless:
        store.abandon(record, pointless, now)
        return "abandoned"
    claim = store.reclaim(key, now)
    if claim is None:
        return "skipped"  # another run has it
    message = OutgoingMail(
        to=str(claim["to"]),
        subject=str(claim["subject"]),
        text=str(claim.get("text") or ""),
        html=str(claim.get("html") or ""),
        attachments=tuple(
            Attachment(str(a["filename"]), bytes(a["content"]), str(a["content_type"]))
            for a in claim.get("attachments") or []
        ),
        language=str(claim.get("language") or "fr"),
        message_key=key,
    )
    return "retried" if _attempt(ctx, mailer, message, claim, now) == "sent" else "failed"


def _pointless(ctx: Context, record: dict[str, Any], now: datetime) -> str | None:
    """Why a mail waiting for a retry should not go out any more (None: it should)."""
    if not record.get("text") and not record.get("html"):
        return "no body kept"
    until = _instant(record.get("send_until"))
    if until is not None and now > until:
        return "stale: past its send_until"
    if record.get("booking_id") and record.get("while_status"):
        booking = ctx.bookings.get(str(record["booking_id"]))
        if booking is None or booking.status.value not in record["while_status"]:
            return "obsolete: the booking changed"
    if record.get("member_id") and _recipient(ctx, str(record["member_id"])) is None:
        return "no recipient any more (erased, or no email)"
    return None


# -- reminders --------------------------------------------------------------------------------
def send_reminders(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    """Hourly: from `REMINDER_HOUR` (relay-local) on, one reminder per confirmed booking of
    tomorrow at every relay, once; then the retries of failed mails that are due.

    Idempotent (a reminder is claimed by `booking-{id}-reminder`) and safe to run
    concurrently; `as_of` acts as if it were that time (catch-up runs)."""
    now = as_of or ctx.clock.now()
    if mailer_for(ctx) is None:
        return {"job": "send_reminders", "processed": 0, "mail": "disabled"}
    hour = ctx.settings.reminder_hour
    reminders: Counter[str] = Counter()
    relays = ctx.catalogue.get().relays
    for relay_id in sorted(relays):
        local = now.astimezone(ZoneInfo(relays[relay_id].timezone))
        if local.hour < hour:
            continue
        tomorrow: date = local.date() + timedelta(days=1)
        for booking in ctx.bookings.on_relay_day(relay_id, tomorrow.isoformat()):
            if booking.status is not BookingStatus.confirmed:
                continue
            reminders[notify_reminder(ctx, booking)] += 1
    retries = retry_failed(ctx, now)
    missed = document_mail.send_missed_documents(ctx, now)
    return {
        "job": "send_reminders",
        "processed": reminders["sent"] + retries["retried"] + missed["sent"],
        "documents_sent": missed["sent"],
        "reminders_sent": reminders["sent"],
        "reminders_already_sent": reminders["duplicate"],
        "reminders_failed": reminders["failed"] + reminders["error"],
        "no_recipient": reminders["no_recipient"],
        "retries_sent": retries["retried"],
        "retries_failed": retries["failed"] + retries["error"],
        "abandoned": retries["abandoned"],
    }


# -- shared -----------------------------------------------------------------------------------
def _recipient(ctx: Context, member_id: str) -> tuple[str, str, str] | None:
    """(email, name, language) of a member who can be written to; None otherwise."""
    profile = members.profile(ctx, member_id)
    if not profile or profile.get("erased_at") or not profile.get("email"):
        return None
    name = str(profile.get("name") or "")
    return (
        str(profile["email"]),
        "" if name == member_id else name,  # a profile made from a token without a name
        language_of(profile.get("language")),
    )


def _guarded(what: str, subject: str, send: Callable[[], str]) -> str:
    try:
        return send()
    except Exception:
        logger.exception("Mail %s for %s not sent", what, subject)
        return "error"
