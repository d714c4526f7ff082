"""The Lambda handler level: an API Gateway (REST, proxy) event into `app(event, context)`,
as Lambda calls it; no HTTP, no gateway."""

from __future__ import annotations

import json
import time
from typing import Any

import orjson

from bench.answers import Answer
from tools.gateway_event import LambdaContext, Routes, proxy_event


class Handler:
    """Calls the Chalice app object as Lambda does, one proxy event per call."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._routes = Routes(app.routes)
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
        event = proxy_event(self._routes, method, path, headers, payload)
        if event is None:
            raise LookupError(f"no route for {path}")
        start = time.perf_counter()
        response = self._app(event, self._context)
        elapsed = time.perf_counter() - start
        body = orjson.loads(response.get("body") or "null")
        return Answer(response["statusCode"], body, elapsed)
