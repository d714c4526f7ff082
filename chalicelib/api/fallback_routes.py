"""The methods a path does not have: CORS preflights (`OPTIONS`) and 405 answers.

API Gateway answers a method a path lacks with its own 403 before the Lambda runs, so
every path gets every method: `OPTIONS` answers the preflight with the path's real
methods, the others a 405 `method_not_allowed` problem with `Allow`, token or not.
These views are not part of the contract's route table (`ROUTES`).
"""

from __future__ import annotations

from collections.abc import Callable

from chalice import Chalice, Response

from chalicelib.api import cors
from chalicelib.api.endpoint import ACCEPTED_TYPES
from chalicelib.api.request_scope import current_scope
from chalicelib.api.responses import problem_response
from chalicelib.errors import MethodNotAllowed

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def add_fallback_routes(app: Chalice) -> None:
    for path, views in list(app.routes.items()):
        allowed = [m for m in METHODS if m in views] + ["OPTIONS"]
        missing = [m for m in METHODS if m not in views]
        if "OPTIONS" not in views:
            app.route(path, methods=["OPTIONS"], content_types=ACCEPTED_TYPES)(_preflight(allowed))
        if missing:
            app.route(path, methods=missing, content_types=ACCEPTED_TYPES)(_not_allowed(allowed))


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


def _not_allowed(allowed: list[str]) -> Callable[..., Response]:
    def not_allowed(**_params: str) -> Response:
        return problem_response(
            MethodNotAllowed(f"This path accepts {', '.join(allowed)}.", allowed)
        )

    not_allowed.fallback = True  # type: ignore[attr-defined]
    return not_allowed
