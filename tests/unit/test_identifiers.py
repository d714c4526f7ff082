from __future__ import annotations

import re

import pytest

from chalicelib.domain.identifiers import (
    derived_id,
    fr_vat_number,
    is_valid_siren,
    is_valid_siret,
    new_id,
    siren_in_fr_vat_number,
    vat_number,
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


def test_new_ids_spell_their_random_bytes_in_base32() -> None:
    # The encoding is read off the bits: the same as the standard library's, for any bytes.
    import base64
    import os

    from chalicelib.domain.identifiers import _base32

    for raw in [bytes(13), b"\xff" * 13, *(os.urandom(13) for _ in range(200)), os.urandom(32)]:
        assert _base32(raw) == base64.b32encode(raw).decode().lower()[:20]


def test_random_bytes_are_drawn_in_bulk_and_each_used_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.domain import identifiers

    draws: list[int] = []
    real = identifiers.secrets.token_bytes

    def counted(count: int) -> bytes:
        draws.append(count)
        return real(count)

    monkeypatch.setattr(identifiers.secrets, "token_bytes", counted)
    identifiers._pool.clear()
    chunks = [identifiers._random_bytes(13) for _ in range(identifiers._POOL_BYTES // 13 + 1)]

    assert draws == [identifiers._POOL_BYTES, identifiers._POOL_BYTES]  # one per 315 ids
    pooled = b"".join(chunks[:-1])
    assert len(pooled) == 315 * 13
    assert len({pooled[i : i + 13] for i in range(0, len(pooled), 13)}) == 315


def test_a_forked_child_never_draws_its_parents_bytes() -> None:
    import os

    from chalicelib.domain import identifiers

    identifiers._random_bytes(13)  # the parent's pool is full
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: was its pool emptied at the fork?
        os.write(writer, b"empty" if not identifiers._pool else b"kept")
        os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    assert os.read(reader, 10) == b"empty"
    os.close(reader)


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


# -- VAT numbers (python-stdnum) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("FR44732829320", "FR44732829320"),
        ("fr 44 732 829 320", "FR44732829320"),  # compact, uppercase
        ("FR96552100554", "FR96552100554"),
        ("DE136695976", "DE136695976"),
        ("BE0403019261", "BE0403019261"),
        ("NL004495445B01", "NL004495445B01"),
        ("EL094014201", "EL094014201"),  # Greece
    ],
)
def test_a_valid_eu_vat_number_is_kept_compact(given: str, stored: str) -> None:
    assert vat_number(given) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "FR40552100554",  # the key does not match the SIREN
        "FR12552100554",
        "FR4473282932",  # too short
        "44732829320",  # no country prefix
        "US123456789",  # not an EU country
        "DE136695977",  # German check digit
        "FRxx",
        "",
    ],
)
def test_a_vat_number_failing_its_countrys_rules_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        vat_number(bad)


def test_an_fr_vat_number_must_carry_the_siren_given_with_it() -> None:
    assert vat_number("FR44732829320", "732829320") == "FR44732829320"
    assert vat_number("DE136695976", "732829320") == "DE136695976"  # not French: no SIREN
    with pytest.raises(ValueError, match="SIREN 552100554"):
        vat_number("FR44732829320", "552100554")


def test_the_fr_vat_number_of_a_siren_passes_the_check() -> None:
    for siren in ("732829320", "552100554", "912345675", "356000000"):
        assert vat_number(fr_vat_number(siren), siren) == fr_vat_number(siren)


@pytest.mark.parametrize(
    ("vat", "siren"),
    [
        ("FR96552100554", "552100554"),
        ("FR0G552100554", "552100554"),  # a key with letters (older numbers)
        ("FR48000000109", None),  # Monaco: FR, a key, 000 and no SIREN
        ("FR96552100555", None),  # the SIREN's check digit is wrong
        ("DE136695976", None),
        ("", None),
        (None, None),
    ],
)
def test_the_siren_of_a_french_vat_number(vat: str | None, siren: str | None) -> None:
    assert siren_in_fr_vat_number(vat) == siren
