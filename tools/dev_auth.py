"""Development identity provider: one RSA key pair, its JWKS, and RS256 tokens.

The app verifies tokens against `AUTH_JWKS_FILE`; `make run` points it at the JWKS made
here and prints tokens minted with the matching private key. Nothing runs at import.

    python -m tools.dev_auth --sub demo-member --groups admin --groups manager:r_123
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PRIVATE_KEY_FILE = "private_key.pem"
JWKS_FILE = "jwks.json"
DEFAULT_ISSUER = "https://auth.relais.local"
DEFAULT_AUDIENCE = "relais-api"
DEFAULT_TTL_SECONDS = 86400 * 30


def default_keys_dir() -> Path:
    """`$RELAIS_LOCAL_DIR/dev-keys` (default `.local/dev-keys` in the repo)."""
    local = Path(os.environ.get("RELAIS_LOCAL_DIR", ".local"))
    if not local.is_absolute():
        local = Path(__file__).resolve().parents[1] / local
    return local / "dev-keys"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _load_private_key(private_key_pem_path: Path | str) -> rsa.RSAPrivateKey:
    """The key of the file as it is now: parsing a PEM checks the RSA key (~40 ms), so a
    key is parsed once per file version (path, size, modification time)."""
    path = Path(private_key_pem_path).resolve()
    stat = path.stat()
    return _parse_private_key(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _parse_private_key(path: Path, size: int, mtime_ns: int) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{path} is not an RSA private key")
    return key


def public_jwk(private_key_pem_path: Path | str) -> dict[str, str]:
    """The public JWK, with `kid` = its RFC 7638 thumbprint (stable for the key)."""
    numbers = _load_private_key(private_key_pem_path).public_key().public_numbers()
    jwk = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def _write_once(path: Path, content: bytes, mode: int) -> None:
    """Create `path` atomically unless it exists (two racing processes keep one key)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        with contextlib.suppress(FileExistsError):  # the other process's key wins
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def ensure_dev_keys(directory: Path) -> tuple[Path, Path]:
    """(private key PEM, jwks.json) under `directory`, created once and then reused."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, jwks_path = directory / PRIVATE_KEY_FILE, directory / JWKS_FILE
    if not private_path.is_file():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_once(private_path, pem, 0o600)
    jwks = {"keys": [public_jwk(private_path)]}
    if not jwks_path.is_file() or json.loads(jwks_path.read_text()) != jwks:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{JWKS_FILE}-")
        with os.fdopen(fd, "w") as handle:
            json.dump(jwks, handle, indent=2)
        os.chmod(tmp, 0o644)
        os.replace(tmp, jwks_path)
    return private_path, jwks_path


def mint_token(
    private_key_pem_path: Path | str,
    *,
    sub: str,
    email: str | None = None,
    name: str | None = None,
    groups: Sequence[str] = (),
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    kid: str | None = None,
    now: int | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """An RS256 JWT as the app expects it (`cognito:groups`, `kid` header)."""
    issued_at = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "sub": sub,
        "email": email if email is not None else f"{sub}@example.org",
        "name": name if name is not None else sub,
        "cognito:groups": list(groups),
        "iss": issuer,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        **(extra_claims or {}),
    }
    key_id = kid if kid is not None else public_jwk(private_key_pem_path)["kid"]
    key = _load_private_key(private_key_pem_path)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": key_id})


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.dev_auth", description=__doc__)
    parser.add_argument("--sub", required=True, help="member id, e.g. demo-member")
    parser.add_argument("--email")
    parser.add_argument("--name")
    parser.add_argument(
        "--groups",
        action="append",
        default=[],
        help="admin, accountant or manager:<relay_id>; repeat or comma-separate",
    )
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="seconds")
    parser.add_argument("--keys-dir", type=Path, default=None, help="default .local/dev-keys")
    parser.add_argument("--issuer", default=os.environ.get("AUTH_ISSUER", DEFAULT_ISSUER))
    parser.add_argument("--audience", default=os.environ.get("AUTH_AUDIENCE", DEFAULT_AUDIENCE))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    private_path, _ = ensure_dev_keys(args.keys_dir or default_keys_dir())
    groups = [group.strip() for item in args.groups for group in item.split(",") if group.strip()]
    token = mint_token(
        private_path,
        sub=args.sub,
        email=args.email,
        name=args.name,
        groups=groups,
        issuer=args.issuer,
        audience=args.audience,
        ttl_seconds=args.ttl,
    )
    print(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
