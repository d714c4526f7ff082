"""Editing rules (domain/editing.py, domain/audit.py): If-Match versions, applying a patch
as a whole, what changed, and what the audit trail keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, Field

from chalicelib.domain import audit
from chalicelib.domain.editing import (
    apply_patch,
    changed_fields,
    check_if_match,
    check_version,
    etag,
    expected_version,
    mask_iban,
    sent_fields,
)
from chalicelib.errors import PreconditionFailed, PreconditionRequired, ValidationFailed


class Room(BaseModel):
    name: str = Field(min_length=1)
    capacity: int = Field(ge=1)
    iban: str | None = None
    version: int = 1


class RoomPatch(BaseModel):
    name: str | None = None
    capacity: int | None = None


def test_an_etag_is_the_quoted_version_and_if_match_reads_it_back() -> None:
    assert etag(7) == '"7"'
    assert expected_version(etag(7)) == {7}


@pytest.mark.parametrize("header", ['"3"', "3", '  "3"  '])
def test_if_match_accepts_the_version_quoted_or_bare(header: str) -> None:
    assert expected_version(header) == {3}


@pytest.mark.parametrize(
    "header", ['"7", "3"', '"3","7"', ' "7" , 3 ', 'W/"3", "7", 3', '"7",, 3,']
)
def test_an_if_match_list_matches_when_any_of_its_tags_is_the_current_version(
    header: str,
) -> None:
    """RFC 9110 13.1.1: a list matches if any of its (strong) tags does."""
    assert expected_version(header) == {3, 7}
    assert check_if_match(3, header) == 3
    with pytest.raises(PreconditionFailed, match="version 4, not 3, 7"):
        check_if_match(4, header)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_a_missing_if_match_is_a_428(header: str | None) -> None:
    with pytest.raises(PreconditionRequired) as raised:
        expected_version(header)
    assert raised.value.status == 428


# '"٣"': an Arabic-Indic 3, a digit to `\d` and int(), not a version we ever wrote;
# 'W/"3"': If-Match compares strongly (RFC 9110 13.1.1), a weak tag never matches
@pytest.mark.parametrize(
    "header",
    [
        "*",
        '"abc"',
        '"1234567890123456789"',
        '"\u0663"',
        'W/"3"',
        '"3", *',
        '"3',
        '3"',
    ],
)
def test_an_if_match_naming_no_version_is_a_412(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        expected_version(header)


def test_a_stale_version_is_a_412_naming_the_current_one() -> None:
    assert check_version(4, 4) == 4
    assert check_if_match(4, 4) == 4
    with pytest.raises(PreconditionFailed, match="version 5, not 4"):
        check_version(5, 4)


def test_sent_fields_are_only_those_the_body_named() -> None:
    assert sent_fields(RoomPatch.model_validate({"capacity": 3})) == {"capacity": 3}
    assert sent_fields(RoomPatch.model_validate({"name": None})) == {"name": None}
    assert sent_fields(RoomPatch.model_validate({})) == {}


def test_a_patch_is_applied_and_validated_as_a_whole_keeping_the_version() -> None:
    room = Room(name="Salle Seine", capacity=4, version=3)
    edited = apply_patch(room, {"capacity": 6})
    assert (edited.name, edited.capacity, edited.version) == ("Salle Seine", 6, 3)
    assert room.capacity == 4  # the original is untouched


class Priced(BaseModel):
    name: str
    price: dict[str, Any]  # as read back from DynamoDB: Decimals
    version: int = 1


def test_a_patch_leaves_the_numbers_it_does_not_touch_numbers() -> None:
    """`model_dump(mode="json")` writes a Decimal as a string: an edit of the name made
    the price `{"amount": "12000"}` and counted it as changed."""
    product = Priced(name="Dix", price={"amount": Decimal("12000"), "vat_rate": "20.00"})
    edited = apply_patch(product, {"name": "Dix jours"})
    assert edited.price == {"amount": 12000, "vat_rate": "20.00"}
    assert type(edited.price["amount"]) is int
    assert changed_fields(product, edited) == {"name": ["Dix", "Dix jours"]}


def test_a_patch_breaking_the_object_is_a_422_naming_each_field() -> None:
    with pytest.raises(ValidationFailed) as raised:
        apply_patch(Room(name="Salle", capacity=2), {"name": "", "capacity": 0})
    fields = [e["field"] for e in raised.value.errors or []]
    assert fields == ["name", "capacity"]
    assert "name:" in raised.value.detail and "capacity:" in raised.value.detail


def test_changed_fields_lists_before_and_after_but_never_the_version() -> None:
    before = Room(name="Salle", capacity=2, version=1)
    after = Room(name="Salle", capacity=5, version=2)
    assert changed_fields(before, after) == {"capacity": [2, 5]}
    assert changed_fields(before, before) == {}


@pytest.mark.parametrize(
    ("iban", "kept"),
    [
        ("FR76 3000 6000 0112 3456 7890 189", "FR76" + "*" * 19 + "0189"),
        ("FR7630006000011234567890189", "FR76" + "*" * 19 + "0189"),
        ("", ""),
        (None, None),
    ],
)
def test_an_iban_keeps_country_check_digits_and_last_four(iban: str | None, kept: Any) -> None:
    assert mask_iban(iban) == kept


def test_the_audit_trail_masks_ibans_on_both_sides_and_keeps_other_values() -> None:
    changes = {"iban": ["FR7630006000011234567890189", None], "name": ["A", "B"]}
    assert audit.safe_changes(changes) == {
        "iban": ["FR76" + "*" * 19 + "0189", None],
        "name": ["A", "B"],
    }


def test_a_creation_is_every_set_field_from_nothing_without_identity_fields() -> None:
    fields = {
        "id": "op_1",
        "version": 1,
        "created_at": "2026-12-01T08:00:00+00:00",
        "name": "Coop",
        "bic": None,
        "iban": "FR7630006000011234567890189",
    }
    assert audit.created(fields) == {
        "name": [None, "Coop"],
        "iban": [None, "FR76" + "*" * 19 + "0189"],
    }


def test_an_audit_entry_is_frozen() -> None:
    entry = audit.AuditEntry(
        id="au_1",
        at=datetime(2026, 12, 1, tzinfo=UTC),
        actor="admin-1",
        roles=["admin"],
        action="update",
        entity="relay",
        entity_id="r_1",
    )
    assert entry.changes == {}
    with pytest.raises(ValueError):
        entry.actor = "someone-else"  # type: ignore[misc]
