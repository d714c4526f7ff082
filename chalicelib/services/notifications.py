"""Members' mails, what each says and when: booking confirmed (with its ICS), cancelled,
hold expired, the reminder the day before, membership renewed or payment failed. Sending
them once, and retrying those that failed, is `mail_delivery`.

A mail never breaks the flow that wanted it: every `notify_*` catches everything, logs it
(an ``error`` is also counted and journaled) and answers an outcome (``sent``, ``failed``,
``duplicate``, ``disabled``, ``no_recipient``, ``skipped``, ``error``). Each mail has a
deterministic key (`booking-{id}-confirmed`...), so a retried flow never sends it twice,
and one that died before its mail sends it (a redelivered payment, a retried cancel);
`send_reminders` (hourly) also retries the failed.

The language is the member's profile's (`"fr"` by default, `"en"`), the recipient its
email; members without an email, or erased, get no mail. Mail is off (every notify answers
``disabled``, nothing is written) while no sender is configured (``MAIL_FROM``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from chalicelib.adapters.mailer import Attachment, OutgoingMail, ics_attachment
from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.documents import Document
from chalicelib.domain.mail_templates import render
from chalicelib.domain.payment import Refund
from chalicelib.domain.timezones import PARIS, PARIS_ZONE_NAME
from chalicelib.domain.wallet import restored_credits
from chalicelib.services import calendars, document_mail
from chalicelib.services.context import Context
from chalicelib.services.mail_delivery import (
    deliver,
    guarded,
    instant,
    mailer_for,
    outbox,
    recipient_of,
    retry_failed,
)
from chalicelib.services.ports import Mailer

MembershipEvent = Literal["renewed", "payment_failed"]
CONFIRMED = (BookingStatus.confirmed.value, BookingStatus.checked_in.value)


# -- bookings ---------------------------------------------------------------------------------
def notify_booking_confirmed(ctx: Context, booking: Booking) -> str:
    """The confirmation, with the booking as `booking.ics` (once per booking)."""

    def attachments(shown: Booking, relay: Any, resource_name: str) -> tuple[Attachment, ...]:
        if shown.status is BookingStatus.held:  # handed over just before its confirmation
            shown = shown.model_copy(update={"status": BookingStatus.confirmed})
        ics = calendars.booking_ics(shown, relay, resource_name, ctx.clock.now())
        return (ics_attachment(ics),)

    key = confirmed_key(booking.id)
    return guarded(
        "booking_confirmed",
        booking.id,
        lambda: _booking_mail(
            ctx,
            booking,
            kind="booking_confirmed",
            key=key,
            while_status=CONFIRMED,
            send_until=booking.end,
            attachments=attachments,
        ),
        ctx=ctx,
        key=key,
    )


def confirmed_key(booking_id: str) -> str:
    return f"booking-{booking_id}-confirmed"


def cancelled_key(booking_id: str) -> str:
    return f"booking-{booking_id}-cancelled"


def notify_booking_cancelled(
    ctx: Context,
    booking: Booking,
    refund: Mapping[str, Any] | None,
    credits_restored: Any,
    *,
    reason: str | None = None,
    late: bool = False,
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
            "cancelled_late": late,  # past the free-cancellation deadline: nothing back
        }

    key = cancelled_key(booking.id)
    return guarded(
        "booking_cancelled",
        booking.id,
        lambda: _booking_mail(
            ctx,
            booking,
            kind="booking_cancelled",
            key=key,
            while_status=None,
            send_until=ctx.clock.now() + timedelta(days=7),
            extra=extra,
        ),
        ctx=ctx,
        key=key,
    )


def notify_cancellation_again(ctx: Context, booking: Booking) -> str:
    """For a retried cancel of a booking already cancelled: its cancellation mail, if the
    first attempt died before it (same key: sent at most once). Only for a booking the
    member was told was confirmed (a hold cancelled before its payment got no mail)."""
    if booking.status is not BookingStatus.cancelled or mailer_for(ctx) is None:
        return "skipped"
    store = outbox(ctx)
    if store.get(cancelled_key(booking.id)) is not None:
        return "duplicate"
    if store.get(confirmed_key(booking.id)) is None:
        return "skipped"
    refund: dict[str, Any] | None = None
    if booking.refund:
        refund = {"amount": booking.refund.get("amount"), "status": booking.refund.get("status")}
    elif booking.refund_due:
        refund = {"amount": booking.refund_due, "status": "pending"}
    credits = Decimal(0)
    if booking.credit_draws and not booking.cancelled_late:
        packs = ctx.payments.packs_of(booking.member_id)
        credits = restored_credits(booking.credit_draws, packs, ctx.clock.now())
    return notify_booking_cancelled(ctx, booking, refund, credits, late=booking.cancelled_late)


def notify_hold_expired(ctx: Context, booking: Booking) -> str:
    """A card booking not paid in time: its seat was released."""
    key = f"booking-{booking.id}-hold-expired"
    return guarded(
        "hold_expired",
        booking.id,
        lambda: _booking_mail(
            ctx,
            booking,
            kind="hold_expired",
            key=key,
            while_status=(BookingStatus.expired.value,),
            send_until=booking.end,
        ),
        ctx=ctx,
        key=key,
    )


def notify_reminder(ctx: Context, booking: Booking) -> str:
    """The reminder the day before (once per booking)."""
    key = reminder_key(booking.id)
    return guarded(
        "reminder",
        booking.id,
        lambda: _booking_mail(
            ctx,
            booking,
            kind="reminder",
            key=key,
            while_status=(BookingStatus.confirmed.value,),
            send_until=booking.start,
        ),
        ctx=ctx,
        key=key,
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
    recipient = recipient_of(ctx, booking.member_id)
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
    what = f"membership_{event}"
    return guarded(
        what,
        str(data.get("id")),
        lambda: _membership_mail(ctx, data, event),
        ctx=ctx,
        # An error is journaled by membership and event (the key proper, with the period,
        # is made from the data that may be what failed).
        key=f"membership-{data.get('id')}-{event}",
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
            instant(data.get("current_period_start")),
            instant(data.get("current_period_end")),
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
            None if fields["cancelled"] else instant(data.get("next_charge_at"))
        )
        fields["timezone"] = PARIS_ZONE_NAME
        kind = "membership_payment_failed"
    return _member_mail(ctx, mailer, member_id, kind, key, fields, timedelta(days=3))


def _member_mail(
    ctx: Context,
    mailer: Mailer,
    member_id: str,
    kind: str,
    key: str,
    fields: dict[str, Any],
    valid_for: timedelta,
) -> str:
    """The mail `kind` to a member (not about a booking), in their language, once under
    `key`; sent within `valid_for`, or not at all."""
    if outbox(ctx).get(key) is not None:
        return "duplicate"
    recipient = recipient_of(ctx, member_id)
    if recipient is None:
        return "no_recipient"
    email, name, language = recipient
    subject, text, html = render(kind, {**fields, "name": name}, language)
    message = OutgoingMail(
        to=email, subject=subject, text=text, html=html, language=language, message_key=key
    )
    return deliver(
        ctx,
        mailer,
        message,
        kind=kind,
        member_id=member_id,
        send_until=ctx.clock.now() + valid_for,
    )


def notify_refund_failed(ctx: Context, refund: Refund, credit_note: Document) -> str:
    """A refund the member's bank refused: they are told it is still theirs (once)."""
    key = f"refund-{refund.id}-failed"
    return guarded(
        "refund_failed",
        refund.id,
        lambda: _refund_failed_mail(ctx, refund, credit_note, key),
        ctx=ctx,
        key=key,
    )


def _refund_failed_mail(ctx: Context, refund: Refund, credit_note: Document, key: str) -> str:
    mailer = mailer_for(ctx)
    if mailer is None:
        return "disabled"
    fields = {
        "amount": refund.amount,
        "credit_note_number": credit_note.number,
        "seller_name": credit_note.seller.name,
    }
    return _member_mail(
        ctx, mailer, refund.member_id, "refund_failed", key, fields, timedelta(days=7)
    )


# -- reminders --------------------------------------------------------------------------------
def send_reminders(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    """Hourly: from `REMINDER_HOUR` (relay-local) on, one reminder per confirmed booking of
    tomorrow at every relay, once; then the retries of failed mails that are due.

    Idempotent (a reminder is claimed by `booking-{id}-reminder`) and safe to run
    concurrently; `as_of` acts as if it were that time (catch-up runs), but a booking that
    has started by the real clock gets no reminder (a late catch-up run)."""
    now = as_of or ctx.clock.now()
    started_by = ctx.clock.now()
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
            if booking.status is not BookingStatus.confirmed or booking.start <= started_by:
                continue
            reminders[notify_reminder(ctx, booking)] += 1
    retries = retry_failed(ctx, now, rebuild=document_mail.rebuilt_attachment)
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
