"""What every answer carries for a browser and a careful client: CORS, request ids,
404/405 problems, French problems, conditional GETs of issued documents (chalice's test
client, moto, fake Stripe)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.api import cors
from chalicelib.config import Settings
from chalicelib.services.context import Context
from tests.conftest import make_settings
from tests.integration.test_invoicing_flow import paid_booking
from tests.support.api import Api, assert_problem
from tests.support.fake_stripe import FakeGateway
from tests.support.library_clock import set_pdf_libraries_clock

SITE = "https://www.relais.test"
OTHER_SITE = "https://evil.test"


@pytest.fixture
def settings(auth_keys: tuple[Path, Path]) -> Settings:
    return make_settings(auth_keys[1], ALLOWED_ORIGINS=f"{SITE}, http://127.0.0.1:8003")


@pytest.fixture
def invoice_id(
    api: Api, member: str, network: dict, stripe_fake: FakeGateway, settings: Settings
) -> str:
    return str(paid_booking(api, member, network, stripe_fake, settings)["invoice_id"])


# -- CORS --------------------------------------------------------------------------------


def test_answer_to_an_allowed_origin_carries_its_cors_headers(api: Api) -> None:
    answer = api.get("/v1/relays", headers={"Origin": SITE})
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == SITE
    assert answer.headers["Vary"] == "Origin"
    exposed = {h.strip() for h in answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed >= {"ETag", "Location", "X-Request-Id", "Retry-After", "Content-Disposition"}
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_problem_answer_to_an_allowed_origin_carries_cors_headers_too(api: Api) -> None:
    answer = api.get("/v1/bookings", headers={"Origin": SITE})
    assert_problem(answer, 401, "unauthenticated")
    assert answer.headers["Access-Control-Allow-Origin"] == SITE


def test_disallowed_origin_is_answered_without_any_cors_header(api: Api) -> None:
    answer = api.get("/v1/relays", headers={"Origin": OTHER_SITE})
    assert answer.status == 200
    assert answer.headers["Vary"] == "Origin"
    assert not [h for h in answer.headers if h.lower().startswith("access-control-")]


def test_origin_matching_is_exact(api: Api) -> None:
    answer = api.get("/v1/relays", headers={"Origin": SITE + ".evil.test"})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_preflight_lists_the_route_methods_and_the_request_headers(api: Api) -> None:
    answer = api.request(
        "OPTIONS",
        "/v1/bookings",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, idempotency-key",
        },
    )
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Origin"] == SITE
    assert answer.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    allowed = {h.strip() for h in answer.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == set(cors.ALLOWED_HEADERS)
    assert {"Authorization", "Idempotency-Key", "If-Match", "Accept-Language"} <= allowed


def test_preflight_of_a_path_with_parameters_answers_its_own_methods(api: Api) -> None:
    answer = api.request("OPTIONS", "/v1/bookings/bk_1/cancel", headers={"Origin": SITE})
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"


def test_preflight_from_a_disallowed_origin_gets_no_cors_header(api: Api) -> None:
    answer = api.request("OPTIONS", "/v1/bookings", headers={"Origin": OTHER_SITE})
    assert answer.status == 204
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Methods" not in answer.headers


@pytest.mark.parametrize(
    "origin", ["", "null", "x" * 5000, "https://www.relais.test\u0007", "*", SITE + "/"]
)
def test_malformed_origin_is_ignored_never_a_server_error(api: Api, origin: str) -> None:
    answer = api.get("/v1/relays", headers={"Origin": origin})
    assert answer.status == 200
    assert "Access-Control-Allow-Origin" not in answer.headers


# -- Unknown routes and methods ----------------------------------------------------------


@pytest.mark.parametrize("with_token", [False, True])
def test_unknown_route_is_a_not_found_problem(api: Api, member: str, with_token: bool) -> None:
    answer = api.get("/v1/no-such-thing", token=member if with_token else None)
    problem = assert_problem(answer, 404, "not_found")
    assert problem["detail"] == "No such route."


def test_unknown_route_answer_to_an_allowed_origin_carries_cors(api: Api) -> None:
    answer = api.request("POST", "/v1/nope/deeper/still", headers={"Origin": SITE})
    assert_problem(answer, 404, "not_found")
    assert answer.headers["Access-Control-Allow-Origin"] == SITE


@pytest.mark.parametrize("with_token", [False, True])
def test_wrong_method_is_405_with_allow(api: Api, member: str, with_token: bool) -> None:
    answer = api.request("DELETE", "/v1/bookings", token=member if with_token else None)
    assert_problem(answer, 405, "method_not_allowed")
    assert answer.headers["Allow"] == "GET, POST, OPTIONS"


def test_wrong_method_on_a_path_with_parameters_is_405(api: Api) -> None:
    answer = api.request("PUT", "/v1/invoices/inv_1/pdf")
    assert_problem(answer, 405, "method_not_allowed")
    assert answer.headers["Allow"] == "GET, OPTIONS"


# -- Request ids -------------------------------------------------------------------------


def test_client_request_id_is_echoed(api: Api) -> None:
    answer = api.get("/v1/health", headers={"X-Request-Id": "web-1:abc.DEF_2-3"})
    assert answer.headers["X-Request-Id"] == "web-1:abc.DEF_2-3"


def test_a_request_id_is_generated_when_none_is_sent(api: Api) -> None:
    first = api.get("/v1/health").headers["X-Request-Id"]
    second = api.get("/v1/health").headers["X-Request-Id"]
    assert len(first) == 32
    assert first != second


@pytest.mark.parametrize("sent", ["x" * 129, "has space", "bad\u0001char", "é", ""])
def test_insane_request_id_is_replaced(api: Api, sent: str) -> None:
    answer = api.get("/v1/health", headers={"X-Request-Id": sent})
    assert answer.status == 200
    assert answer.headers["X-Request-Id"] != sent
    assert len(answer.headers["X-Request-Id"]) == 32


def test_problem_body_carries_the_request_id(api: Api) -> None:
    answer = api.get("/v1/bookings", headers={"X-Request-Id": "trace-42"})
    assert assert_problem(answer, 401, "unauthenticated")["request_id"] == "trace-42"


# -- Languages ---------------------------------------------------------------------------


def test_french_caller_reads_french_title_and_detail_same_code(api: Api) -> None:
    answer = api.get("/v1/relays/rl_unknown", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    problem = assert_problem(answer, 404, "not_found")
    assert problem["title"] == "Introuvable"
    assert problem["detail"] == "Cette ressource n'existe pas."


def test_french_validation_problem_names_the_fields(api: Api, member: str) -> None:
    answer = api.post(
        "/v1/bookings", {"date": "2026-12-02"}, token=member, headers={"Accept-Language": "fr"}
    )
    problem = assert_problem(answer, 422, "validation_error")
    assert problem["title"] == "Requête invalide"
    assert "resource_id" in problem["detail"]
    assert {e["field"] for e in problem["errors"]} >= {"resource_id", "unit", "payment"}


@pytest.mark.parametrize("header", ["en", "de, en;q=0.5", "fr;q=0.1, en;q=0.9", ";;;q=x", ""])
def test_english_stays_the_default(api: Api, header: str) -> None:
    answer = api.get("/v1/relays/rl_unknown", headers={"Accept-Language": header})
    assert assert_problem(answer, 404, "not_found")["title"] == "Not found"


# -- Issued documents: ETag, 304, immutable caching, PDF and XML --------------------------


@pytest.mark.parametrize(
    ("suffix", "content_type"),
    [("", "application/json"), ("/pdf", "application/pdf"), ("/xml", "application/xml")],
)
def test_issued_document_is_cacheable_and_answers_304_to_its_etag(
    api: Api, member: str, invoice_id: str, suffix: str, content_type: str
) -> None:
    path = f"/v1/invoices/{invoice_id}{suffix}"
    first = api.get(path, token=member)
    assert first.status == 200
    assert first.headers["Content-Type"].startswith(content_type)
    assert first.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = api.get(path, token=member, headers={"If-None-Match": f'"other", {etag}'})
    assert again.status == 304
    assert again.body == b""
    assert again.headers["ETag"] == etag


def test_each_representation_has_its_own_etag(api: Api, member: str, invoice_id: str) -> None:
    tags = {
        api.get(f"/v1/invoices/{invoice_id}{suffix}", token=member).headers["ETag"]
        for suffix in ("", "/pdf", "/xml")
    }
    assert len(tags) == 3


@pytest.mark.parametrize("header", ['"stale"', "garbage", 'W/"x", nonsense', '"' + "a" * 3000])
def test_other_or_malformed_if_none_match_gets_the_full_answer(
    api: Api, member: str, invoice_id: str, header: str
) -> None:
    answer = api.get(f"/v1/invoices/{invoice_id}", token=member, headers={"If-None-Match": header})
    assert answer.status == 200
    assert answer.json["id"] == invoice_id


def test_304_is_only_for_who_may_read_the_document(api: Api, member: str, invoice_id: str) -> None:
    etag = api.get(f"/v1/invoices/{invoice_id}", token=member).headers["ETag"]
    stranger = api.token("member-2")
    answer = api.get(f"/v1/invoices/{invoice_id}", token=stranger, headers={"If-None-Match": etag})
    assert_problem(answer, 404, "not_found")


@pytest.mark.parametrize(
    "accept", [None, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "*/*"]
)
def test_pdf_downloads_whatever_the_accept_header(
    api: Api, member: str, invoice_id: str, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    answer = api.get(f"/v1/invoices/{invoice_id}/pdf", token=member, headers=headers)
    assert answer.status == 200
    assert answer.body.startswith(b"%PDF-")
    number = api.get(f"/v1/invoices/{invoice_id}", token=member).json["number"]
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{number}.pdf"'


def test_a_pdf_downloaded_again_later_is_the_same_file_under_its_strong_etag(
    api: Api, member: str, invoice_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A strong validator promises the same bytes (RFC 9110 8.8.1): the PDF, rendered at
    each download, embeds no time of its rendering."""
    url = f"/v1/invoices/{invoice_id}/pdf"
    first = api.get(url, token=member)
    set_pdf_libraries_clock(monkeypatch, datetime.fromisoformat("2027-06-30T18:00:00+02:00"))

    again = api.get(url, token=member)

    assert first.status == again.status == 200
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.body == first.body


def test_xml_is_the_cii_alone(api: Api, member: str, invoice_id: str) -> None:
    answer = api.get(f"/v1/invoices/{invoice_id}/xml", token=member)
    assert answer.status == 200
    assert answer.body.startswith(b"<?xml")
    assert b"CrossIndustryInvoice" in answer.body


# -- Idempotency: never wait inside a request -------------------------------------------


def test_request_whose_key_is_in_flight_is_told_to_retry(
    api: Api, ctx: Context, member: str, network: dict[str, Any]
) -> None:
    from chalicelib.api.idempotency import request_fingerprint

    body = {"resource_id": network["pool"], "date": "2026-12-02", "unit": "day", "payment": "card"}
    # GIVEN the same request already claimed and still running
    fingerprint = request_fingerprint("POST", "/v1/bookings", {}, body)
    claimed = ctx.idempotency.claim("member-1", "busy-1", fingerprint, ctx.clock.now().timestamp())
    assert claimed is None  # None: the claim is ours, and it is never completed
    # WHEN it is sent again
    answer = api.post("/v1/bookings", body, token=member, headers={"Idempotency-Key": "busy-1"})
    # THEN 409 idempotency_in_flight with Retry-After, nothing booked
    assert_problem(answer, 409, "idempotency_in_flight")
    assert answer.headers["Retry-After"] == "1"
    assert api.get("/v1/bookings", token=member).json["items"] == []
