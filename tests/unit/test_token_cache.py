"""The verifier remembers a checked token for a while, never past its expiry, and never
trusts a token it has not checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib import auth
from chalicelib.auth import Principal, TokenVerifier
from chalicelib.config import Settings
from chalicelib.errors import Unauthenticated
from tools.dev_auth import ensure_dev_keys, mint_token

ISSUER, AUDIENCE = "https://auth.test", "relais-test"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return ensure_dev_keys(tmp_path)


def verifier(jwks: Path) -> TokenVerifier:
    settings = Settings(
        RELAIS_TABLE="t",
        AUTH_JWKS_FILE=str(jwks),
        AUTH_ISSUER=ISSUER,
        AUTH_AUDIENCE=AUDIENCE,
    )
    return TokenVerifier(settings)


def token(private: Path, now: int, ttl: int = 600, sub: str = "alice") -> str:
    return mint_token(
        private,
        sub=sub,
        groups=["admin"],
        issuer=ISSUER,
        audience=AUDIENCE,
        ttl_seconds=ttl,
        now=now,
    )


def _now() -> int:
    import time

    return int(time.time())


def counting_checks(v: TokenVerifier, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens `v` checks from here on (signature and claims), still checked."""
    checked: list[str] = []
    real = v._check

    def check(t: str) -> tuple[Principal, float]:
        checked.append(t)
        return real(t)

    monkeypatch.setattr(v, "_check", check)
    return checked


def test_a_checked_token_is_answered_from_memory(
    keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, jwks = keys
    v = verifier(jwks)
    bearer = f"Bearer {token(private, _now())}"
    first = v.verify(bearer)
    checked = counting_checks(v, monkeypatch)
    assert v.verify(bearer) == first
    assert first.sub == "alice" and first.is_admin
    assert checked == []


def test_a_remembered_token_is_checked_again_once_expired(
    keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, jwks = keys
    v = verifier(jwks)
    now = _now()
    bearer = f"Bearer {token(private, now, ttl=60)}"
    v.verify(bearer)
    checked = counting_checks(v, monkeypatch)
    monkeypatch.setattr(auth.time, "time", lambda: now + 60 + auth.LEEWAY_SECONDS + 1)
    v.verify(bearer)  # PyJWT's own clock still finds it valid: only ours moved
    assert len(checked) == 1


def test_memory_is_checked_again_after_a_while(
    keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, jwks = keys
    v = verifier(jwks)
    now = _now()
    bearer = f"Bearer {token(private, now, ttl=3600)}"
    v.verify(bearer)
    checked = counting_checks(v, monkeypatch)
    monkeypatch.setattr(auth.time, "time", lambda: now + auth.VERIFIED_SECONDS + 60)
    v.verify(bearer)
    assert len(checked) == 1


def test_an_expired_token_is_refused(keys: tuple[Path, Path]) -> None:
    private, jwks = keys
    v = verifier(jwks)
    with pytest.raises(Unauthenticated):
        v.verify(f"Bearer {token(private, _now() - 3600, ttl=60)}")


def test_an_unchecked_token_is_never_trusted(keys: tuple[Path, Path], tmp_path: Path) -> None:
    private, jwks = keys
    other_private, _ = ensure_dev_keys(tmp_path / "other")
    v = verifier(jwks)
    v.verify(f"Bearer {token(private, _now())}")
    with pytest.raises(Unauthenticated):
        v.verify(f"Bearer {token(other_private, _now(), sub='mallory')}")
