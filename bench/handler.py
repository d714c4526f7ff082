"""The Lambda handler level: an API Gateway (REST, proxy) event into `app(event, context)`,
as Lambda calls it; no HTTP, no gateway."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bench.answers import Answer


class LambdaContext:
    function_name = "relais-dev"
    memory_limit_in_mb = 1024
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _resource_of(app: Any, path: str) -> tuple[str, dict[str, str] | None]:
    """The route template of `path` and its path parameters (exact match first)."""
    if path in app.routes:
        return path, None
    parts = path.strip("/").split("/")
    for template in app.routes:
        names = template.strip("/").split("/")
        if len(names) != len(parts):
            continue
        params: dict[str, str] = {}
        for name, part in zip(names, parts, strict=True):
            if name.startswith("{") and name.endswith("}"):
                params[name[1:-1]] = part
            elif name != part:
                break
        else:
            return template, params
    raise LookupError(f"no route for {path}")


def proxy_event(app: Any, method: str, target: str, headers: dict[str, str], body: str) -> dict:
    split = urlsplit(target)
    resource, params = _resource_of(app, split.path)
    query = parse_qsl(split.query)
    return {
        "resource": resource,
        "path": split.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": dict(query) or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query} or None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{split.path}",
            "stage": "api",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body or None,
        "isBase64Encoded": False,
    }


class Handler:
    """Calls the Chalice app object as Lambda does, one proxy event per call."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._context = LambdaContext()

    def call(
        self, method: str, path: str, body: Any = None, token: str = "", key: str = ""
    ) -> Answer:
        headers = {"content-type": "application/json", "host": "api.bench"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if key:
            headers["idempotency-key"] = key
        payload = json.dumps(body) if body is not None else ""
        return self._send(method, path, headers, payload)

    def call_raw(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        """A body sent as is (a signed webhook), with these headers."""
        given = {"content-type": "application/json", "host": "api.bench", **headers}
        return self._send(method, path, given, body.decode())

    def _send(self, method: str, path: str, headers: dict[str, str], payload: str) -> Answer:
        response = self._app(proxy_event(self._app, method, path, headers, payload), self._context)
        return Answer(response["statusCode"], json.loads(response.get("body") or "null"))
