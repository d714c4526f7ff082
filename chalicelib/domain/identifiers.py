"""French company identifiers (SIREN, SIRET) and our own resource ids.

Pure apart from ``new_id``, which draws from ``secrets``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

# La Poste's establishments share one SIREN and are too many for the Luhn check digit;
# INSEE numbers them so that the digit sum is a multiple of 5 instead.
LA_POSTE_SIREN = "356000000"
ID_LENGTH = 20

_SIREN_RE = re.compile(r"[0-9]{9}")
_SIRET_RE = re.compile(r"[0-9]{14}")
_PREFIX_RE = re.compile(r"[a-z][a-z0-9]*")
# 13 random bytes = 104 bits, enough for 20 base32 characters (100 bits).
_RANDOM_BYTES = 13


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def is_valid_siren(s: str) -> bool:
    """Nine ASCII digits passing the Luhn check.

    La Poste's own SIREN (356000000) passes Luhn as it is; its exception only concerns
    its SIRETs (see ``is_valid_siret``).
    """
    if not isinstance(s, str) or not _SIREN_RE.fullmatch(s):
        return False
    return _luhn_ok(s)


def is_valid_siret(s: str) -> bool:
    """Fourteen ASCII digits: a valid SIREN, then an establishment number, Luhn overall."""
    if not isinstance(s, str) or not _SIRET_RE.fullmatch(s):
        return False
    if not is_valid_siren(s[:9]):
        return False
    if s.startswith(LA_POSTE_SIREN):
        # The head office (35600000000048) is Luhn-valid; the other offices use the sum rule.
        return _luhn_ok(s) or sum(int(c) for c in s) % 5 == 0
    return _luhn_ok(s)


def _base32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").lower()[:ID_LENGTH]


def _check_prefix(prefix: str) -> None:
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"id prefix must be lowercase letters and digits, got {prefix!r}")


def new_id(prefix: str) -> str:
    """``bk_`` + 20 random lowercase base32 characters (a-z, 2-7)."""
    _check_prefix(prefix)
    return f"{prefix}_{_base32(secrets.token_bytes(_RANDOM_BYTES))}"


def derived_id(prefix: str, *parts: str) -> str:
    """A deterministic id: the same parts always give the same id (e.g. per idempotency key).

    Parts are joined with the ASCII unit separator, so a part that itself contains
    "\\x1f" could collide with another split of the same text; callers pass ids and
    validated keys.
    """
    _check_prefix(prefix)
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return f"{prefix}_{_base32(digest)}"


# Any text without "@", controls or spaces, "@", then a dot in the domain. Spelled out rather
# than `\s`, whose meaning differs between regex engines (the server's, JSON Schema's).
_NOT_IN_EMAIL = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
EMAIL_PATTERN = rf"^{_NOT_IN_EMAIL}+@{_NOT_IN_EMAIL}+\.{_NOT_IN_EMAIL}+$"
