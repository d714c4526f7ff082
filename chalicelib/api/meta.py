"""Health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.endpoint import ROUTES, Call, endpoint
from chalicelib.api.schemas import Health, OpenApiDocument

bp = Blueprint(__name__)


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
    "/v1/openapi.json",
    "GET",
    summary="This API's OpenAPI 3.1 document",
    tag="meta",
    auth="public",
    response=OpenApiDocument,
)
def openapi(call: Call) -> Any:
    from chalicelib.api.openapi import build_openapi

    return build_openapi(ROUTES, call.ctx.settings.version)
