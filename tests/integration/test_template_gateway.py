"""API Gateway in the packaged template: binary bodies, gateway responses, throttling."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.gateway import EXPOSED_HEADERS, WRITE_ROUTES
from infra.stages import load_stage
from tests.support.packaged import Packaged, packaged_app

HEADER = "gatewayresponse.header."
DEV = load_stage("dev")


@pytest.fixture(scope="module")
def packaged() -> Packaged:
    return packaged_app("dev")


def _api(packaged: Packaged) -> dict[str, Any]:
    props: dict[str, Any] = packaged.template["Resources"]["RestAPI"]["Properties"]
    return props


def _responses(packaged: Packaged) -> dict[str, Any]:
    body = _api(packaged)["DefinitionBody"]
    responses: dict[str, Any] = body["x-amazon-apigateway-gateway-responses"]
    return responses


def _problem(response: dict[str, Any]) -> dict[str, Any]:
    problem: dict[str, Any] = json.loads(response["responseTemplates"]["application/json"])
    return problem


def test_every_media_type_is_binary_so_a_pdf_downloads_from_a_plain_link(
    packaged: Packaged,
) -> None:
    body = _api(packaged)["DefinitionBody"]

    assert body["x-amazon-apigateway-binary-media-types"] == ["*/*"]


def test_an_unknown_route_answers_the_not_found_problem(packaged: Packaged) -> None:
    response = _responses(packaged)["MISSING_AUTHENTICATION_TOKEN"]

    assert response["statusCode"] == "404"
    assert _problem(response) == {
        "type": "https://relais.coop/problems/not_found",
        "title": "Not found",
        "status": 404,
        "detail": "No such route.",
        "code": "not_found",
        "errors": [],
        "request_id": "$context.requestId",
    }
    assert response["responseParameters"][HEADER + "Content-Type"] == "'application/problem+json'"


def test_a_throttled_request_answers_rate_limited_with_retry_after(packaged: Packaged) -> None:
    response = _responses(packaged)["THROTTLED"]

    assert response["statusCode"] == "429"
    assert _problem(response)["code"] == "rate_limited"
    assert _problem(response)["status"] == 429
    assert response["responseParameters"][HEADER + "Retry-After"] == "'1'"


@pytest.mark.parametrize(
    ("response_type", "status", "code"),
    [
        ("DEFAULT_4XX", 400, "bad_request"),
        ("DEFAULT_5XX", 503, "service_unavailable"),
        # named: a default's status would otherwise replace theirs
        ("REQUEST_TOO_LARGE", 413, "payload_too_large"),
        ("INTEGRATION_TIMEOUT", 504, "gateway_timeout"),
    ],
)
def test_other_gateway_errors_answer_a_problem_with_their_code(
    packaged: Packaged, response_type: str, status: int, code: str
) -> None:
    response = _responses(packaged)[response_type]
    problem = _problem(response)

    assert (response["statusCode"], problem["status"], problem["code"]) == (
        str(status),
        status,
        code,
    )
    assert problem["type"].endswith("/" + code)


def test_every_gateway_response_carries_request_id_and_cors_headers(packaged: Packaged) -> None:
    first_origin = {"Fn::Select": [0, {"Fn::Split": [",", {"Ref": "AllowedOrigins"}]}]}

    for response_type, response in _responses(packaged).items():
        headers = response["responseParameters"]
        assert headers[HEADER + "X-Request-Id"] == "context.requestId", response_type
        assert headers[HEADER + "Vary"] == "'Origin'", response_type
        assert headers[HEADER + "Access-Control-Allow-Origin"] == {
            "Fn::Sub": ["'${Origin}'", {"Origin": first_origin}]
        }, response_type
        assert headers[HEADER + "Access-Control-Expose-Headers"] == f"'{EXPOSED_HEADERS}'"
        assert _problem(response)["request_id"] == "$context.requestId", response_type


def test_allowed_origins_is_a_parameter_defaulting_to_the_stage_origins(packaged: Packaged) -> None:
    parameter = packaged.template["Parameters"]["AllowedOrigins"]

    assert parameter["Default"] == DEV.allowed_origins
    assert parameter["Type"] == "String"


def test_the_stage_is_throttled_and_writes_more_tightly(packaged: Packaged) -> None:
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in _api(packaged)["MethodSettings"]}
    paths = _api(packaged)["DefinitionBody"]["paths"]

    everything = settings[("/*", "*")]
    assert (everything["ThrottlingRateLimit"], everything["ThrottlingBurstLimit"]) == (
        DEV.api_throttle.rate_limit,
        DEV.api_throttle.burst_limit,
    )
    # as CloudFormation names a method's path: /resource/sub is /~1resource~1sub
    escaped = {"/~1v1~1bookings", "/~1v1~1purchases", "/~1v1~1memberships"}
    assert {path for path, method in settings if method == "POST"} == escaped
    for route in WRITE_ROUTES:
        assert "post" in paths[route], route
        write = settings[("/" + route.replace("/", "~1"), "POST")]
        assert write["ThrottlingRateLimit"] == DEV.write_throttle.rate_limit, route
        assert write["ThrottlingBurstLimit"] == DEV.write_throttle.burst_limit, route
