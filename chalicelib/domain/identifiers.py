"""French company identifiers (SIREN, SIRET), EU VAT numbers, and our own resource ids.

SIREN, SIRET and VAT numbers are checked with python-stdnum (`stdnum.fr.siren`,
`stdnum.fr.siret`, `stdnum.eu.vat`: the French key of an FR number, each other EU
country's own rules). Pure apart from ``new_id``, which draws from ``secrets``.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as NumberInvalid
from stdnum.fr import siren as fr_siren
from stdnum.fr import siret as fr_siret

# La Poste's establishments share one SIREN and are too many for the Luhn check digit;
# INSEE numbers them so that the digit sum is a multiple of 5 instead.
LA_POSTE_SIREN = "356000000"
ID_LENGTH = 20

_SIREN_RE = re.compile(r"[0-9]{9}")
_SIRET_RE = re.compile(r"[0-9]{14}")
_PREFIX_RE = re.compile(r"[a-z][a-z0-9]*")
# 13 random bytes = 104 bits, enough for 20 base32 characters (100 bits).
_RANDOM_BYTES = 13
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648's alphabet, lowercase
# Random bytes come from the OS 4 KiB at a time rather than one system call per id
# (5–9 µs each on the bench's VM); each byte is used once, and a forked child starts
# with an empty pool, so it never draws its parent's bytes.
_POOL_BYTES = 4096
_pool = bytearray()
_pool_lock = threading.Lock()


# The country codes an invoice may carry: EN 16931's code list for BR-CL-14 (ISO 3166-1
# alpha-2, plus XI for Northern Ireland and 1A for Kosovo), as in the CEN validation
# artefacts 1.3.16 (adapters/einvoicing_rules/EN16931-CII-validation-1.3.16.xslt).
_COUNTRY_CODES = """
    1A AD AE AF AG AI AL AM AN AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BL BJ
    BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX
    CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH
    GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC
    MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL
    NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB
    SC SD SE SG SH SI SJ SK SL SM SN SO SR ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN
    TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XI YE YT ZA ZM ZW"""
COUNTRY_CODES = frozenset(_COUNTRY_CODES.split())


def country_code(value: str) -> str:
    """An address's country, upper-cased: a code of COUNTRY_CODES, else ValueError."""
    code = value.strip().upper()
    if code not in COUNTRY_CODES:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, such as FR")
    return code


def is_valid_siren(s: str) -> bool:
    """Nine ASCII digits passing the Luhn check (`stdnum.fr.siren`).

    La Poste's own SIREN (356000000) passes Luhn as it is; its exception only concerns
    its SIRETs (see ``is_valid_siret``).
    """
    if not isinstance(s, str) or not _SIREN_RE.fullmatch(s):
        return False
    return bool(fr_siren.is_valid(s))


def is_valid_siret(s: str) -> bool:
    """Fourteen ASCII digits: a valid SIREN, then an establishment number, Luhn overall
    (`stdnum.fr.siret`; La Poste's offices use the digit-sum rule instead)."""
    if not isinstance(s, str) or not _SIRET_RE.fullmatch(s):
        return False
    return is_valid_siren(s[:9]) and bool(fr_siret.is_valid(s))


VAT_NUMBER_RULE = (
    "An EU VAT number with its country prefix (FR, DE, ... EL for Greece, XI for Northern"
    " Ireland), valid by that country's rules as python-stdnum checks them (for FR: the"
    " two-character key computed from the SIREN, and the SIREN itself); spaces, dots and"
    " dashes are ignored and the number is stored compact and uppercase. An FR number must"
    " carry the SIREN given with it."
)


def vat_number(value: str, siren: str | None = None) -> str:
    """The compact form of an EU VAT number (`VAT_NUMBER_RULE`), or ValueError saying why.

    With `siren`, a French number must be the one of that SIREN (FR + key + SIREN)."""
    try:
        compact = str(eu_vat.validate(value))
    except NumberInvalid as exc:
        raise ValueError(
            "is not a valid EU VAT number (country prefix, then the number with its key)"
        ) from exc
    if siren and compact.startswith("FR") and compact[4:] != siren:
        raise ValueError(f"is not the VAT number of SIREN {siren} (FRxx{siren})")
    return compact


def siren_in_fr_vat_number(vat: str | None) -> str | None:
    """The SIREN a compact French VAT number carries (FR, a key, the SIREN), or None: for
    another country's, and for Monaco's (FR, a key, 000 and a number that names no SIREN,
    as python-stdnum's `fr.tva` notes)."""
    if not vat or not vat.startswith("FR") or len(vat) != 13:
        return None
    siren = vat[4:]
    if siren.startswith("000") or not is_valid_siren(siren):
        return None
    return siren


def fr_vat_number(siren: str) -> str:
    """The French VAT number of a SIREN: FR, its two-digit key, the SIREN."""
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


def _base32(raw: bytes) -> str:
    """The first 20 characters of `raw` (13 bytes or more) in lowercase base32: what
    `base64.b32encode(raw).lower()[:20]` gives, read straight off its first 100 bits."""
    bits = int.from_bytes(raw[:_RANDOM_BYTES], "big") >> 4
    return "".join([_BASE32[(bits >> shift) & 31] for shift in range(95, -1, -5)])


def _random_bytes(count: int) -> bytes:
    """`count` bytes from the OS's cryptographic generator (`secrets`), drawn in bulk."""
    with _pool_lock:
        if len(_pool) < count:
            _pool[:] = secrets.token_bytes(_POOL_BYTES)
        drawn = bytes(_pool[-count:])
        del _pool[-count:]
    return drawn


os.register_at_fork(after_in_child=_pool.clear)


def _check_prefix(prefix: str) -> None:
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"id prefix must be lowercase letters and digits, got {prefix!r}")


def new_id(prefix: str) -> str:
    """``bk_`` + 20 random lowercase base32 characters (a-z, 2-7)."""
    _check_prefix(prefix)
    return f"{prefix}_{_base32(_random_bytes(_RANDOM_BYTES))}"


def derived_id(prefix: str, *parts: str) -> str:
    """A deterministic id: the same parts always give the same id (e.g. per idempotency key).

    Parts are joined with the ASCII unit separator, so a part that itself contains
    "\\x1f" could collide with another split of the same text; callers pass ids and
    validated keys.
    """
    _check_prefix(prefix)
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return f"{prefix}_{_base32(digest)}"


# Controls and spaces, for a pattern's character class. Spelled out rather than `\s`, whose
# meaning differs between regex engines (Python's and pydantic's count U+001C-U+001F and
# U+0085 as spaces, JSON Schema's ECMA-262 does not): the server and the OpenAPI document
# must accept the same strings.
SPACES_AND_CONTROLS = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# Any text without "@", controls, spaces or the other specials of RFC 5322 (a comma or a
# semicolon would make one address two in a mail header), "@", then a dot in the domain.
_NOT_IN_EMAIL = rf'[^@{SPACES_AND_CONTROLS},;:<>()\[\]\\"]'
EMAIL_PATTERN = rf"^{_NOT_IN_EMAIL}+@{_NOT_IN_EMAIL}+\.{_NOT_IN_EMAIL}+$"
