"""How a route is declared: auth, body and query models, idempotency, error mapping.

Every route goes through `endpoint`, which also records it in `ROUTES`, the
route table the OpenAPI document is generated from.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.adapters.dynamo import oversized_item, transient_failure
from chalicelib.api import idempotency
from chalicelib.api.http_middleware import event_headers
from chalicelib.api.problems import from_validation_error
from chalicelib.api.responses import json_response, problem_response
from chalicelib.api.wiring import get_context, get_verifier
from chalicelib.auth import Principal
from chalicelib.domain.identifiers import derived_id, new_id
from chalicelib.errors import (
    MalformedJson,
    NotFound,
    RelaisError,
    Unauthenticated,
    ValidationFailed,
)
from chalicelib.observability import add_log_keys
from chalicelib.services.context import Context

logger = logging.getLogger("relais.api")
AuthLevel = Literal["public", "member"]
# books: accountants and admins; staff: managers and admins; reports: all three
Role = Literal["admin", "books", "staff", "reports"]
# Every body is read as JSON whatever its declared type (curl -d sends a form type): a
# body that is not JSON gets our `malformed_json` problem. `*/*` keeps Chalice from
# answering 415 in its own, non-problem, format for any type (and from parsing the
# header on every request); the others name what clients send, for the OpenAPI
# `consumes` of `chalice package`.
ACCEPTED_TYPES = [
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "multipart/form-data",
    "text/json",
    "*/*",
]
MAX_PATH_PARAM = 200


@dataclass(frozen=True, kw_only=True)
class RouteSpec:
    path: str
    method: str
    summary: str
    tag: str
    auth: AuthLevel
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    idempotent: bool
    produces: str
    errors: tuple[int, ...]
    role: Role | None = None


ROUTES: list[RouteSpec] = []


@dataclass
class Call:
    """One parsed request, handed to a route function."""

    ctx: Context
    params: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    principal_or_none: Principal | None = None
    body: Any = None
    query: Any = None
    idempotency_key: str | None = None
    request_hash: str = ""

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise Unauthenticated("Missing Authorization header.")
        return self.principal_or_none

    def new_id(self, prefix: str) -> str:
        """A fresh id, or one derived from the Idempotency-Key so retries find their result."""
        if self.idempotency_key and self.principal_or_none:
            # The body is part of it: a key reused after its 24 h with another body must
            # not find the first request's result.
            return derived_id(
                prefix, self.principal_or_none.sub, self.idempotency_key, self.request_hash
            )
        return new_id(prefix)


def endpoint(
    bp: Blueprint,
    path: str,
    method: str,
    *,
    summary: str,
    tag: str,
    auth: AuthLevel = "member",
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    idempotent: bool = False,
    produces: str = "application/json",
    errors: tuple[int, ...] = (),
    role: Role | None = None,
) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
    spec = RouteSpec(
        path=path,
        method=method,
        summary=summary,
        tag=tag,
        auth=auth,
        body=body,
        query=query,
        response=response,
        status=status,
        idempotent=idempotent,
        produces=produces,
        errors=errors,
        role=role,
    )

    def decorator(fn: Callable[[Call], Any]) -> Callable[[Call], Any]:
        ROUTES.append(spec)

        @functools.wraps(fn)
        def view(**params: str) -> Response:
            try:
                return _handle(bp, spec, fn, params)
            except RelaisError as exc:
                return problem_response(exc)
            except Exception as exc:  # the one place that turns a bug into a clean 500
                unavailable = _transient(exc)
                if unavailable is not None:  # throttled, timed out, too large: never a 500
                    logger.warning("Unavailable on %s %s: %r", spec.method, spec.path, exc)
                    return problem_response(unavailable)
                logger.exception("Unhandled error on %s %s", spec.method, spec.path)
                return problem_response(RelaisError("An unexpected error occurred."))

        bp.route(path, methods=[method], content_types=ACCEPTED_TYPES)(view)
        return fn

    return decorator


def _transient(exc: Exception) -> RelaisError | None:
    """A 503 `service_unavailable` for a dependency that failed for a moment, a 422 for an
    item too large to store, else None."""
    return transient_failure(exc) or oversized_item(exc)


def _handle(
    bp: Blueprint, spec: RouteSpec, fn: Callable[[Call], Any], params: dict[str, str]
) -> Response:
    request = bp.current_request
    # Path parameters as the document counts them: characters, percent-decoded (the path
    # may hold them encoded, a non-ASCII character up to 12 times as long).
    params = {name: unquote(value) for name, value in params.items()}
    headers = {k.lower(): v for k, v in event_headers(request).items()}
    ctx = get_context()
    call = Call(ctx=ctx, params=params, headers=headers, raw_body=_as_bytes(request.raw_body))
    if any(len(value) > MAX_PATH_PARAM for value in params.values()):
        raise NotFound("No such resource.")
    if spec.auth == "member":
        call.principal_or_none = get_verifier().verify(headers.get("authorization"))
        add_log_keys(member=call.principal_or_none.sub)
    if spec.role == "admin":
        call.principal.require_admin()
    elif spec.role == "books":
        call.principal.require_books_access()
    elif spec.role == "staff":
        call.principal.require_staff()
    elif spec.role == "reports":
        call.principal.require_reports_access()
    if spec.query is not None:
        # The last value of a repeated parameter, as `request.query_params` gives it.
        given = request.to_original_event().get("multiValueQueryStringParameters") or {}
        call.query = _parse(spec.query, {k: v[-1] for k, v in given.items()}, prefix="")
    raw_json = None
    if spec.body is not None or spec.idempotent or _refuses_non_json(spec):
        raw_json = _json_body(call.raw_body)
        if spec.body is None and raw_json is not None:
            _json_text(raw_json)  # a "\ud800" escape (half a character) is no JSON either
    if spec.body is not None:
        call.body = _parse(
            spec.body, raw_json if raw_json is not None else {}, prefix="", strict_json=True
        )
    if spec.idempotent and "idempotency-key" in headers:
        call.idempotency_key = idempotency.parse_key(headers["idempotency-key"])
        return _run_idempotently(spec, fn, call, raw_json)
    return json_response(fn(call), spec.status)


def _refuses_non_json(spec: RouteSpec) -> bool:
    """A write that takes no body still refuses one that is not JSON (README, *Bodies*):
    never done on a guess. A public route's body is a signed payload its handler reads."""
    return spec.auth != "public" and spec.method in ("POST", "PUT", "PATCH", "DELETE")


def _as_bytes(raw: str | bytes | None) -> bytes:
    return raw.encode() if isinstance(raw, str) else (raw or b"")


def _parse(model: type[BaseModel], data: Any, prefix: str, strict_json: bool = False) -> Any:
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.", field="body")
    try:
        if strict_json:  # strict JSON types: `false` is no number, "3" no integer, 0 no date
            return model.model_validate_json(_json_text(data), strict=True)
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, prefix) from exc


def _json_text(data: Any) -> bytes:
    try:
        text = json.dumps(data, allow_nan=False, ensure_ascii=False)
    except ValueError as exc:  # 1e400 reads as infinity
        raise ValidationFailed("Numbers must be finite.", field="body") from exc
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # "\ud800": an escape of half a character
        raise MalformedJson("The body is not valid JSON: a \\u escape names no character.") from exc


def _json_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        # NaN and Infinity are not JSON (RFC 8259) though Python's parser reads them.
        return json.loads(raw, parse_constant=_not_json, parse_float=_json_number)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedJson(f"The body is not valid JSON: {exc}") from exc


def _json_number(text: str) -> float | int:
    """JSON has one number type: 2.0 is the integer 2 (JSON Schema agrees)."""
    number = float(text)
    return int(number) if number.is_integer() else number


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _run_idempotently(
    spec: RouteSpec, fn: Callable[[Call], Any], call: Call, raw_json: Any
) -> Response:
    assert call.idempotency_key is not None
    scope = call.principal_or_none.sub if call.principal_or_none else "public"
    call.request_hash = idempotency.request_fingerprint(
        spec.method, spec.path, call.params, raw_json
    )
    response = idempotency.answer_once(
        call.ctx.idempotency,
        scope,
        call.idempotency_key,
        call.request_hash,
        call.ctx.clock.now().timestamp(),
        lambda: json_response(fn(call), spec.status),
    )
    if response.status_code == 202 and "Location" not in response.headers:
        # A replayed 202 (work accepted) points at the resource again, as the first did.
        accepted = json.loads(response.body)
        if isinstance(accepted, dict) and isinstance(accepted.get("id"), str):
            response.headers["Location"] = f"{spec.path}/{accepted['id']}"
    return response
