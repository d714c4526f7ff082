"""Mail through Amazon SES: one MIME message per mail, sent raw (`ses:SendRawEmail`).

A mail is ``multipart/mixed``: first a ``multipart/alternative`` (plain text, then HTML),
then its attachments (a booking's ``booking.ics`` as ``text/calendar; method=PUBLISH``).
Text parts are UTF-8 in quoted-printable or base64, so the message is 7-bit clean.

Nothing is built at import: `email` is imported when a message is built, and the boto3
client on the first send (boto3 is provided by the Lambda runtime). Every SES or
connection error becomes `MailNotSent`; callers record it and carry on — a mail never
breaks the flow that wanted it sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

ICS_CONTENT_TYPE = "text/calendar; method=PUBLISH"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"  # may carry parameters: "; method=PUBLISH"
    # Where the content can be made again (`document:{id}`, a document's Factur-X PDF): the
    # outbox keeps this instead of the content (an item holds 400 KB at most).
    source: str | None = None


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()
    language: str = "fr"
    # Deterministic key of what the mail is about (`booking-{id}-confirmed`): a header, so a
    # mail in a mailbox or a bounce can be traced back to its outbox record.
    message_key: str | None = None


def ics_attachment(text: str, filename: str = "booking.ics") -> Attachment:
    return Attachment(filename, text.encode("utf-8"), ICS_CONTENT_TYPE)


class MailNotSent(Exception):
    """SES refused the mail or could not be reached. `code` is SES's error code when it
    answered (MessageRejected, Throttling...), else the exception's class name."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


def build_mime(message: OutgoingMail, sender: str, reply_to: str | None = None) -> bytes:
    """The raw RFC 5322 message: headers, text + HTML alternatives, attachments."""
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import formatdate, make_msgid

    mime = EmailMessage(policy=SMTP.clone(cte_type="7bit"))
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False, usegmt=True)
    mime["Message-ID"] = make_msgid(domain=_domain_of(sender))
    if reply_to:
        mime["Reply-To"] = reply_to
    if message.message_key:
        mime["X-Relais-Message-Key"] = message.message_key
    mime.set_content(message.text, subtype="plain", charset="utf-8")
    mime.add_alternative(message.html, subtype="html", charset="utf-8")
    for attachment in message.attachments:
        maintype, subtype, params = _content_type(attachment.content_type)
        if maintype == "text":
            mime.add_attachment(
                attachment.content.decode("utf-8"),
                subtype=subtype,
                charset="utf-8",
                filename=attachment.filename,
                params=params,
            )
        else:
            mime.add_attachment(
                attachment.content,
                maintype=maintype,
                subtype=subtype,
                filename=attachment.filename,
                params=params,
            )
    # Last: set_content / add_alternative / add_attachment clear or move the Content-*
    # headers of the message into its parts.
    mime["Content-Language"] = message.language
    return mime.as_bytes()


def _content_type(value: str) -> tuple[str, str, dict[str, str]]:
    kind, *rest = (part.strip() for part in value.split(";"))
    maintype, _, subtype = kind.partition("/")
    params = {}
    for param in rest:
        name, _, val = param.partition("=")
        if name.strip().lower() != "charset" and name.strip():
            params[name.strip()] = val.strip().strip('"')
    return maintype or "application", subtype or "octet-stream", params


def _domain_of(sender: str) -> str:
    from email.utils import parseaddr

    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "relais.local"


class SesMailer:
    """Sends `OutgoingMail` through SES v1 `SendRawEmail` (the one call that takes a whole
    MIME message with attachments, also in moto); `sender` must be a verified identity."""

    def __init__(
        self,
        region: str,
        sender: str,
        endpoint_url: str | None = None,
        reply_to: str | None = None,
        configuration_set: str | None = None,
    ) -> None:
        self.region = region
        self.sender = sender
        self._endpoint_url = endpoint_url
        self._reply_to = reply_to
        self._configuration_set = configuration_set

    @cached_property
    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=10
        )
        return boto3.client(
            "ses", region_name=self.region, endpoint_url=self._endpoint_url, config=config
        )

    def send(self, message: OutgoingMail) -> str:
        """Send one mail; answers SES's message id. Raises `MailNotSent` on any failure."""
        from botocore.exceptions import BotoCoreError, ClientError

        raw = build_mime(message, self.sender, self._reply_to)
        request: dict[str, Any] = {
            "Source": self.sender,
            "Destinations": [message.to],
            "RawMessage": {"Data": raw},
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            response = self.client.send_raw_email(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "ClientError")
            raise MailNotSent(
                f"SES refused the mail: {code}: {error.get('Message')}", code
            ) from exc
        except BotoCoreError as exc:
            raise MailNotSent(f"SES unreachable: {exc}", type(exc).__name__) from exc
        return str(response["MessageId"])


@dataclass
class MemoryMailer:
    """A mailer that keeps what it is given (local runs without SES, unit tests)."""

    sent: list[OutgoingMail] = field(default_factory=list)

    def send(self, message: OutgoingMail) -> str:
        self.sent.append(message)
        return f"memory-{len(self.sent)}"
