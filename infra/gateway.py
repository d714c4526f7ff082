"""What the packaged template adds to Chalice's API Gateway REST API.

- Binary media types `*/*`: API Gateway then decodes every body the app marks
  `isBase64Encoded` (Chalice does so only for PDFs and ZIPs, the app's own binary
  types) whatever the browser's `Accept`, so a PDF downloads from a plain link; text
  bodies, not marked, pass through unchanged. (Requests are then handed to the app
  base64-encoded, which Chalice decodes.) The app's own list stays as it is: `*/*`
  there would make Chalice encode every answer.
- Gateway responses: answers API Gateway produces itself, before the app runs, as the
  app's problem+json, with the request id, CORS headers and `Vary: Origin`.
- Throttling of the stage, and lower limits on the POST routes that create things.

Gateway responses cannot choose a header per request origin: they carry the first of
the `AllowedOrigins` stack parameter (see README, "Deploying").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from infra.stages import Stage

PROBLEM_BASE = "https://relais.coop/problems/"
EXPOSED_HEADERS = "ETag, Location, X-Request-Id, Retry-After, Content-Disposition"
ORIGINS_PARAMETER = "AllowedOrigins"
WRITE_ROUTES = ("/v1/bookings", "/v1/purchases", "/v1/memberships")
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class GatewayProblem:
    response_type: str
    status: int
    code: str
    title: str
    detail: str
    retry_after: int | None = None

    def body(self) -> str:
        # A gateway response template substitutes $context variables (no other VTL).
        problem = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "errors": [],
            "request_id": "$context.requestId",
        }
        return json.dumps(problem, separators=(",", ":"))


GATEWAY_PROBLEMS = (
    # API Gateway's answer to an unknown route, and to a known route's unknown method.
    GatewayProblem("MISSING_AUTHENTICATION_TOKEN", 404, "not_found", "Not found", "No such route."),
    GatewayProblem("RESOURCE_NOT_FOUND", 404, "not_found", "Not found", "No such route."),
    GatewayProblem(
        "THROTTLED",
        429,
        "rate_limited",
        "Too many requests",
        "Too many requests; retry after the delay given in Retry-After.",
        retry_after=RETRY_AFTER_SECONDS,
    ),
    GatewayProblem("ACCESS_DENIED", 403, "forbidden", "Forbidden", "Access denied."),
    GatewayProblem("WAF_FILTERED", 403, "forbidden", "Forbidden", "Access denied."),
    # Named one by one: the default's status code would apply to them too (API Gateway:
    # a DEFAULT_4XX/5XX status changes every response of the family not set itself).
    GatewayProblem(
        "REQUEST_TOO_LARGE",
        413,
        "payload_too_large",
        "Request too large",
        "The request is larger than API Gateway accepts (10 MB).",
    ),
    GatewayProblem(
        "INTEGRATION_TIMEOUT",
        504,
        "gateway_timeout",
        "Gateway timeout",
        "No answer in time; the request may have been carried out: retry with the same "
        "Idempotency-Key to get its answer.",
    ),
    GatewayProblem(
        "DEFAULT_4XX",
        400,
        "bad_request",
        "Bad request",
        "The API gateway refused this request.",
    ),
    GatewayProblem(
        "DEFAULT_5XX",
        503,
        "service_unavailable",
        "Service unavailable",
        "The service is unavailable; please retry.",
        retry_after=RETRY_AFTER_SECONDS,
    ),
)


def _quoted(value: str) -> str:
    return f"'{value}'"


def first_origin() -> dict[str, Any]:
    """`'<first allowed origin>'`, computed by CloudFormation from the stack parameter."""
    first = {"Fn::Select": [0, {"Fn::Split": [",", {"Ref": ORIGINS_PARAMETER}]}]}
    return {"Fn::Sub": ["'${Origin}'", {"Origin": first}]}


def gateway_response(problem: GatewayProblem) -> dict[str, Any]:
    prefix = "gatewayresponse.header."
    parameters: dict[str, Any] = {
        prefix + "Content-Type": _quoted("application/problem+json"),
        prefix + "X-Request-Id": "context.requestId",
        prefix + "Vary": _quoted("Origin"),
        prefix + "Access-Control-Allow-Origin": first_origin(),
        prefix + "Access-Control-Expose-Headers": _quoted(EXPOSED_HEADERS),
    }
    if problem.retry_after is not None:
        parameters[prefix + "Retry-After"] = _quoted(str(problem.retry_after))
    return {
        "statusCode": str(problem.status),
        "responseParameters": parameters,
        "responseTemplates": {"application/json": problem.body()},
    }


def gateway_responses() -> dict[str, Any]:
    return {p.response_type: gateway_response(p) for p in GATEWAY_PROBLEMS}


def _method_setting(path: str, method: str, rate: float, burst: int) -> dict[str, Any]:
    return {
        # Every slash of the path escaped as ~1, after a leading slash of its own
        # (AWS::ApiGateway::Stage MethodSetting: /resource/sub is /~1resource~1sub).
        "ResourcePath": path if path == "/*" else "/" + path.replace("/", "~1"),
        "HttpMethod": method,
        "ThrottlingRateLimit": rate,
        "ThrottlingBurstLimit": burst,
        "MetricsEnabled": True,
    }


def method_settings(stage: Stage) -> list[dict[str, Any]]:
    api, writes = stage.api_throttle, stage.write_throttle
    settings = [_method_setting("/*", "*", api.rate_limit, api.burst_limit)]
    settings += [
        _method_setting(path, "POST", writes.rate_limit, writes.burst_limit)
        for path in WRITE_ROUTES
    ]
    return settings


def rest_api_overlay(stage: Stage) -> dict[str, Any]:
    """Deep-merged over Chalice's `RestAPI` resource."""
    return {
        "Properties": {
            "DefinitionBody": {
                "x-amazon-apigateway-binary-media-types": ["*/*"],
                "x-amazon-apigateway-gateway-responses": gateway_responses(),
            },
            "MethodSettings": method_settings(stage),
            "TracingEnabled": stage.tracing,
        }
    }
