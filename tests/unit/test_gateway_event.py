"""The proxy event the local gateway (loopback server, bench) builds, as API Gateway does."""

from __future__ import annotations

import base64

from tools.gateway_event import Routes, proxy_event

ROUTES = Routes(
    [
        "/v1/bookings",
        "/v1/bookings/{booking_id}",
        "/v1/bookings/{booking_id}/cancel",
        "/v1/relays/{relay_id}/stats",
        "/v1/relays/export",
    ]
)


def test_a_path_without_parameters_wins_over_a_template() -> None:
    assert ROUTES.match("/v1/relays/export") == ("/v1/relays/export", None)
    assert ROUTES.match("/v1/bookings/") == ("/v1/bookings", None)  # no trailing slash


def test_templates_name_their_parameters_and_never_match_an_empty_one() -> None:
    assert ROUTES.match("/v1/bookings/bkg_1/cancel") == (
        "/v1/bookings/{booking_id}/cancel",
        {"booking_id": "bkg_1"},
    )
    assert ROUTES.match("/v1/bookings//cancel") is None
    assert ROUTES.match("/v1/relays/rly_1/other") is None
    assert ROUTES.match("/v2/bookings") is None


def test_the_event_carries_route_parameters_query_and_a_base64_body() -> None:
    event = proxy_event(
        ROUTES, "POST", "/v1/bookings/bkg_1/cancel?x=1&x=2&y=", {"a": "b"}, b'{"k": 1}'
    )

    assert event is not None
    assert event["requestContext"]["resourcePath"] == "/v1/bookings/{booking_id}/cancel"
    assert event["pathParameters"] == {"booking_id": "bkg_1"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert (event["isBase64Encoded"], base64.b64decode(event["body"])) == (True, b'{"k": 1}')


def test_no_query_and_no_body_are_none_and_an_unknown_path_has_no_event() -> None:
    plain = proxy_event(ROUTES, "GET", "/v1/bookings", {}, b"")

    assert plain is not None
    assert plain["pathParameters"] is None and plain["queryStringParameters"] is None
    assert (plain["body"], plain["isBase64Encoded"]) == (None, False)
    assert proxy_event(ROUTES, "GET", "/nowhere", {}, b"") is None
