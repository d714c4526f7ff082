"""What pydantic's JSON Schema leaves out of the models' rules, stated for the document.

The models validate with code (Luhn checks, time zones, conditional fields, stripped
strings); these refinements say the same in JSON Schema, so the document is exact. Each is
checked against the server by the contract fuzzing (tests/contract).
"""

from __future__ import annotations

import typing
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from chalicelib.domain.catalogue import (
    BLANKS,
    SINGLE_LINE_PATTERN,
    YEARS_2000_2100,
    single_line_pattern,
)
from chalicelib.domain.identifiers import VAT_NUMBER_RULE
from chalicelib.domain.schedule import WEEKDAYS

NOT_BLANK = f"[^{BLANKS}]"
VAT_RATE = r"^((0{0,2}[0-9]|0?[1-9][0-9])(\.[0-9]{1,2})?|100(\.00?)?)$"
START = "^([01][0-9]|2[0-3]):(00|30)$"
END = "^(([01][0-9]|2[0-3]):(00|30)|24:00)$"
SIREN = {
    "type": "string",
    "format": "siren",
    "pattern": "^[0-9]{9}$",
    "description": "SIREN: nine digits passing the Luhn check.",
    "examples": ["552100554"],
}
SIRET = {
    "type": "string",
    "format": "siret",
    "pattern": "^[0-9]{14}$",
    "description": "SIRET: fourteen digits passing the Luhn check, starting with the SIREN.",
    "examples": ["55210055400013"],
}
VAT_NUMBER = {
    "type": "string",
    "format": "vat_number",
    "maxLength": 20,
    "description": VAT_NUMBER_RULE,
    "examples": ["FR96552100554"],  # the FR number of the SIREN samples' 552100554
}
# Bodies that carry identifiers in, though not named New… or …Patch.
ENTERING = frozenset({"BillingProfile"})
# Bodies with no required field that must still be sent (one of several forms).
BODY_NEEDED = frozenset({"NewClosure"})
DATE_TIME = {"type": "string", "format": "date-time", "description": "Years 2000 to 2100."}
INTERVAL = {
    "type": "array",
    "prefixItems": [{"type": "string", "pattern": START}, {"type": "string", "pattern": END}],
    "items": False,
    "minItems": 2,
    "maxItems": 2,
}
OPENING_HOURS = {
    "type": "object",
    "description": "Per weekday, sorted non-overlapping [start, end] intervals, start before "
    "end, on :00 or :30 marks; a missing day is closed.",
    "propertyNames": {"enum": list(WEEKDAYS)},
    "additionalProperties": {"type": "array", "items": INTERVAL},
    "examples": [{"mon": [["08:00", "12:00"], ["13:30", "19:00"]], "sat": [["09:00", "13:00"]]}],
}
RATE_OFFERED = {
    "anyOf": [
        {"required": [unit], "properties": {unit: {"type": "integer"}}}
        for unit in ("day", "half_day", "hour")
    ],
    "description": "Prices in cents, VAT included; at least one unit is offered.",
}
PRODUCT_KIND_FIELDS = {
    "if": {"properties": {"kind": {"const": "credit_pack"}}},
    "then": {
        "required": ["credits", "validity_days"],
        "properties": {"credits": {"type": "number"}, "validity_days": {"type": "integer"}},
    },
    "else": {"required": ["period"], "properties": {"period": {"const": "month"}}},
    "description": "A credit_pack needs `credits` and `validity_days`; a membership `period`.",
}

_NULL = {"type": "null"}
_DEFAULT_DIALECT = {"const": "default"}
# POST /v1/exports (domain/exports.ExportRequest.problems): what each kind takes. The
# rules a schema cannot state (`from` not after `to`, a PDF ZIP's 31 days) answer 422.
EXPORT_KIND_FIELDS = [
    {
        "if": {"properties": {"kind": {"enum": ["fec", "archive"]}}},
        "then": {
            "required": ["year"],
            "properties": {
                "year": {"type": "integer"},
                "from": _NULL,
                "to": _NULL,
                "dialect": _DEFAULT_DIALECT,
            },
        },
    },
    {
        "if": {"properties": {"kind": {"const": "invoices_csv"}}},
        "then": {"properties": {"year": _NULL}},
    },
    {
        "if": {"properties": {"kind": {"const": "invoices_pdf_zip"}}},
        "then": {
            "required": ["from", "to"],
            "properties": {
                "from": {"type": "string"},
                "to": {"type": "string"},
                "year": _NULL,
                "dialect": _DEFAULT_DIALECT,
            },
        },
    },
]


@cache
def time_zones() -> list[str]:
    return sorted(available_timezones())


def refine(
    name: str, schema: dict[str, Any], stripped: bool, not_null: frozenset[str] = frozenset()
) -> None:
    """Add to the component `name` what its model checks in code."""
    props = schema.get("properties", {})
    inbound = name.startswith("New") or name.endswith("Patch") or name == "PriceIn"
    identified = inbound or name in ENTERING
    for field, prop in props.items():
        _one_line(prop)
        if field in not_null:  # optional, but `null` is refused (a PATCH cannot clear it)
            _drop_null(prop)
        if field in ("iban", "bic") and name.endswith("Patch"):
            _replace_string(prop, {"type": "string", "format": field})
        if field in ("siren", "siret") and identified:
            _replace_string(prop, SIREN if field == "siren" else SIRET)
        elif field == "vat_number" and identified:
            _replace_string(prop, VAT_NUMBER)
        elif (
            field == "vat_rate"
            and "pattern" not in prop
            and (name.startswith("New") or name == "PriceIn")
        ):
            prop["pattern"] = VAT_RATE
        elif field == "invoice_prefix" and inbound:
            _replace_string(prop, {"type": "string", "pattern": "^[A-Z0-9]{2,10}$"})
        elif field == "timezone" and name == "NewRelay":
            prop["enum"] = time_zones()
        elif field == "opening_hours" and name == "NewRelay":
            props[field] = {**OPENING_HOURS, "title": prop.get("title", "Opening Hours")}
        elif stripped:
            _not_blank(prop)
    if name == "JobRun" and "as_of" in props:
        _replace_string(props["as_of"], {**DATE_TIME, "pattern": YEARS_2000_2100})
    if name == "NewClosure":  # one form: a date, a span, or a year's public holidays
        schema["anyOf"] = [{"required": keys} for keys in (["date"], ["from", "to"])] + [
            {"required": ["public_holidays"]}
        ]
        schema["examples"] = [{"date": "2026-12-24", "reason": "Fermeture exceptionnelle"}]
    if name == "OpeningException" and "hours" in props:
        props["hours"] = {
            "anyOf": [{"type": "array", "items": INTERVAL}, {"type": "null"}],
            "default": None,
            "title": "Hours",
            "description": "Sorted non-overlapping [start, end] intervals on :00 or :30 marks "
            "that replace the weekly hours on that date; null or [] closes the day.",
        }
        schema["examples"] = [
            {"date": "2026-12-24", "hours": [["08:00", "13:00"]]},
            {"date": "2026-12-25", "hours": None},
        ]
    if name == "ExportBody":
        schema["allOf"] = EXPORT_KIND_FIELDS
        schema["examples"] = [
            {"kind": "fec", "operator_id": "op_xbbuwbj7hc5rku7yue5a", "year": 2026}
        ]
        schema["description"] = (
            f"{schema.get('description', '')} `fec` and `archive` take `year`;"
            " `invoices_csv` takes `from`/`to` (optional) and `dialect`; `invoices_pdf_zip`"
            " takes `from` and `to`, at most 31 days apart (422 otherwise)."
        ).strip()
    if name == "Rates":
        schema.update(RATE_OFFERED)
    if name == "NewProduct":
        schema.update(PRODUCT_KIND_FIELDS)


def _drop_null(prop: dict[str, Any]) -> None:
    options = prop.pop("anyOf", None)
    if options:
        kept = [o for o in options if o.get("type") != "null"]
        prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
    if prop.get("default", 0) is None:
        del prop["default"]


def not_null_fields(models: list[type[BaseModel]]) -> dict[str, frozenset[str]]:
    """Per model name, the optional fields whose validator refuses `null` (`_not_null`)."""
    found: dict[str, frozenset[str]] = {}
    for model in models:
        validators = model.__pydantic_decorators__.field_validators
        fields = {f for name, v in validators.items() if name == "_not_null" for f in v.info.fields}
        if fields:
            found[model.__name__] = frozenset(fields)
    return found


def _replace_string(prop: dict[str, Any], exact: dict[str, Any]) -> None:
    options = prop.get("anyOf")
    if options:
        prop["anyOf"] = [exact if o.get("type") == "string" else o for o in options]
    else:
        prop.update(exact)


def _strings(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The string schemas of a property: itself, its options, its items."""
    found: list[dict[str, Any]] = []
    for option in prop.get("anyOf", [prop]):
        if option.get("type") == "array" and isinstance(option.get("items"), dict):
            found += _strings(option["items"])
        elif option.get("type") == "string":
            found.append(option)
    return found


def _one_line(prop: dict[str, Any]) -> None:
    """A one-line text is stripped: its pattern asks for its minimum and maximum lengths
    in characters kept once blanks are stripped (a name of blanks only is refused, a
    postcode of 12 characters after a blank accepted), which its `maxLength` would count
    with the blanks: left out."""
    for option in _strings(prop):
        if option.get("pattern") != SINGLE_LINE_PATTERN:
            continue
        if option.get("minLength") or "maxLength" in option:
            shortest, longest = option.get("minLength", 0), option.pop("maxLength", None)
            option["pattern"] = single_line_pattern(shortest, longest)


def _not_blank(prop: dict[str, Any]) -> None:
    """Stripped strings: a minimum length counts what is left once blanks are stripped."""
    for option in _strings(prop):
        if option.get("minLength") and "pattern" not in option:
            option["pattern"] = NOT_BLANK


def stripped_models(models: list[type[BaseModel]]) -> set[str]:
    """Names of the models (and the models they nest) that strip their strings."""
    found: set[str] = set()
    todo = list(models)
    while todo:
        model = todo.pop()
        if model.__name__ in found:
            continue
        if model.model_config.get("str_strip_whitespace"):
            found.add(model.__name__)
        for info in model.model_fields.values():
            todo.extend(_nested_models(info.annotation))
    return found


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _nested_models(arg)]


class ServedJsonSchema(GenerateJsonSchema):
    """Decimals are written as JSON numbers (services serialise them so), not strings."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        number: dict[str, Any] = {"type": "number"}
        for key, target in (
            ("gt", "exclusiveMinimum"),
            ("ge", "minimum"),
            ("lt", "exclusiveMaximum"),
            ("le", "maximum"),
            ("multiple_of", "multipleOf"),
        ):
            if schema.get(key) is not None:
                number[target] = float(schema[key])  # type: ignore[literal-required]
        return number
