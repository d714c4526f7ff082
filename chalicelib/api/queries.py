"""Query-string parameters shared by several routes: paging, date spans, operator."""

from __future__ import annotations

from datetime import date
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Query(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)


class PageQuery(Query):
    """`limit` (1–100, default 50) and the `cursor` of the previous page."""

    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = None


class DateSpan(Query):
    """`from` and `to`, inclusive dates."""

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("`from` must not be after `to`.")
        return self


class OperatorQuery(Query):
    operator_id: str = Field(min_length=1)
