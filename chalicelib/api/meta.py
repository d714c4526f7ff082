"""Health and the OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint

from chalicelib.api.endpoint import ROUTES, Call, endpoint
from chalicelib.api.schemas import Health, OpenApiDocument

bp = Blueprint(__name__)
DOCUMENT_PATH = "/v1/openapi.json"
SAFE_BASE = re.compile(r"(/[A-Za-z0-9._~-]+){1,5}")


@endpoint(
    bp,
    "/v1/health",
    "GET",
    summary="Liveness",
    tag="meta",
    auth="public",
    response=Health,
)
def health(call: Call) -> Any:
    return {"status": "ok", "version": call.ctx.settings.version}


@endpoint(
    bp,
    DOCUMENT_PATH,
    "GET",
    summary="This API's OpenAPI 3.1 document",
    tag="meta",
    auth="public",
    response=OpenApiDocument,
)
def openapi(call: Call) -> Any:
    from chalicelib.api.openapi import build_openapi

    return build_openapi(ROUTES, call.ctx.settings.version, served_from(bp.current_request.context))


def served_from(context: dict[str, Any] | None) -> str:
    """The base the document's paths hang under, as the client reached it.

    API Gateway's `requestContext.path` is the path as requested: `/dev/v1/openapi.json` on
    a stage URL, `/base/v1/openapi.json` under a custom domain's base path, and
    `/v1/openapi.json` locally (`make run` serves the API at the root)."""
    context = context or {}
    path = str(context.get("path") or "")
    base = path[: -len(DOCUMENT_PATH)] if path.endswith(DOCUMENT_PATH) else ""
    if not path and context.get("stage"):
        base = f"/{context['stage']}"
    return base if SAFE_BASE.fullmatch(base) else "/"
