"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

Everything an operation can answer is derived from its declaration: 401 for a token,
403 for a role, 404 for a path parameter, 400/422 for a body, 409 for an Idempotency-Key,
422 for a query, 503 for every one; its `errors` add the rest. `servers` is where the
document was served from (the API Gateway stage, or the root locally).
"""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api import openapi_parts as parts
from chalicelib.api.endpoint import MAX_PATH_PARAM, RouteSpec
from chalicelib.api.idempotency import KEY_PATTERN
from chalicelib.api.openapi_refine import (
    BODY_NEEDED,
    ServedJsonSchema,
    not_null_fields,
    refine,
    stripped_models,
)

REF = "#/components/schemas/{model}"
RATE_LIMITED = {
    ("POST", "/v1/bookings"),
    ("POST", "/v1/purchases"),
    ("POST", "/v1/memberships"),
    ("PUT", "/v1/memberships/{membership_id}/payment-method"),
}
# Operations that call the payment provider (charges, refunds, events), hence may answer 502.
PAYING = RATE_LIMITED | {
    ("POST", "/v1/bookings/{booking_id}/cancel"),
    ("POST", "/v1/relays/{relay_id}/closures"),
    ("POST", "/v1/admin/jobs/{job}"),
    ("POST", "/v1/webhooks/stripe"),
    ("DELETE", "/v1/me"),
}
DOCUMENT_PATHS = (
    "/v1/invoices/{invoice_id}",
    "/v1/invoices/{invoice_id}/pdf",
    "/v1/invoices/{invoice_id}/xml",
)
FILES = {"text/plain", "text/csv", "text/calendar", "application/pdf", "application/xml"}
ALSO_CSV = {("GET", "/v1/accounting/clearing")}
DESCRIPTION = """Booking and billing for the relays of the network.

Errors are `application/problem+json` (RFC 9457) with a stable `code`; send
`Accept-Language: fr` for French texts. Writes that create something take an
`Idempotency-Key`. Lists are paged with `limit` and the `next_cursor` of the previous page.
"""


def build_openapi(routes: list[RouteSpec], version: str, server_url: str = "/") -> dict[str, Any]:
    models = _models(routes)
    refs, defs = (
        models_json_schema(models, ref_template=REF, schema_generator=ServedJsonSchema)
        if models
        else ({}, {})
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    bodies = [spec.body for spec in routes if spec.body is not None]
    stripped, not_null = stripped_models(bodies), not_null_fields(bodies)
    for name, schema in schemas.items():
        refine(name, schema, name in stripped, not_null.get(name, frozenset()))
        _describe_schema(schema, schemas)
    schemas["Problem"] = parts.PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for spec in routes:
        operation = _operation(spec, refs)
        _add_examples(operation, schemas)
        paths.setdefault(spec.path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Relais API", "version": version, "description": DESCRIPTION},
        "servers": [{"url": server_url or "/", "description": "Where this document was served"}],
        "tags": parts.TAGS,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An ID token of the identity provider (groups: `admin`, "
                    "`accountant`, `manager:{relay_id}`).",
                }
            },
        },
    }


def _add_examples(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Each JSON body, sent or answered, shows an example (its schema's own); a problem,
    one of its own status (not the schema's 422)."""
    bodies = [("", operation.get("requestBody", {})), *operation["responses"].items()]
    for status, body in bodies:
        for media, content in body.get("content", {}).items():
            if media.endswith("json"):
                example = parts.example(content["schema"], schemas)
                if media == "application/problem+json" and status in parts.PROBLEM_EXAMPLES:
                    example = parts.problem_example(int(status))
                content["example"] = example


def _models(routes: list[RouteSpec]) -> list[tuple[type[BaseModel], Any]]:
    seen: dict[tuple[type[BaseModel], Any], None] = {}
    for spec in routes:
        if spec.body is not None:
            seen[(spec.body, "validation")] = None
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


def _describe_schema(schema: dict[str, Any], defs: dict[str, Any]) -> None:
    title = schema.get("title", "")
    schema.setdefault("description", re.sub(r"(?<!^)(?=[A-Z])", " ", title).capitalize() + ".")
    if "examples" not in schema:
        schema["examples"] = [parts.example({**schema, "examples": None}, defs)]


def _operation(spec: RouteSpec, refs: dict[Any, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": spec.summary,
        "description": _description(spec),
        "tags": [spec.tag],
        "operationId": _operation_id(spec),
        "parameters": _parameters(spec),
        "responses": _responses(spec, refs),
        "security": [{"bearer": []}] if spec.auth == "member" else [],
    }
    if spec.body is not None:
        schema = spec.body.model_json_schema(ref_template=REF, schema_generator=ServedJsonSchema)
        op["requestBody"] = {
            "required": bool(schema.get("required")) or spec.body.__name__ in BODY_NEEDED,
            "description": "A JSON object; unknown members are ignored.",
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    elif spec.path == "/v1/webhooks/stripe":
        op["requestBody"] = {
            "required": True,
            "description": "The event exactly as the payment provider signed it.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return op


def _description(spec: RouteSpec) -> str:
    who = {
        None: "Any member with a bearer token.",
        "admin": "Administrators only.",
        "books": "Accountants and administrators only.",
        "staff": "Administrators and the relay's managers only.",
        "reports": "Administrators, accountants and managers (their own relays) only.",
    }[spec.role]
    text = [spec.summary + ".", who if spec.auth == "member" else "Public: no token needed."]
    if spec.idempotent:
        text.append(
            "With an `Idempotency-Key`, a retry with the same key and body within 24 hours "
            "replays the first answer (`Idempotent-Replayed: true`)."
        )
    if (spec.method, spec.path) in RATE_LIMITED:
        text.append("Rate limited per member (429 with `Retry-After`).")
    if (spec.method, spec.path) in parts.NOTES:
        text.append(parts.NOTES[(spec.method, spec.path)])
    return " ".join(text)


def _operation_id(spec: RouteSpec) -> str:
    words = re.sub(r"[{}]", "", spec.path.removeprefix("/v1/")).replace("/", "_").replace("-", "_")
    return f"{spec.method.lower()}_{words.replace('.', '_')}"


def _parameters(spec: RouteSpec) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": f"The {name.replace('_', ' ')} (at most {MAX_PATH_PARAM} characters).",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_PATH_PARAM},
        }
        for name in re.findall(r"{(\w+)}", spec.path)
    ]
    if spec.query is not None:
        schema = spec.query.model_json_schema(
            by_alias=True, ref_template=REF, schema_generator=ServedJsonSchema
        )
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(_query_parameter(name, prop, name in required, schema))
    if spec.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Same key and body within 24 h replays the first answer.",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": KEY_PATTERN,
                },
            }
        )
    if spec.path == "/v1/webhooks/stripe":
        params.append(
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "description": "The provider's signature of the raw body (400 if it fails).",
                "schema": {"type": "string", "minLength": 1},
            }
        )
    if spec.path == "/v1/einvoicing/platforms/{operator_id}/webhook":
        params.append(
            {
                "name": "X-PA-Signature",
                "in": "header",
                "required": True,
                "description": "`t={unix seconds},v1={hex HMAC-SHA256(webhook secret, "
                '"{t}.{raw body}")}` (400 if it fails or is older than 300 s).',
                "schema": {"type": "string", "minLength": 1},
            }
        )
    if spec.method == "GET" and spec.path in DOCUMENT_PATHS:
        params.append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "The `ETag` of a copy held: 304 if it is still this document.",
                "schema": {"type": "string"},
            }
        )
    return params


def _query_parameter(
    name: str, prop: dict[str, Any], required: bool, model: dict[str, Any]
) -> dict[str, Any]:
    prop = dict(prop)
    prop.pop("title", None)
    description = prop.pop("description", None) or name.replace("_", " ").capitalize() + "."
    options = prop.pop("anyOf", None)
    if options:  # optional: absent, never null, in a query string
        kept = [o for o in options if o.get("type") != "null"]
        prop = {**(kept[0] if len(kept) == 1 else {"anyOf": kept}), **prop}
        if prop.get("default") is None:
            prop.pop("default", None)
    if "$ref" in prop:  # an enum: inline it, query strings have no components
        prop = {**model["$defs"][prop.pop("$ref").rsplit("/", 1)[-1]], **prop}
        prop.pop("title", None)
    parameter = {"name": name, "in": "query", "required": required, "description": description}
    return {**parameter, "schema": prop}


def _responses(spec: RouteSpec, refs: dict[Any, Any]) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": parts.REQUEST_ID}
    success: dict[str, Any] = {"description": spec.summary, "headers": dict(headers)}
    if spec.status != 204:
        success["content"] = _content(spec, refs)
    if spec.idempotent:
        success["headers"]["Idempotent-Replayed"] = parts.REPLAYED
    if spec.status == 202:
        success["headers"]["Location"] = parts.LOCATION
    if spec.produces in FILES or (spec.method, spec.path) in ALSO_CSV:
        success["headers"]["Content-Disposition"] = parts.DISPOSITION
    document = spec.method == "GET" and spec.path in DOCUMENT_PATHS
    if document:
        success["headers"].update({"ETag": parts.ETAG, "Cache-Control": parts.CACHE_CONTROL})
    if (spec.method, spec.path) in parts.LINKS:
        success["links"] = parts.LINKS[(spec.method, spec.path)]
    responses: dict[str, Any] = {str(spec.status): success}
    if document:
        responses["304"] = {
            "description": parts.STATUS_TEXT[304],
            "headers": {**headers, "ETag": parts.ETAG, "Cache-Control": parts.CACHE_CONTROL},
        }
    for code in sorted(_error_codes(spec)):
        error_headers = dict(headers)
        if code in (429, 503) or (code == 409 and spec.idempotent):
            error_headers["Retry-After"] = {**parts.RETRY_AFTER, "required": code == 429}
        responses[str(code)] = {
            "description": parts.STATUS_TEXT[code],
            "headers": error_headers,
            "content": {"application/problem+json": {"schema": parts.PROBLEM_REF}},
        }
    return responses


def _content(spec: RouteSpec, refs: dict[Any, Any]) -> dict[str, Any]:
    if spec.produces != "application/json":
        return {spec.produces: {"schema": {"type": "string"}}}
    model = _response_model(spec.response)
    schema: dict[str, Any] = {"type": "object"}
    if model is not None:
        ref = refs[(model, "serialization")]
        schema = ref if model is spec.response else _page_schema(ref)
    content = {"application/json": {"schema": schema}}
    if (spec.method, spec.path) in ALSO_CSV:
        content["text/csv"] = {"schema": {"type": "string"}}
    return content


def _page_schema(ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "One page; `next_cursor` is null on the last one.",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": ref},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page.",
            },
        },
    }


def _error_codes(spec: RouteSpec) -> set[int]:
    codes = set(spec.errors) | {503}
    if spec.auth == "member":
        codes.add(401)
    if spec.role:
        codes.add(403)
    if "{" in spec.path:
        codes.add(404)
    if spec.query is not None:
        codes.add(422)
    if spec.body is not None:
        codes |= {400, 422}
    if spec.idempotent:
        codes |= {400, 409, 422}
    if (spec.method, spec.path) in RATE_LIMITED:
        codes.add(429)
    if (spec.method, spec.path) in RATE_LIMITED:
        codes.add(402)  # a card refused when charged at once
    if (spec.method, spec.path) in PAYING:
        codes.add(502)
    return codes
