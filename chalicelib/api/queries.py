"""Query-string parameters shared by several routes: paging, date spans, operator, month.

A query string is text: every parameter is parsed from its exact written form, so `to=0`
is not a date (pydantic alone would read it as a Unix time) and `limit=1.5` or `limit=`
is not an integer. Each constraint is stated in the model, hence in the OpenAPI document.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from chalicelib.errors import ValidationFailed

YEAR = r"(20[0-9]{2}|2100)"  # documents, spans and reports live between 2000 and 2100
MONTH_PATTERN = rf"^{YEAR}-(0[1-9]|1[0-2])$"
DATE_PATTERN = rf"^{YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
INTEGER_PATTERN = re.compile(r"[+-]?[0-9]+")
_LAT = r"[+-]?0*(([0-9]|[1-8][0-9])(\.[0-9]+)?|90(\.0+)?)"
_LON = r"[+-]?0*(([0-9]|[1-9][0-9]|1[0-7][0-9])(\.[0-9]+)?|180(\.0+)?)"
# "lat,lon" in decimal degrees, latitude -90 to 90, longitude -180 to 180 (no exponent).
NEAR_PATTERN = rf"^{_LAT} *, *{_LON}$"
_DATE_RE = re.compile(DATE_PATTERN)


def _query_date(value: Any) -> Any:
    """Only `YYYY-MM-DD` (years 2000 to 2100) is a date here."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD, between 2000-01-01 and 2100-12-31")
    return value  # pydantic then rejects an impossible day (2026-02-30)


def _query_int(value: Any) -> Any:
    """Digits only: `1.0`, ` 1`, `1_0` or `true` are not integers in a query string."""
    if isinstance(value, str) and not INTEGER_PATTERN.fullmatch(value):
        raise ValueError("must be an integer written in digits")
    return value


QueryDate = Annotated[
    date,
    BeforeValidator(_query_date),
    Field(json_schema_extra={"pattern": DATE_PATTERN, "examples": ["2026-12-01"]}),
]
QueryInt = Annotated[int, BeforeValidator(_query_int)]
Month = Annotated[
    str,
    Field(
        pattern=MONTH_PATTERN,
        description="A month, `YYYY-MM`, from 2000-01 to 2100-12.",
        examples=["2026-11"],
    ),
]


Near = Annotated[
    str,
    Field(
        pattern=NEAR_PATTERN,
        max_length=100,
        description='A position, "lat,lon" in decimal degrees (WGS 84): nearest relays first, '
        "each with its `distance_km`.",
        examples=["48.5421,2.6554"],
    ),
]


class Query(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)


class PageQuery(Query):
    """`limit` (1–100, default 50) and the `cursor` of the previous page."""

    limit: QueryInt = Field(
        default=50, ge=1, le=100, description="Items per page, 1 to 100.", examples=[20]
    )
    cursor: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The `next_cursor` of the previous page of this very listing (opaque); "
        "any other value is answered 422.",
    )


class DateSpan(Query):
    """`from` and `to`, inclusive dates; `from` must not be after `to` (else 422)."""

    from_: QueryDate | None = Field(
        default=None, alias="from", description="First day, inclusive (`YYYY-MM-DD`)."
    )
    to: QueryDate | None = Field(
        default=None, description="Last day, inclusive (`YYYY-MM-DD`), not before `from`."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.from_ and self.to and self.from_ > self.to:
            # Raised as is (not a ValueError): the problem then names the field `from`.
            raise ValidationFailed("`from` must not be after `to`.", field="from")
        return self


class OperatorQuery(Query):
    operator_id: str = Field(
        min_length=1,
        max_length=100,
        description="The operator (legal entity) whose books are read.",
        examples=["op_xbbuwbj7hc5rku7yue5a"],
    )


class MonthQuery(OperatorQuery):
    month: Month
