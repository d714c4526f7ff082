from __future__ import annotations

import re

import pytest

from chalicelib.domain.identifiers import (
    derived_id,
    is_valid_siren,
    is_valid_siret,
    new_id,
)

ID_RE = re.compile(r"bk_[a-z2-7]{20}")


@pytest.mark.parametrize("siren", ["732829320", "552100554", "356000000"])
def test_luhn_valid_siren_is_accepted(siren: str) -> None:
    assert is_valid_siren(siren)


@pytest.mark.parametrize(
    "siren",
    [
        "732829321",
        "12345678",
        "abcdefghi",
        "",
        "7328293200",
        " 73282932",
        "\uff17\uff13\uff12\uff18\uff12\uff19\uff13\uff12\uff10",
    ],
)
def test_malformed_or_luhn_invalid_siren_is_refused(siren: str) -> None:
    assert not is_valid_siren(siren)


def test_luhn_valid_siret_of_a_valid_siren_is_accepted() -> None:
    assert is_valid_siret("73282932000074")


@pytest.mark.parametrize(
    "siret", ["73282932000075", "7328293200007", "732829320000745", "7328293200007a"]
)
def test_malformed_or_luhn_invalid_siret_is_refused(siret: str) -> None:
    assert not is_valid_siret(siret)


def test_siret_must_start_with_a_valid_siren() -> None:
    # GIVEN a 14-digit Luhn-valid number whose first nine digits fail the SIREN check
    siret = "73282932100008"
    assert not is_valid_siren(siret[:9])

    assert not is_valid_siret(siret)


def test_la_poste_siret_uses_the_digit_sum_rule() -> None:
    # digit sum 45: a multiple of 5 although the Luhn check fails
    assert is_valid_siret("35600000049837")
    assert not is_valid_siret("35600000049838")


def test_la_poste_head_office_siret_is_luhn_valid() -> None:
    assert is_valid_siret("35600000000048")


def test_new_id_is_prefix_and_twenty_base32_characters() -> None:
    assert ID_RE.fullmatch(new_id("bk"))


def test_new_ids_differ() -> None:
    assert len({new_id("bk") for _ in range(100)}) == 100


def test_derived_id_is_deterministic() -> None:
    assert derived_id("bk", "mem_1", "key-1") == derived_id("bk", "mem_1", "key-1")
    assert ID_RE.fullmatch(derived_id("bk", "mem_1", "key-1"))


def test_derived_id_depends_on_every_part_and_on_where_parts_split() -> None:
    ids = {
        derived_id("bk", "mem_1", "key-1"),
        derived_id("bk", "mem_2", "key-1"),
        derived_id("bk", "mem_1", "key-2"),
        derived_id("bk", "mem_1k", "ey-1"),
    }

    assert len(ids) == 4


def test_derived_id_matches_the_documented_recipe() -> None:
    # sha256("a\x1fb") in base32, first 20 characters: pinned so stored ids stay derivable
    import base64
    import hashlib

    digest = hashlib.sha256(b"a\x1fb").digest()
    expected = "bk_" + base64.b32encode(digest).decode().lower()[:20]

    assert derived_id("bk", "a", "b") == expected


@pytest.mark.parametrize("prefix", ["", "BK", "bk_", "b k"])
def test_bad_id_prefix_is_a_programming_error(prefix: str) -> None:
    with pytest.raises(ValueError):
        new_id(prefix)
