"""Routes of calendars: a booking's .ics, the member's feed URL, and the public feed.

The feed URL handed out is ``{base}/v1/calendar/{token}.ics``. API Gateway (and Chalice's
router) only take a path parameter as a whole path segment, so ``/v1/calendar/{token}.ics``
cannot be declared: the route is ``/v1/calendar/{feed}``, whose one segment is
``{token}.ics`` (the bare token is accepted too).

``{base}`` is ``PUBLIC_BASE_URL`` when set (e.g. ``https://api.relais.coop``, the URL
that ``/v1`` hangs under), else rebuilt from the request: ``X-Forwarded-Proto`` (https by
default, http on loopback), the ``Host`` header, and the API Gateway stage when the host is
an ``execute-api`` one (custom domains map the stage away).
"""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.services import calendars

bp = Blueprint(__name__)

ICS_TYPE = "text/calendar; charset=utf-8"
FEED_SUFFIX = ".ics"
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


class CalendarFeed(BaseModel):
    model_config = ConfigDict(defer_build=True)
    url: str


@endpoint(
    bp,
    "/v1/bookings/{booking_id}/ics",
    "GET",
    summary="A booking as an iCalendar event (RFC 5545)",
    tag="bookings",
    produces="text/calendar",
    errors=(404,),
)
def booking_ics(call: Call) -> Any:
    booking_id = call.params["booking_id"]
    text = calendars.booking_calendar(call.ctx, call.principal, booking_id)
    disposition = f'attachment; filename="relais-{_safe_name(booking_id)}.ics"'
    return _calendar_response(text, {"Content-Disposition": disposition})


@endpoint(
    bp,
    "/v1/me/calendar-feed",
    "GET",
    summary="My secret iCalendar feed URL (the same one until rotated)",
    tag="members",
    response=CalendarFeed,
)
def get_feed(call: Call) -> Any:
    return CalendarFeed(url=feed_url(call, calendars.feed_token(call.ctx, call.principal.sub)))


@endpoint(
    bp,
    "/v1/me/calendar-feed/rotate",
    "POST",
    summary="Revoke my feed URL and get a new one",
    tag="members",
    response=CalendarFeed,
    idempotent=True,
)
def rotate_feed(call: Call) -> Any:
    return CalendarFeed(url=feed_url(call, calendars.rotate_feed(call.ctx, call.principal.sub)))


@endpoint(
    bp,
    "/v1/calendar/{feed}",
    "GET",
    summary="A member's bookings as an iCalendar feed ({feed} is `{token}.ics`; no auth)",
    tag="members",
    auth="public",
    produces="text/calendar",
    errors=(404,),
)
def feed(call: Call) -> Any:
    token = call.params["feed"].removesuffix(FEED_SUFFIX)
    text = calendars.feed_calendar(call.ctx, token)
    return _calendar_response(text, {"Referrer-Policy": "no-referrer"})


def feed_url(call: Call, token: str) -> str:
    return f"{public_base_url(call)}/v1/calendar/{token}{FEED_SUFFIX}"


def public_base_url(call: Call) -> str:
    """Where clients reach `/v1`: PUBLIC_BASE_URL, else rebuilt from the request."""
    configured = (call.ctx.settings.public_base_url or "").strip()
    if configured:
        return configured.rstrip("/")
    host = call.headers.get("host", "").strip()
    if not _HOST.fullmatch(host):
        host = "localhost"
    local = host.split(":")[0] in _LOOPBACK or host.startswith("[::1]")
    forwarded = call.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    scheme = forwarded if forwarded in ("http", "https") else ("http" if local else "https")
    prefix = ""
    if ".execute-api." in host:
        stage = (bp.current_request.context or {}).get("stage")
        prefix = f"/{stage}" if stage else ""
    return f"{scheme}://{host}{prefix}"


def _calendar_response(text: str, headers: dict[str, str]) -> Response:
    return Response(
        body=text,
        status_code=200,
        headers={"Content-Type": ICS_TYPE, "Cache-Control": "private, no-cache", **headers},
    )


def _safe_name(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", value)[:100]
