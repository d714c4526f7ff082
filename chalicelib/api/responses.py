"""How answers are written: JSON, problem+json, and binary files (PDF, ZIP)."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from chalice import Response
from pydantic import BaseModel

from chalicelib.api.problems import problem_body
from chalicelib.errors import RelaisError


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")  # Decimals come back here as numbers
    raise TypeError(f"Cannot serialise {type(value).__name__}")


def json_response(result: Any, status: int = 200) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="python")
    return JsonResponse(
        body=json_text(result), status_code=status, headers={"Content-Type": "application/json"}
    )


class JsonResponse(Response):
    """A JSON answer: text, never one of the binary types, so Chalice's check of the
    content type against them (a header split per answer) is skipped."""

    def to_dict(self, binary_types: list[str] | None = None) -> dict[str, Any]:
        return super().to_dict(None)


def json_text(result: Any) -> str:
    """`result` as compact JSON (orjson: a relay-day's answer in ~5 µs instead of ~50 µs
    with `json`); an integer past 64 bits, which orjson refuses, through `json`."""
    try:
        return orjson.dumps(result, default=json_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(result, default=json_default, ensure_ascii=False, separators=(",", ":"))


def problem_response(error: RelaisError) -> Response:
    return Response(
        body=json.dumps(problem_body(error), ensure_ascii=False),
        status_code=error.status,
        headers={**error.headers, "Content-Type": "application/problem+json"},
    )


class BinaryResponse(Response):
    """A file answered whatever the request's `Accept` (a browser link sends `text/html,…`).

    Chalice base64-encodes only the types listed in `app.api.binary_types`, and then
    refuses a request whose `Accept` does not name them; this answer encodes itself
    instead, and API Gateway (binary media types `*/*`) decodes it for any `Accept`.
    """

    def to_dict(self, binary_types: list[str] | None = None) -> dict[str, Any]:
        answer = super().to_dict(None)
        raw = self.body if isinstance(self.body, bytes) else str(self.body).encode()
        answer["body"] = base64.b64encode(raw).decode("ascii")
        answer["isBase64Encoded"] = True
        return answer


def binary_response(
    body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> Response:
    return BinaryResponse(
        body=body, status_code=200, headers={**(headers or {}), "Content-Type": content_type}
    )
