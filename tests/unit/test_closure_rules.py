"""A closure request's forms and a closure's id (domain/catalogue.py)."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.catalogue import (
    MAX_CLOSURE_DAYS,
    Closure,
    NewClosure,
    closure_day,
    closure_id,
)


def test_a_single_day_needs_a_reason() -> None:
    closure = NewClosure.model_validate({"date": "2026-12-24", "reason": "Réveillon"})
    assert closure.is_single and closure.date == dt.date(2026, 12, 24)
    with pytest.raises(ValidationError, match="reason is required"):
        NewClosure.model_validate({"date": "2026-12-24"})


def test_a_range_is_read_from_its_from_and_to() -> None:
    closure = NewClosure.model_validate(
        {"from": "2026-12-24", "to": "2026-12-26", "reason": "Fêtes"}
    )
    assert not closure.is_single
    assert (closure.from_, closure.to) == (dt.date(2026, 12, 24), dt.date(2026, 12, 26))


def test_public_holidays_need_no_reason() -> None:
    assert NewClosure.model_validate({"public_holidays": 2027}).public_holidays == 2027


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"reason": "x"}, "give either date"),
        ({"date": "2026-12-24", "public_holidays": 2027, "reason": "x"}, "give either date"),
        ({"from": "2026-12-24", "reason": "x"}, "needs both from and to"),
        ({"to": "2026-12-24", "reason": "x"}, "needs both from and to"),
        ({"from": "2026-12-26", "to": "2026-12-24", "reason": "x"}, "not be before from"),
        (
            {"from": "2026-01-01", "to": "2027-01-02", "reason": "x"},
            f"at most {MAX_CLOSURE_DAYS} days",
        ),
        ({"public_holidays": 1999}, "greater than or equal to 2000"),
    ],
)
def test_a_closure_in_no_single_form_is_refused(body: dict[str, Any], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        NewClosure.model_validate(body)


def test_a_range_of_the_longest_length_is_accepted() -> None:
    last = dt.date(2026, 1, 1) + dt.timedelta(days=MAX_CLOSURE_DAYS - 1)
    closure = NewClosure.model_validate(
        {"from": "2026-01-01", "to": last.isoformat(), "reason": "Travaux"}
    )
    assert closure.to == last


def test_a_closure_id_names_its_day_and_back() -> None:
    assert closure_id(dt.date(2027, 5, 8)) == "clo_20270508"
    assert closure_day("clo_20270508") == dt.date(2027, 5, 8)


@pytest.mark.parametrize(
    "text",
    [
        "clo_2027058",
        "clo_20271308",
        "xyz_20270508",
        "clo_20270230",
        "clo_\u0662\u0660\u0662\u0667\u0660\u0665\u0660\u0668",  # Arabic-Indic digits
    ],
)
def test_an_id_naming_no_day_names_none(text: str) -> None:
    assert closure_day(text) is None


def test_a_closure_stored_before_ids_existed_gets_its_days_id() -> None:
    closure = Closure(
        relay_id="r_1",
        date=dt.date(2026, 12, 24),
        reason="Réveillon",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert closure.id == "clo_20261224"
