"""RFC 9457 problem+json answers for every error."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from chalicelib.api.problem_texts import texts
from chalicelib.api.request_scope import current_scope
from chalicelib.errors import RelaisError, ValidationFailed

PROBLEM_TYPE_BASE = "https://relais.coop/problems/"


def problem_body(error: RelaisError) -> dict[str, Any]:
    """The problem in the request's language, carrying the request's id."""
    scope = current_scope()
    title, detail = texts(error, scope.language)
    return {
        "type": PROBLEM_TYPE_BASE + error.code,
        "title": title,
        "status": error.status,
        "detail": detail,
        "code": error.code,
        "errors": error.errors,
        "request_id": scope.request_id,
    }


def from_validation_error(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    """Pydantic's errors as `{field, message}` pairs, fields dotted (`address.postcode`)."""
    errors = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"])
        field = ".".join(filter(None, [prefix, path])) or prefix or "body"
        message = err["msg"].removeprefix("Value error, ")
        errors.append({"field": field, "message": message})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return ValidationFailed(detail or "The request is not valid.", errors=errors)
