"""Calendars through the HTTP API (moto, fake Stripe): a booking's .ics parsed back with
`icalendar` (local times and UTC instants on a DST day), the secret feed URL (stable until
rotated, then the old one 404), the feed read without a token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from chalice.test import Client
from icalendar import Calendar

from chalicelib.adapters.clock import FixedClock
from chalicelib.api.endpoint import RouteSpec
from chalicelib.config import Settings
from chalicelib.services.context import Context
from tests.support.api import Answer, Api, add_relay, assert_problem, booked
from tests.support.fake_stripe import FakeGateway
from tests.support.webhooks import deliver

PARIS = ZoneInfo("Europe/Paris")
EVERY_DAY_8_TO_19 = {
    d: [["08:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}

# The routes of chalicelib/api/calendars.py and chalicelib/api/erasure.py, by blueprint.
NEW_ROUTES = {
    "calendars": {
        ("GET", "/v1/bookings/{booking_id}/ics"),
        ("GET", "/v1/me/calendar-feed"),
        ("POST", "/v1/me/calendar-feed/rotate"),
        ("GET", "/v1/calendar/{feed}"),
    },
    "erasure": {("DELETE", "/v1/me")},
}
_SPECS: list[RouteSpec] = []
_ENTRIES: dict[tuple[str, str], Any] = {}  # chalice RouteEntry per (method, path)


@contextmanager
def new_routes_mounted() -> Iterator[None]:
    """The calendar and erasure blueprints on the app for one test, if app.py does not
    register them (yet); taken off afterwards, so that the other suites (the OpenAPI one
    compares the route table with the app's routes) see the app exactly as app.py makes it.

    A chalice Blueprint cannot be registered twice (registering pops `methods` from the
    kwargs it keeps), so the route entries of the first registration are put back later."""
    from app import app
    from chalicelib.api import calendars, erasure
    from chalicelib.api.endpoint import ROUTES

    served = {(m, p) for p, entries in app.routes.items() for m in entries}
    ours = set().union(*NEW_ROUTES.values())
    _SPECS.extend(s for s in ROUTES if (s.method, s.path) in ours and s not in _SPECS)
    mounted: set[tuple[str, str]] = set()
    for name, blueprint in (("calendars", calendars.bp), ("erasure", erasure.bp)):
        if NEW_ROUTES[name] & served:
            continue  # app.py registers it
        if NEW_ROUTES[name] <= set(_ENTRIES):
            for method, path in NEW_ROUTES[name]:
                app.routes[path][method] = _ENTRIES[(method, path)]
        else:
            app.register_blueprint(blueprint)
            _ENTRIES.update({(m, p): app.routes[p][m] for m, p in NEW_ROUTES[name]})
        mounted |= NEW_ROUTES[name]
    ROUTES.extend(s for s in _SPECS if (s.method, s.path) in mounted and s not in ROUTES)
    try:
        yield
    finally:
        for method, path in mounted:
            entries = app.routes.get(path, {})
            entries.pop(method, None)
            if not entries:
                app.routes.pop(path, None)
        ROUTES[:] = [s for s in ROUTES if (s.method, s.path) not in mounted]


@pytest.fixture
def api(ctx: Context, auth_keys: tuple[Path, Path]) -> Iterator[Api]:
    from app import app

    with new_routes_mounted(), Client(app) as client:
        yield Api(client, auth_keys[0])


def paid_booking(
    api: Api,
    token: str,
    resource_id: str,
    stripe_fake: FakeGateway,
    settings: Settings,
    **fields: Any,
) -> dict[str, Any]:
    """A card booking whose payment succeeded (webhook delivered): confirmed."""
    body = {"resource_id": resource_id, "date": "2026-12-02", "unit": "day", "payment": "card"}
    answer = api.post("/v1/bookings", {**body, **fields}, token=token)
    assert answer.status == 201, answer.json
    intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    booking = api.get(f"/v1/bookings/{answer.json['booking']['id']}", token=token).json
    assert booking["status"] == "confirmed", booking
    return dict(booking)


def ics_of(answer: Answer) -> Calendar:
    assert answer.status == 200, answer.body[:500]
    assert answer.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(answer.body.decode("utf-8"))


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


# -- a booking's .ics ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("day", "clock_at", "offset_hours"),
    [
        ("2026-03-30", datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), 2),  # after spring-forward
        ("2026-10-25", datetime(2026, 10, 1, 9, 0, tzinfo=PARIS), 1),  # fall-back Sunday
    ],
)
def test_booking_ics_shows_local_times_and_right_instants_on_dst_days(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    clock: FixedClock,
    stripe_fake: FakeGateway,
    settings: Settings,
    day: str,
    clock_at: datetime,
    offset_hours: int,
) -> None:
    open_daily = add_relay(
        api,
        admin,
        network["operator"],
        name="Gare de Fontainebleau-Avon",
        address={"line1": "Place de la Gare", "postcode": "77210", "city": "Avon"},
        opening_hours=EVERY_DAY_8_TO_19,
    )
    clock.moment = clock_at
    booking = paid_booking(api, member, open_daily["pool"], stripe_fake, settings, date=day)

    answer = api.get(f"/v1/bookings/{booking['id']}/ics", token=member)
    calendar = ics_of(answer)
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    (event,) = calendar.events
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Paris"]
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert (event.start.date(), event.start.time()) == (date.fromisoformat(day), time(8, 0))
    assert (event.end.date(), event.end.time()) == (date.fromisoformat(day), time(19, 0))
    assert event.start.astimezone(UTC).hour == 8 - offset_hours
    assert event.end.astimezone(UTC).hour == 19 - offset_hours
    # The same instants as the booking object's RFC 3339 times.
    assert event.start == datetime.fromisoformat(booking["start"])
    assert event.end == datetime.fromisoformat(booking["end"])
    assert booking["start"].endswith(f"+0{offset_hours}:00")
    assert str(event["UID"]) == f"{booking['id']}@relais"
    assert str(event["SUMMARY"]) == "Open space — Gare de Fontainebleau-Avon"
    assert str(event["LOCATION"]) == "Place de la Gare, 77210 Avon"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event["DTSTAMP"].dt == clock_at.astimezone(UTC)


def test_booking_ics_follows_the_status(
    api: Api, member: str, network: dict[str, str], stripe_fake: FakeGateway
) -> None:
    held = booked(api, member, network["pool"])
    event = ics_of(api.get(f"/v1/bookings/{held['id']}/ics", token=member)).events[0]
    assert (str(event["STATUS"]), event["SEQUENCE"]) == ("TENTATIVE", 0)
    assert api.post(f"/v1/bookings/{held['id']}/cancel", token=member).status == 200
    event = ics_of(api.get(f"/v1/bookings/{held['id']}/ics", token=member)).events[0]
    assert (str(event["STATUS"]), event["SEQUENCE"]) == ("CANCELLED", 2)


def test_booking_ics_is_for_its_owner_only(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    booking = booked(api, member, network["pool"])
    other = api.token("member-2")
    manager = api.token("manager-1", f"manager:{network['relay']}")
    for token in (other, manager, admin):
        assert_problem(api.get(f"/v1/bookings/{booking['id']}/ics", token=token), 404, "not_found")
    assert_problem(api.get("/v1/bookings/bkg_nope/ics", token=member), 404, "not_found")
    assert_problem(api.get(f"/v1/bookings/{booking['id']}/ics"), 401, "unauthenticated")


# -- the feed --------------------------------------------------------------------------------
def test_feed_url_is_stable_until_rotated_then_the_old_one_is_gone(
    api: Api, member: str, network: dict[str, str]
) -> None:
    booking = booked(api, member, network["pool"])
    first = api.get("/v1/me/calendar-feed", token=member)
    assert first.status == 200, first.json
    url = first.json["url"]
    assert url.startswith("http://localhost/v1/calendar/") and url.endswith(".ics")
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 43  # 32 random bytes, URL-safe
    assert api.get("/v1/me/calendar-feed", token=member).json["url"] == url
    assert ics_of(api.get(path_of(url))).events[0]["UID"] == f"{booking['id']}@relais"

    rotated = api.post("/v1/me/calendar-feed/rotate", token=member)
    assert rotated.status == 200, rotated.json
    new_url = rotated.json["url"]
    assert new_url != url
    assert api.get("/v1/me/calendar-feed", token=member).json["url"] == new_url
    assert_problem(api.get(path_of(url)), 404, "not_found")
    assert ics_of(api.get(path_of(new_url))).events[0]["UID"] == f"{booking['id']}@relais"


def test_feeds_are_per_member(api: Api, member: str) -> None:
    mine = api.get("/v1/me/calendar-feed", token=member).json["url"]
    theirs = api.get("/v1/me/calendar-feed", token=api.token("member-2")).json["url"]
    assert mine != theirs
    assert_problem(api.get("/v1/me/calendar-feed"), 401, "unauthenticated")


def test_feed_lists_the_members_bookings_without_auth(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    confirmed = paid_booking(api, member, network["pool"], stripe_fake, settings)
    hours = {"unit": "hour", "start": "10:00", "end": "11:30"}
    held = booked(api, member, network["room"], date="2026-12-03", **hours)
    cancelled = booked(api, member, network["pool"], date="2026-12-04")
    assert api.post(f"/v1/bookings/{cancelled['id']}/cancel", token=member).status == 200
    someone_elses = booked(api, api.token("member-2"), network["pool"])

    path = path_of(api.get("/v1/me/calendar-feed", token=member).json["url"])
    answer = api.get(path)  # no Authorization header
    calendar = ics_of(answer)
    by_uid = {str(e["UID"]): e for e in calendar.events}
    assert set(by_uid) == {f"{confirmed['id']}@relais", f"{held['id']}@relais"}
    assert f"{someone_elses['id']}@relais" not in answer.body.decode()
    assert str(by_uid[f"{confirmed['id']}@relais"]["STATUS"]) == "CONFIRMED"
    room = by_uid[f"{held['id']}@relais"]
    assert str(room["STATUS"]) == "TENTATIVE"
    assert str(room["SUMMARY"]) == "Salle Seine — Gare de Melun"
    assert (room.start.time(), room.end.time()) == (time(10, 0), time(11, 30))
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Paris"]
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in answer.body.decode()
    # The bare token (without .ics) reads the same feed.
    assert api.get(path.removesuffix(".ics")).status == 200


@pytest.mark.parametrize("feed", ["nope.ics", "x" * 43 + ".ics", "a" * 300, "%2E%2E.ics"])
def test_unknown_or_malformed_feed_is_404(api: Api, feed: str) -> None:
    assert_problem(api.get(f"/v1/calendar/{feed}"), 404, "not_found")


def test_feed_url_is_built_from_the_request_or_the_setting(
    api: Api, member: str, monkeypatch: pytest.MonkeyPatch, ctx: Context
) -> None:
    url = api.get(
        "/v1/me/calendar-feed",
        token=member,
        headers={"Host": "api.relais.example", "X-Forwarded-Proto": "https"},
    ).json["url"]
    assert url.startswith("https://api.relais.example/v1/calendar/")
    token = url.rsplit("/", 1)[1]
    monkeypatch.setattr(ctx.settings, "public_base_url", "https://relais.coop/api/")
    configured = api.get("/v1/me/calendar-feed", token=member).json["url"]
    assert configured == f"https://relais.coop/api/v1/calendar/{token}"


def test_rotate_replays_with_the_same_idempotency_key(api: Api, member: str) -> None:
    key = {"Idempotency-Key": "rotate-1"}
    first = api.post("/v1/me/calendar-feed/rotate", token=member, headers=key)
    again = api.post("/v1/me/calendar-feed/rotate", token=member, headers=key)
    assert again.json == first.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert api.get("/v1/me/calendar-feed", token=member).json == first.json


def test_feed_routes_are_in_the_openapi_document(api: Api) -> None:
    document = api.get("/v1/openapi.json").json
    feed = document["paths"]["/v1/calendar/{feed}"]["get"]
    assert not feed.get("security")
    assert "text/calendar" in feed["responses"]["200"]["content"]
    assert document["paths"]["/v1/me/calendar-feed"]["get"]["security"] == [{"bearer": []}]
    ics = document["paths"]["/v1/bookings/{booking_id}/ics"]["get"]
    assert ics["security"] == [{"bearer": []}]
    assert "204" in document["paths"]["/v1/me"]["delete"]["responses"]


def test_base_url_on_the_execute_api_host_carries_the_stage(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from chalicelib.api import calendars
    from chalicelib.api.endpoint import Call

    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    request = SimpleNamespace(context={"stage": "prod"})
    monkeypatch.setattr(calendars, "bp", SimpleNamespace(current_request=request))

    def base(headers: dict[str, str]) -> str:
        return calendars.public_base_url(Call(ctx=ctx, params={}, headers=headers, raw_body=b""))

    aws = "abc123.execute-api.eu-west-3.amazonaws.com"
    assert base({"host": aws}) == f"https://{aws}/prod"
    assert base({"host": "api.relais.coop"}) == "https://api.relais.coop"  # custom domain
    assert base({"host": "127.0.0.1:8000"}) == "http://127.0.0.1:8000"
    assert base({"host": "evil.example/<script>"}) == "http://localhost"
    assert base({}) == "http://localhost"


def test_concurrent_first_calls_get_the_same_token(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import calendars

    winner = calendars.feed_token(ctx, "member-1")  # another request got there first...
    reads = iter([None])  # ...after this one had read "no token yet"
    real = calendars.current_token
    monkeypatch.setattr(calendars, "current_token", lambda c, m: next(reads, real(c, m)))
    assert calendars.feed_token(ctx, "member-1") == winner
    assert calendars.member_of_token(ctx, winner) == "member-1"


def test_rotating_and_revoking_keep_one_live_token(ctx: Context) -> None:
    from chalicelib.services import calendars

    first = calendars.feed_token(ctx, "member-1")
    second = calendars.rotate_feed(ctx, "member-1")
    assert calendars.member_of_token(ctx, first) is None
    assert calendars.member_of_token(ctx, second) == "member-1"
    assert calendars.revoke_feed(ctx, "member-1") is True
    assert calendars.member_of_token(ctx, second) is None
    assert calendars.revoke_feed(ctx, "member-1") is False
    assert calendars.feed_token(ctx, "member-1") not in (first, second)


def dst_onsets(ics: bytes) -> list[tuple[str, datetime, timedelta, timedelta]]:
    """(TZID, local onset, TZOFFSETFROM, TZOFFSETTO) of every change the VTIMEZONEs of
    `ics` declare (each observance's DTSTART and RDATEs)."""
    found = []
    for tz in Calendar.from_ical(ics).walk("VTIMEZONE"):
        for part in tz.subcomponents:
            before, after = part["TZOFFSETFROM"].td, part["TZOFFSETTO"].td
            if before == after:
                continue
            starts = [part["DTSTART"].dt]
            rdates: Any = part.get("RDATE", [])
            for rdate in rdates if isinstance(rdates, list) else [rdates]:
                starts.extend(p.dt for p in rdate.dts)
            found.extend((str(tz["TZID"]), s.replace(tzinfo=None), before, after) for s in starts)
    return found


def test_each_vtimezone_change_is_dated_at_its_real_instant(
    api: Api, member: str, network: dict[str, str]
) -> None:
    """RFC 5545 3.6.5: DTSTART read with TZOFFSETFROM is the onset. Paris springs forward
    at 01:00 UTC, so its DAYLIGHT onsets read 02:00 (icalendar writes 03:00)."""
    booking = booked(api, member, network["pool"])
    onsets = dst_onsets(api.get(f"/v1/bookings/{booking['id']}/ics", token=member).body)
    assert any(local.month == 3 and local.hour == 2 for _, local, _, _ in onsets), onsets
    for tzid, local, before, after in onsets:
        onset = (local - before).replace(tzinfo=UTC)
        zone = ZoneInfo(tzid)
        assert (onset - timedelta(seconds=1)).astimezone(zone).utcoffset() == before, local
        assert onset.astimezone(zone).utcoffset() == after, local
