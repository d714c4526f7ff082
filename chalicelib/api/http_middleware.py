"""What every HTTP answer gets, whatever route or error produced it.

Runs around each request (a Chalice `http` middleware): it opens the request's scope
(id, language, allowed origin), lets the route answer, then adds `X-Request-Id`,
`Vary: Origin` and, for an allowed origin, the CORS headers. `chalice local` answers an
unknown route itself, before any middleware: `answer_unknown_route` gives it the same
problem the deployed gateway gives (infra/package.py). A method that no view of the app
takes (`TRACE`, `CONNECT`...: api/fallback_routes.py registers the others on every path)
gets the same 405 `method_not_allowed` problem as the fallback views give, not Chalice's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from chalice import Response
from chalice.app import Request

from chalicelib.api import cors
from chalicelib.api.request_scope import (
    RequestScope,
    enter_scope,
    language_from,
    leave_scope,
    request_id_from,
)
from chalicelib.api.responses import problem_response
from chalicelib.api.wiring import get_context
from chalicelib.errors import MethodNotAllowed, NotFound, RelaisError

# Set by api/fallback_routes.py: the methods some view takes on every path, and each
# path's own methods (its `Allow`).
_served_methods: frozenset[str] = frozenset()
_allowed_by_path: dict[str, tuple[str, ...]] = {}


def refuse_other_methods(served: frozenset[str], allowed_by_path: Mapping[str, list[str]]) -> None:
    """Answer a method outside `served` with the path's 405 (see `method_not_allowed`)."""
    global _served_methods
    _served_methods = served
    _allowed_by_path.clear()
    _allowed_by_path.update({path: tuple(methods) for path, methods in allowed_by_path.items()})


def method_not_allowed(allowed: Sequence[str]) -> Response:
    """405 `method_not_allowed` with `Allow`: the path's own methods, nothing it refuses."""
    return problem_response(
        MethodNotAllowed(f"This path accepts {', '.join(allowed)}.", list(allowed))
    )


def _unserved(request: Request) -> Response | None:
    if request.method in _served_methods:
        return None
    allowed = _allowed_by_path.get(request.context.get("resourcePath", ""))
    return None if allowed is None else method_not_allowed(allowed)


def handle(request: Request, get_response: Callable[[Request], Response]) -> Response:
    scope = open_scope(event_headers(request))
    try:
        refused = _unserved(request)
        response = refused if refused is not None else get_response(request)
        finish(response, scope)
        return response
    finally:
        leave_scope()


def open_scope(headers: Mapping[str, str]) -> RequestScope:
    lowered = {k.lower(): v for k, v in headers.items()}
    scope = RequestScope(
        request_id=request_id_from(lowered.get("x-request-id")),
        language=language_from(lowered.get("accept-language")),
        origin=cors.allowed_origin(lowered.get("origin"), allowed_origins()),
    )
    enter_scope(scope)
    return scope


def event_headers(request: Request) -> Mapping[str, str]:
    """The request's headers as the event has them: a plain dict, what Chalice's
    case-insensitive `request.headers` wraps (reading that one costs ~1 µs a header)."""
    return request.to_original_event().get("headers") or {}


def finish(response: Response, scope: RequestScope) -> None:
    response.headers["X-Request-Id"] = scope.request_id
    for name, value in cors.response_headers(scope.origin).items():
        response.headers.setdefault(name, value)


def answer_unknown_route(headers: Mapping[str, str]) -> dict[str, Any]:
    """The Lambda-proxy answer to a path no route has (404 problem, CORS as any answer)."""
    scope = open_scope(headers)
    try:
        response = problem_response(NotFound("No such route."))
        finish(response, scope)
        return response.to_dict()
    finally:
        leave_scope()


def allowed_origins() -> frozenset[str]:
    try:
        setting = get_context().settings.allowed_origins
    except (ValueError, RelaisError):  # a misconfiguration is answered by the route (503)
        return frozenset()
    return _parsed(setting)


@lru_cache(maxsize=4)
def _parsed(setting: str) -> frozenset[str]:
    return cors.parse_origins(setting)
