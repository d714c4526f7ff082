"""Health and the OpenAPI document."""

from __future__ import annotations

import re
import threading
from typing import Any

from chalice import Blueprint

from chalicelib.api.endpoint import ROUTES, Call, endpoint
from chalicelib.api.schemas import Health, OpenApiDocument

bp = Blueprint(__name__)
DOCUMENT_PATH = "/v1/openapi.json"
SAFE_BASE = re.compile(r"(/[A-Za-z0-9._~-]+){1,5}")
# The document, built once per server URL. Built under a lock: pydantic's models built on
# first use (defer_build) and the JSON Schema generation are not safe to run from two
# threads at once, which `chalice local`'s threaded server does (Lambda never does).
_documents: dict[tuple[str, str], dict[str, Any]] = {}
_documents_lock = threading.Lock()


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

    key = (call.ctx.settings.version, served_from(bp.current_request.context))
    with _documents_lock:
        if key not in _documents:
            _documents[key] = build_openapi(ROUTES, *key)
        return _documents[key]


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
