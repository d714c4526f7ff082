"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.endpoint import RouteSpec

REF = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "Malformed request",
    401: "Unauthenticated",
    402: "Payment failed",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    422: "Validation error",
    429: "Rate limited",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def build_openapi(routes: list[RouteSpec], version: str) -> dict[str, Any]:
    models = _models(routes)
    refs, defs = (
        models_json_schema([(m, mode) for m, mode in models], ref_template=REF)
        if models
        else ({}, {})
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for spec in routes:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Relais API",
            "version": version,
            "description": "Booking and billing for the relays of the network.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _models(routes: list[RouteSpec]) -> list[tuple[type[BaseModel], Any]]:
    seen: dict[tuple[type[BaseModel], str], None] = {}
    for spec in routes:
        if spec.body is not None:
            seen[(spec.body, "validation")] = None
        if spec.query is not None:
            seen[(spec.query, "validation")] = None
        model = _response_model(spec.response)
        if model is not None:
            seen[(model, "serialization")] = None
    return list(seen)


def _response_model(response: Any) -> type[BaseModel] | None:
    if isinstance(response, type) and issubclass(response, BaseModel):
        return response
    args = typing.get_args(response)
    if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0]
    return None


def _operation(spec: RouteSpec, refs: dict[Any, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": spec.summary,
        "tags": [spec.tag],
        "operationId": _operation_id(spec),
        "parameters": _parameters(spec, refs),
        "responses": _responses(spec, refs),
    }
    if spec.auth == "member":
        op["security"] = [{"bearer": []}]
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    return op


def _operation_id(spec: RouteSpec) -> str:
    words = re.sub(r"[{}]", "", spec.path.removeprefix("/v1/")).replace("/", "_").replace("-", "_")
    return f"{spec.method.lower()}_{words.replace('.', '_')}"


def _parameters(spec: RouteSpec, refs: dict[Any, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", spec.path)
    ]
    if spec.query is not None:
        schema = spec.query.model_json_schema(by_alias=True, ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if spec.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Same key and body within 24 h replays the first answer.",
            }
        )
    return params


def _responses(spec: RouteSpec, refs: dict[Any, Any]) -> dict[str, Any]:
    model = _response_model(spec.response)
    schema: dict[str, Any] = {"type": "object"}
    if model is not None:
        ref = refs[(model, "serialization")]
        schema = (
            ref
            if model is spec.response
            else {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": ref},
                    "next_cursor": {"type": ["string", "null"]},
                },
            }
        )
    if spec.produces != "application/json":
        schema = {"type": "string"}
    success: dict[str, Any] = {"description": "Success"}
    if spec.status != 204:
        success["content"] = {spec.produces: {"schema": schema}}
    responses: dict[str, Any] = {str(spec.status): success}
    codes = set(spec.errors) | ({401} if spec.auth == "member" else set())
    if spec.role:
        codes.add(403)
    if spec.body is not None:
        codes |= {400, 422}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": ERROR_TEXT.get(code, "Error"),
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
    return responses
