"""The methods a path does not have: CORS preflights (`OPTIONS`), `HEAD`, and 405 answers.

API Gateway answers a method a path lacks with its own 403 before the Lambda runs, so
every path gets every method: `OPTIONS` answers the preflight with the path's real
methods, `HEAD` on a path with a `GET` answers as that `GET` without its body (RFC 9110
§9.3.2), the others a 405 `method_not_allowed` problem with `Allow`, token or not. A
method API Gateway and Chalice know nothing of (`TRACE`...) gets the same 405 from the
HTTP middleware (api/http_middleware.py). `Allow` names the methods the contract gives
the path, and `OPTIONS`; never one that answers 405. These views are not part of the
contract's route table (`ROUTES`).
"""

from __future__ import annotations

from collections.abc import Callable

from chalice import Chalice, Response

from chalicelib.api import cors
from chalicelib.api.endpoint import ACCEPTED_TYPES
from chalicelib.api.http_middleware import method_not_allowed, refuse_other_methods
from chalicelib.api.request_scope import current_scope
from chalicelib.api.responses import json_response

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def add_fallback_routes(app: Chalice) -> None:
    allowed_by_path: dict[str, list[str]] = {}
    for path, views in list(app.routes.items()):
        allowed = [m for m in METHODS if m in views] + ["OPTIONS"]
        missing = [m for m in METHODS if m not in views]
        allowed_by_path[path] = allowed
        if "OPTIONS" not in views:
            app.route(path, methods=["OPTIONS"], content_types=ACCEPTED_TYPES)(_preflight(allowed))
        if "HEAD" not in views:
            if "GET" in views:
                head = _head(views["GET"].view_function)
                app.route(path, methods=["HEAD"], content_types=ACCEPTED_TYPES)(head)
            else:
                missing.append("HEAD")
        if missing:
            app.route(path, methods=missing, content_types=ACCEPTED_TYPES)(_not_allowed(allowed))
    refuse_other_methods(frozenset([*METHODS, "OPTIONS", "HEAD"]), allowed_by_path)


def contract_routes(app: Chalice) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, less the fallbacks added here."""
    return {
        (method, path)
        for path, views in app.routes.items()
        for method, entry in views.items()
        if not getattr(entry.view_function, "fallback", False)
    }


def _preflight(allowed: list[str]) -> Callable[..., Response]:
    def preflight(**_params: str) -> Response:
        headers = cors.preflight_headers(current_scope().origin, allowed)
        return Response(body="", status_code=204, headers=headers)

    preflight.fallback = True  # type: ignore[attr-defined]
    return preflight


def _head(get: Callable[..., Response]) -> Callable[..., Response]:
    """The path's `GET` (same checks, status and headers), its body left out."""

    def head(**params: str) -> Response:
        answer = get(**params)
        if not isinstance(answer, Response):  # a view may answer a plain JSON value
            answer = json_response(answer)
        return Response(body="", status_code=answer.status_code, headers=dict(answer.headers))

    head.fallback = True  # type: ignore[attr-defined]
    return head


def _not_allowed(allowed: list[str]) -> Callable[..., Response]:
    def not_allowed(**_params: str) -> Response:
        return method_not_allowed(allowed)

    not_allowed.fallback = True  # type: ignore[attr-defined]
    return not_allowed
