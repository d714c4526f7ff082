"""Mail delivery: the mailer of the context, and the outbox that makes every mail go out
once — claimed under its deterministic key *before* it is sent, recorded as sent or
failed, and retried (`retry_failed`, run by the hourly `send_reminders` job) until it is
sent, `MAX_ATTEMPTS` were made or it became pointless (past `send_until`, the booking no
longer in the status the mail speaks of, the member erased).

An attachment that can be made again (a document's PDF, `Attachment.source`) is kept in
the outbox by reference and rebuilt for a retry: a claim must stay far below DynamoDB's
400 KB. A mail that could not even be built (or claimed) is logged, counted
(`MailErrors`) and journaled (`error`): never silently lost.

What each mail says, and when it is wanted, is `notifications`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.mailer import Attachment, MailNotSent, OutgoingMail
from chalicelib.adapters.outbox_store import OutboxStore
from chalicelib.domain.mail_templates import language_of
from chalicelib.observability import count
from chalicelib.services import members
from chalicelib.services.context import Context
from chalicelib.services.ports import Mailer

logger = logging.getLogger("relais.notifications")

MAX_ATTEMPTS = 5
RETRY_AFTER = (  # after the 1st, 2nd... failed attempt
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
    timedelta(hours=12),
)
MAILER_ATTRIBUTE = "_mailer"  # where the context keeps its mailer (`Context.mailer`)
ERROR_METRIC = "MailErrors"  # a mail that could not be built or claimed (not retried)

# Makes an attachment's content again from its `source` (`document:{id}`).
Rebuild = Callable[[Context, str], bytes]


# -- configuration --------------------------------------------------------------------------
def mailer_for(ctx: Context) -> Mailer | None:
    """The context's mailer (`Context.mailer`: built on first use and kept); None: mail is
    off."""
    return ctx.mailer


def outbox(ctx: Context) -> OutboxStore:
    return ctx.outbox


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
    """Claim `message.message_key`, send, record: `sent`, `failed` (retried later),
    `duplicate` (claimed before: sent, being sent, or already waiting for a retry) or
    `skipped` (already past `send_until`: nothing claimed, nothing sent)."""
    assert message.message_key, "every mail needs its deterministic key"
    now = ctx.clock.now()
    if send_until is not None and now > send_until:
        return "skipped"  # a late flow (a catch-up run, a redelivery): too late to say it
    record: dict[str, Any] = {
        "kind": kind,
        "to": message.to,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "language": message.language,
        "attachments": [_kept(a) for a in message.attachments],
        "member_id": member_id,
        "booking_id": booking_id,
        "while_status": list(while_status) if while_status else None,
        "send_until": send_until.astimezone(UTC).isoformat() if send_until else None,
    }
    claim = outbox(ctx).claim(message.message_key, record, now)
    if claim is None:
        return "duplicate"
    return _attempt(ctx, mailer, message, claim, now)


def _kept(attachment: Attachment) -> dict[str, Any]:
    """What the outbox keeps of an attachment: its source if it can be rebuilt, else it."""
    kept: dict[str, Any] = {
        "filename": attachment.filename,
        "content_type": attachment.content_type,
    }
    if attachment.source:
        kept["source"] = attachment.source
    else:
        kept["content"] = attachment.content
    return kept


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


def retry_failed(ctx: Context, now: datetime, rebuild: Rebuild | None = None) -> Counter[str]:
    """Try again every mail whose retry is due; give up those that became pointless.
    `rebuild` makes again the attachments kept by their source (a document's PDF)."""
    outcomes: Counter[str] = Counter()
    mailer = mailer_for(ctx)
    if mailer is None:
        return outcomes
    store = outbox(ctx)
    for key in store.due(now):
        try:
            outcomes[_retry_one(ctx, mailer, store, key, now, rebuild)] += 1
        except Exception:
            logger.exception("Mail %s: retry failed", key)
            outcomes["error"] += 1
    return outcomes


def _retry_one(
    ctx: Context,
    mailer: Mailer,
    store: OutboxStore,
    key: str,
    now: datetime,
    rebuild: Rebuild | None,
) -> str:
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
    try:
        attachments = tuple(_attachment(ctx, a, rebuild) for a in claim.get("attachments") or [])
    except Exception as exc:  # the document gone, its PDF not rendered: an attempt failed
        logger.exception("Mail %s: attachment not rebuilt", key)
        _failed(ctx, claim, f"attachment not rebuilt: {type(exc).__name__}: {exc}", now)
        return "failed"
    message = OutgoingMail(
        to=str(claim["to"]),
        subject=str(claim["subject"]),
        text=str(claim.get("text") or ""),
        html=str(claim.get("html") or ""),
        attachments=attachments,
        language=str(claim.get("language") or "fr"),
        message_key=key,
    )
    return "retried" if _attempt(ctx, mailer, message, claim, now) == "sent" else "failed"


def _attachment(ctx: Context, kept: dict[str, Any], rebuild: Rebuild | None) -> Attachment:
    source = kept.get("source")
    if source is None:
        content = bytes(kept["content"])
    elif rebuild is None:
        raise LookupError(f"nothing can rebuild {source!r}")
    else:
        content = rebuild(ctx, str(source))
    return Attachment(str(kept["filename"]), content, str(kept["content_type"]), source)


def _pointless(ctx: Context, record: dict[str, Any], now: datetime) -> str | None:
    """Why a mail waiting for a retry should not go out any more (None: it should)."""
    if not record.get("text") and not record.get("html"):
        return "no body kept"
    until = instant(record.get("send_until"))
    if until is not None and now > until:
        return "stale: past its send_until"
    if record.get("booking_id") and record.get("while_status"):
        booking = ctx.bookings.get(str(record["booking_id"]))
        if booking is None or booking.status.value not in record["while_status"]:
            return "obsolete: the booking changed"
    if record.get("member_id") and recipient_of(ctx, str(record["member_id"])) is None:
        return "no recipient any more (erased, or no email)"
    return None


# -- recipients -----------------------------------------------------------------------------
def recipient_of(ctx: Context, member_id: str) -> tuple[str, str, str] | None:
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


def guarded(
    what: str,
    subject: str,
    send: Callable[[], str],
    *,
    ctx: Context | None = None,
    key: str | None = None,
) -> str:
    """`send()`'s outcome, or ``error``: a mail never breaks its flow. An error (the mail
    could not be built, or claimed) is logged, counted (`MailErrors`) and, given the
    mail's `key`, written in the outbox journal: never lost without a trace."""
    try:
        return send()
    except Exception as exc:
        logger.exception("Mail %s for %s not sent", what, subject)
        count(ERROR_METRIC)
        if ctx is not None and key is not None:
            _journal_error(ctx, key, what, f"{type(exc).__name__}: {exc}")
        return "error"


def _journal_error(ctx: Context, key: str, kind: str, error: str) -> None:
    try:
        outbox(ctx).record_error(key, kind, error, ctx.clock.now())
    except Exception:  # the store is what failed: the log line and the metric remain
        logger.exception("Mail %s: error not journaled", key)


def instant(value: Any) -> datetime | None:
    """A time kept in the outbox or a membership (datetime or ISO text), or None."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None
