"""Editing catalogue objects: versions and `If-Match`, applying a patch, what changed.

Pure rules: no I/O. A PATCH body names only the fields it changes; the edited object is
validated again as a whole (an edit may not break what creation checks), and the
changes are listed field by field for the answer and the audit trail.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from chalicelib.errors import PreconditionFailed, PreconditionRequired, ValidationFailed

# A strong entity tag (RFC 9110 13.1.1: If-Match compares strongly, so a weak W/"3" never
# matches); the quotes may be left out. `If-Match` may list several, any one matching
# (empty list elements are skipped, RFC 9110 5.6.1.2). `*` names no version (it would
# defeat the lost-update check): 412.
_TAG = re.compile(r'^(?:"([0-9]{1,18})"|([0-9]{1,18}))$')
M = TypeVar("M", bound=BaseModel)

# The versions a change may apply to: one already read, or those an If-Match header names.
Expected = int | frozenset[int]


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> frozenset[int]:
    """The versions an `If-Match` header names: missing → 428; an element that is no
    entity tag, or no strong one at all → 412 (a weak one is skipped: it never matches)."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            'This change needs an If-Match header with the version you read, e.g. If-Match: "3".'
        )
    versions = set()
    for element in (part.strip() for part in if_match.split(",")):
        weak = element.startswith("W/")
        found = _TAG.match(element[2:] if weak else element) if element else None
        if element and found is None:
            raise PreconditionFailed("If-Match does not name a version of this object.")
        if found is not None and not weak:
            versions.add(int(found.group(1) or found.group(2)))
    if not versions:
        raise PreconditionFailed("If-Match does not name a version of this object.")
    return frozenset(versions)


def check_version(current: int, expected: Expected) -> int:
    """`current` (the version the change is then conditioned on), if `expected` names it."""
    wanted = expected if isinstance(expected, frozenset) else frozenset((expected,))
    if current not in wanted:
        named = ", ".join(str(v) for v in sorted(wanted))
        raise PreconditionFailed(f"The object is at version {current}, not {named}: read it again.")
    return current


def check_if_match(current: int, if_match: str | Expected | None) -> int:
    """`check_version` of a raw `If-Match` header, or of versions already read from one."""
    if isinstance(if_match, (int, frozenset)):
        return check_version(current, if_match)
    return check_version(current, expected_version(if_match))


def sent_fields(patch: BaseModel) -> dict[str, Any]:
    """The fields the PATCH body named, as plain JSON values."""
    return patch.model_dump(mode="json", include=set(patch.model_fields_set))


def apply_patch(entity: M, changes: dict[str, Any]) -> M:
    """The entity with `changes` applied, validated again as a whole, version unchanged.
    Its numbers stay numbers (`as_json`): a product's price read back as Decimals would
    otherwise be kept, served and audited as strings by an edit that left it alone."""
    merged = {**as_json(entity), **changes}
    try:
        return type(entity).model_validate(merged)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in err["loc"]) or "body",
                "message": err["msg"].removeprefix("Value error, "),
            }
            for err in exc.errors(include_url=False)
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise ValidationFailed(detail or "The edit is not valid.", errors=errors) from exc


def as_json(model: BaseModel) -> dict[str, Any]:
    """The model's fields as JSON values, its numbers as numbers: `model_dump(mode="json")`
    writes a Decimal (credits, a price as DynamoDB hands it back) as a string."""
    fields: dict[str, Any] = to_jsonable_python(_numbers(model.model_dump()))
    return fields


def _numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_numbers(v) for v in value]
    return value


def changed_fields(before: BaseModel, after: BaseModel) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for every field whose JSON value differs."""
    old, new = as_json(before), as_json(after)
    return {k: [old.get(k), new.get(k)] for k in new if k != "version" and old.get(k) != new.get(k)}


def mask_iban(iban: str | None) -> str | None:
    """What the audit trail keeps of an IBAN: country, check digits and last 4 characters."""
    if not iban:
        return iban
    compact = iban.replace(" ", "")
    return compact[:4] + "*" * max(len(compact) - 8, 0) + compact[-4:]
