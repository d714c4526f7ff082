"""Who is calling: RS256 bearer tokens checked against a JWKS (PyJWT), groups → roles."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    import jwt

    from chalicelib.config import Settings


@dataclass(frozen=True)
class Principal:
    sub: str
    email: str | None = None
    name: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.groups

    @property
    def is_accountant(self) -> bool:
        return "accountant" in self.groups

    @property
    def managed_relays(self) -> frozenset[str]:
        return frozenset(g.split(":", 1)[1] for g in self.groups if g.startswith("manager:"))

    def manages(self, relay_id: str) -> bool:
        return self.is_admin or relay_id in self.managed_relays

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("This action is reserved to administrators.")

    def require_books_access(self) -> None:
        if not (self.is_admin or self.is_accountant):
            raise Forbidden("This action is reserved to accountants and administrators.")

    def require_staff(self) -> None:
        """An administrator or the manager of some relay: checked before a manager's route
        reads its body (a member gets 403, not the body's 422); the route then checks the
        relay (`require_manager_of`)."""
        if not (self.is_admin or self.managed_relays):
            raise Forbidden("This action is reserved to the relay's managers and administrators.")

    def require_reports_access(self) -> None:
        """Administrators, accountants and managers (of their own relays: the route checks
        which): the occupancy figures."""
        if not (self.is_admin or self.is_accountant or self.managed_relays):
            raise Forbidden("This is reserved to administrators, accountants and managers.")

    def require_manager_of(self, relay_id: str) -> None:
        if not self.manages(relay_id):
            raise Forbidden("This action is reserved to the relay's managers and administrators.")


# A token checked once is remembered (its Principal and expiry) for a few minutes: a
# caller's next requests skip the signature and claim checks. Bounded in size and age, so
# a key withdrawn from the key set stops being trusted within VERIFIED_SECONDS.
VERIFIED_SECONDS = 300
VERIFIED_MAX = 2048
LEEWAY_SECONDS = 30
MAX_SUB = 255


class TokenVerifier:
    """Verifies bearer tokens; the key set is loaded on first use, never at import."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwk_client: jwt.PyJWKClient | None = None
        self._key_set: jwt.PyJWKSet | None = None
        # token -> (principal, its exp, when it was verified)
        self._verified: dict[str, tuple[Principal, float, float]] = {}

    def verify(self, authorization: str | None) -> Principal:
        token = _bearer_token(authorization)
        now = time.time()
        known = self._verified.get(token)
        if known is not None:
            principal, expires, verified_at = known
            if now < expires + LEEWAY_SECONDS and now < verified_at + VERIFIED_SECONDS:
                return principal
            self._verified.pop(token, None)  # expired: checked afresh (and refused)
        principal, expires = self._check(token)
        if len(self._verified) >= VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = (principal, expires, now)
        return principal

    def _check(self, token: str) -> tuple[Principal, float]:
        import jwt  # imported on the first request, not at cold start

        try:
            key = self._signing_key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self._settings.auth_audience,
                issuer=self._settings.auth_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"Invalid token: {exc}", token_refused=True) from exc
        return _principal_from_claims(claims), float(claims["exp"])

    def _signing_key(self, token: str) -> Any:
        import jwt

        kid = jwt.get_unverified_header(token).get("kid")
        if self._settings.auth_jwks_url:
            if self._jwk_client is None:
                self._jwk_client = jwt.PyJWKClient(self._settings.auth_jwks_url, lifespan=3600)
            return self._jwk_client.get_signing_key_from_jwt(token).key
        key_set = self._load_key_set()
        for jwk in key_set.keys:
            if kid is None or jwk.key_id == kid:
                return jwk.key
        raise jwt.InvalidKeyError("No key in the key set matches the token's kid.")

    def _load_key_set(self) -> jwt.PyJWKSet:
        if self._key_set is None:
            path = self._settings.auth_jwks_file
            if not path:
                raise Unauthenticated("No key set configured (AUTH_JWKS_FILE or AUTH_JWKS_URL).")
            self._key_set = _key_set_from_file(path)
        return self._key_set


@lru_cache(maxsize=4)
def _key_set_from_file(path: str) -> jwt.PyJWKSet:
    import jwt

    return jwt.PyJWKSet.from_dict(json.loads(Path(path).read_text()))


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("Missing Authorization header.")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'.")
    return token.strip()


def _principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The caller a token names. A claim of the wrong type makes the token invalid (401):
    `cognito:groups` is an array (a bare string is refused, not read as one group), `sub`
    at most MAX_SUB printable characters (it keys the member's items, ids derive from
    it), `email` and `name` strings when present (they go onto invoices)."""
    groups = claims.get("cognito:groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise Unauthenticated("Claim cognito:groups must be a list of strings.", token_refused=True)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB or not sub.isprintable():
        raise Unauthenticated(
            f"Claim sub must be 1 to {MAX_SUB} printable characters.", token_refused=True
        )
    for name in ("email", "name"):
        if claims.get(name) is not None and not isinstance(claims[name], str):
            raise Unauthenticated(f"Claim {name} must be a string.", token_refused=True)
    return Principal(
        sub=sub,
        email=claims.get("email"),
        name=claims.get("name"),
        groups=frozenset(groups),
    )
