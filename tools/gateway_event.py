"""What API Gateway (REST API, Lambda proxy integration) hands the function for an HTTP
request: the route template that matched, its path parameters, the query string, the
headers, the body, base64-encoded as the deployed gateway (binary media types `*/*`)
encodes every body. Used by the loopback server and by the bench's handler level.

Routes match as API Gateway matches them: a path without parameters first, then the
templates with `{name}` parts of the same length, in the order `chalice local` tries
them (sorted); a parameter is never empty. Built once per app, not per request.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The gateway's request ids: unique, not secret; no system call per request (uuid4's).
_request_ids = random.Random()


class Routes:
    """The app's route templates, indexed for matching."""

    def __init__(self, templates: Iterable[str]) -> None:
        self._static: set[str] = set()
        self._by_length: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
        for template in sorted(templates):
            if "{" not in template:
                self._static.add(template)
                continue
            parts = tuple(template.strip("/").split("/"))
            self._by_length.setdefault(len(parts), []).append((template, parts))

    def match(self, path: str) -> tuple[str, dict[str, str] | None] | None:
        """(template, path parameters or None) of `path`, or None: no route has it."""
        if path != "/" and path.endswith("/"):  # as the gateway: no trailing slash
            path = path[:-1]
        if path in self._static:
            return path, None
        parts = path.strip("/").split("/")
        for template, names in self._by_length.get(len(parts), ()):
            params: dict[str, str] = {}
            for name, part in zip(names, parts, strict=True):
                if name[0] == "{":
                    if not part:
                        break
                    params[name[1:-1]] = part
                elif name != part:
                    break
            else:
                return template, params
        return None


def proxy_event(
    routes: Routes, method: str, target: str, headers: dict[str, str], body: bytes | str
) -> dict[str, Any] | None:
    """The proxy event of a request for `target` (path and query), or None for a path no
    route has (the gateway answers those itself)."""
    split = urlsplit(target)
    matched = routes.match(split.path)
    if matched is None:
        return None
    resource, params = matched
    query = parse_qs(split.query, keep_blank_values=True)
    raw = body.encode() if isinstance(body, str) else body
    return {
        "resource": resource,
        "path": split.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{split.path}",
            "stage": "api",
            "requestId": f"{_request_ids.getrandbits(128):032x}",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": base64.b64encode(raw).decode("ascii") if raw else None,
        "isBase64Encoded": bool(raw),
    }


class LambdaContext:
    """The few attributes of Lambda's context object the app and Powertools read."""

    function_name = "relais-local"
    memory_limit_in_mb = 1024
    aws_request_id = "local"
    invoked_function_arn = "arn:aws:lambda:eu-west-3:000000000000:function:relais-local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
