"""Who may call what: bearer tokens (RS256 against the JWKS), roles, and never leaking
another caller's bookings (HTTP, chalice test client, moto)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.support.api import (
    AUDIENCE,
    ISSUER,
    Api,
    add_relay,
    assert_problem,
    book,
    booking_body,
    free_seats,
    operator_body,
    relay_body,
    resource_body,
)
from tools.dev_auth import ensure_dev_keys, mint_token

# A route that needs a token and answers 200 to any member.
PROTECTED = "/v1/bookings"
DAY = "2026-12-02"


def token_with(private_key: Path, **claims: object) -> str:
    values: dict[str, object] = {"sub": "member-1", "issuer": ISSUER, "audience": AUDIENCE}
    return mint_token(private_key, **{**values, **claims})  # type: ignore[arg-type]


# -- 401: no valid token ---------------------------------------------------------------------


def test_a_valid_member_token_opens_a_protected_route(api: Api, member: str) -> None:
    assert api.get(PROTECTED, token=member).status == 200


def test_missing_token_is_unauthenticated(api: Api, ctx: object) -> None:
    assert_problem(api.get(PROTECTED), 401, "unauthenticated")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic bWVtYmVyOnNlY3JldA==",
        "Bearer",
        "Bearer ",
        "Token abc.def.ghi",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "bearer",
    ],
)
def test_malformed_authorization_header_is_unauthenticated(
    api: Api, ctx: object, authorization: str
) -> None:
    answer = api.get(PROTECTED, headers={"Authorization": authorization})
    assert_problem(answer, 401, "unauthenticated")


def test_expired_token_is_unauthenticated(api: Api, auth_keys: tuple[Path, Path]) -> None:
    # GIVEN a token that expired an hour ago (well past any clock-skew leeway)
    expired = token_with(auth_keys[0], now=int(time.time()) - 7200, ttl_seconds=60)
    # THEN it opens nothing
    assert_problem(api.get(PROTECTED, token=expired), 401, "unauthenticated")


def test_token_from_another_issuer_is_unauthenticated(
    api: Api, auth_keys: tuple[Path, Path]
) -> None:
    forged = token_with(auth_keys[0], issuer="https://evil.example")
    assert_problem(api.get(PROTECTED, token=forged), 401, "unauthenticated")


def test_token_for_another_audience_is_unauthenticated(
    api: Api, auth_keys: tuple[Path, Path]
) -> None:
    forged = token_with(auth_keys[0], audience="someone-else")
    assert_problem(api.get(PROTECTED, token=forged), 401, "unauthenticated")


def test_token_signed_by_another_key_is_unauthenticated(api: Api, tmp_path: Path) -> None:
    other_private, _ = ensure_dev_keys(tmp_path / "other")
    forged = token_with(other_private)
    assert_problem(api.get(PROTECTED, token=forged), 401, "unauthenticated")


def test_token_signed_by_another_key_under_our_kid_is_unauthenticated(
    api: Api, auth_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    # GIVEN a token whose header names our key but whose signature is another key's
    our_kid = jwt.get_unverified_header(token_with(auth_keys[0]))["kid"]
    other_private, _ = ensure_dev_keys(tmp_path / "other")
    forged = token_with(other_private, kid=our_kid)
    assert_problem(api.get(PROTECTED, token=forged), 401, "unauthenticated")


def test_unsigned_token_is_unauthenticated(api: Api, ctx: object) -> None:
    claims = {"sub": "member-1", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600}
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert_problem(api.get(PROTECTED, token=unsigned), 401, "unauthenticated")


def test_token_not_yet_valid_is_unauthenticated(api: Api, auth_keys: tuple[Path, Path]) -> None:
    # GIVEN a token whose nbf is an hour ahead (well past the 30 s clock-skew leeway)
    future = int(time.time()) + 3600
    early = token_with(auth_keys[0], extra_claims={"nbf": future})
    assert_problem(api.get(PROTECTED, token=early), 401, "unauthenticated")


def test_token_issued_in_the_future_is_unauthenticated(
    api: Api, auth_keys: tuple[Path, Path]
) -> None:
    early = token_with(auth_keys[0], now=int(time.time()) + 3600)
    assert_problem(api.get(PROTECTED, token=early), 401, "unauthenticated")


def test_token_under_an_unknown_kid_is_unauthenticated(
    api: Api, auth_keys: tuple[Path, Path]
) -> None:
    unknown = token_with(auth_keys[0], kid="no-such-key")
    assert_problem(api.get(PROTECTED, token=unknown), 401, "unauthenticated")


def test_hs256_token_signed_with_our_public_key_is_unauthenticated(
    api: Api, auth_keys: tuple[Path, Path]
) -> None:
    # GIVEN the classic key-confusion forgery: HMAC-SHA256 keyed with the public key's PEM
    import base64
    import hashlib
    import hmac
    import json

    from cryptography.hazmat.primitives import serialization

    from tools.dev_auth import public_jwk

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    private = serialization.load_pem_private_key(auth_keys[0].read_bytes(), password=None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = public_jwk(auth_keys[0])["kid"]
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    claims = {"sub": "member-1", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600}
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{b64(signature)}"
    assert_problem(api.get(PROTECTED, token=forged), 401, "unauthenticated")


@pytest.mark.parametrize(
    "claims",
    [
        {"cognito:groups": "admin"},  # an array, per the contract: a string is no group list
        {"cognito:groups": ["admin", 1]},
        {"email": ["a@example.org"]},
        {"name": {"first": "Ada"}},
    ],
    ids=["groups-string", "groups-not-strings", "email-list", "name-object"],
)
def test_a_claim_of_the_wrong_type_makes_the_token_invalid(
    api: Api, auth_keys: tuple[Path, Path], claims: dict[str, Any]
) -> None:
    odd = token_with(auth_keys[0], extra_claims=claims)
    assert_problem(api.get("/v1/operators", token=odd), 401, "unauthenticated")


@pytest.mark.parametrize("sub", ["m" * 256, "member\x1f1", "line\nbreak"])
def test_a_sub_unfit_to_key_a_member_makes_the_token_invalid(
    api: Api, auth_keys: tuple[Path, Path], sub: str
) -> None:
    """Too long for a DynamoDB key, or with control characters (ids derive from it)."""
    assert_problem(
        api.get("/v1/me", token=token_with(auth_keys[0], sub=sub)), 401, "unauthenticated"
    )


# -- 403: valid but not allowed ----------------------------------------------------------------


def test_member_cannot_create_an_operator(api: Api, member: str) -> None:
    answer = api.post("/v1/operators", operator_body(), token=member)
    assert_problem(answer, 403, "forbidden")
    assert api.get("/v1/operators", token=api.token("admin-1", "admin")).json["items"] == []


ADMIN_ONLY = [  # (method, path, body) with {operator} and {relay} filled in
    ("POST", "/v1/operators", operator_body(siren="552100554", invoice_prefix="XX")),
    ("GET", "/v1/operators", None),
    ("GET", "/v1/operators/{operator}", None),
    ("POST", "/v1/relays", "relay"),
    ("POST", "/v1/relays/{relay}/resources", resource_body()),
    ("POST", "/v1/products", "product"),
    ("POST", "/v1/admin/jobs/expire_holds", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY, ids=lambda v: str(v)[:40])
def test_member_is_forbidden_the_admin_routes(
    api: Api, member: str, network: dict[str, str], method: str, path: str, body: Any
) -> None:
    # GIVEN a valid body, so that only the caller's role can be wrong
    if body == "relay":
        body = relay_body(network["operator"], name="Refused")
    elif body == "product":
        body = {
            "kind": "membership",
            "name": "Refused",
            "operator_id": network["operator"],
            "price": {"amount": 9900},
            "period": "month",
        }
    answer = api.request(method, path.format(**network), body, token=member)
    assert_problem(answer, 403, "forbidden")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/operators"),
        ("POST", "/v1/companies"),
        ("POST", "/v1/companies/cmp_x/members"),
        ("POST", "/v1/invoices/inv_x/payments"),
        ("POST", "/v1/relays/{relay}/closures"),
        ("PATCH", "/v1/relays/{relay}"),
    ],
)
def test_member_is_forbidden_a_staff_route_even_with_an_invalid_body(
    api: Api, member: str, network: dict[str, str], method: str, path: str
) -> None:
    """The role is checked before the body: a member learns nothing of its schema."""
    answer = api.request(method, path.format(**network), {}, token=member)
    assert_problem(answer, 403, "forbidden")


# -- 404: other people's bookings -------------------------------------------------------------


def test_a_member_cannot_see_another_members_booking(
    api: Api, member: str, network: dict[str, str]
) -> None:
    # GIVEN member-2's booking
    booking = api.post(
        "/v1/bookings", booking_body(network["pool"]), token=api.token("member-2")
    ).json["booking"]
    # WHEN member-1 asks for it THEN it does not exist for them
    answer = api.get(f"/v1/bookings/{booking['id']}", token=member)
    assert_problem(answer, 404, "not_found")


def test_a_member_cannot_cancel_another_members_booking(
    api: Api, member: str, network: dict[str, str]
) -> None:
    other = api.token("member-2")
    booking = api.post("/v1/bookings", booking_body(network["pool"]), token=other).json["booking"]
    answer = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)
    assert_problem(answer, 404, "not_found")
    assert api.get(f"/v1/bookings/{booking['id']}", token=other).json["status"] == "held"


@pytest.fixture
def manager(api: Api, network: dict[str, str]) -> str:
    return api.token("manager-1", f"manager:{network['relay']}")


@pytest.fixture
def two_relays(api: Api, admin: str, network: dict[str, str]) -> dict[str, str]:
    """Relay A (the network's) with its manager, and relay B managed by nobody here."""
    other = add_relay(api, admin, network["operator"], name="Gare de Fontainebleau")
    return {
        "a": network["relay"],
        "a_pool": network["pool"],
        "b": other["relay"],
        "b_pool": other["pool"],
        "manager_a": api.token("manager-a", f"manager:{network['relay']}"),
    }


def test_manager_sees_a_booking_at_their_relay(api: Api, member: str, two_relays: dict) -> None:
    booking = api.post("/v1/bookings", booking_body(two_relays["a_pool"]), token=member).json[
        "booking"
    ]
    answer = api.get(f"/v1/bookings/{booking['id']}", token=two_relays["manager_a"])
    assert answer.status == 200, answer.json
    assert answer.json["id"] == booking["id"]


def test_manager_cancels_a_booking_at_their_relay(api: Api, member: str, two_relays: dict) -> None:
    booking = api.post("/v1/bookings", booking_body(two_relays["a_pool"]), token=member).json[
        "booking"
    ]
    answer = api.post(f"/v1/bookings/{booking['id']}/cancel", token=two_relays["manager_a"])
    assert answer.status == 200, answer.json
    assert answer.json["booking"]["status"] == "cancelled"


def test_manager_of_one_relay_cannot_see_a_booking_at_another(
    api: Api, member: str, two_relays: dict
) -> None:
    booking = api.post("/v1/bookings", booking_body(two_relays["b_pool"]), token=member).json[
        "booking"
    ]
    answer = api.get(f"/v1/bookings/{booking['id']}", token=two_relays["manager_a"])
    assert_problem(answer, 404, "not_found")


def test_manager_of_one_relay_cannot_cancel_a_booking_at_another(
    api: Api, member: str, two_relays: dict
) -> None:
    booking = api.post("/v1/bookings", booking_body(two_relays["b_pool"]), token=member).json[
        "booking"
    ]
    answer = api.post(f"/v1/bookings/{booking['id']}/cancel", token=two_relays["manager_a"])
    assert_problem(answer, 404, "not_found")
    assert api.get(f"/v1/bookings/{booking['id']}", token=member).json["status"] == "held"


# -- payment rights ----------------------------------------------------------------------------


def test_member_cannot_book_for_free(api: Api, member: str, network: dict[str, str]) -> None:
    assert_problem(book(api, member, network["pool"], payment="none"), 403, "forbidden")
    assert set(free_seats(api, network["relay"], network["pool"], DAY).values()) == {3}


@pytest.mark.parametrize("who", ["manager", "admin"])
def test_manager_or_admin_books_for_free_confirmed(
    api: Api, network: dict[str, str], who: str, request: pytest.FixtureRequest
) -> None:
    answer = book(api, request.getfixturevalue(who), network["pool"], payment="none")
    assert answer.status == 201, answer.json
    assert answer.json["booking"]["status"] == "confirmed"
    assert answer.json["payment"] is None


def test_member_without_a_company_cannot_book_on_company_account(
    api: Api, member: str, network: dict[str, str]
) -> None:
    assert_problem(book(api, member, network["pool"], payment="company"), 403, "forbidden")


def test_manager_of_another_relay_cannot_book_here_for_free(api: Api, two_relays: dict) -> None:
    answer = book(api, two_relays["manager_a"], two_relays["b_pool"], payment="none")
    assert_problem(answer, 403, "forbidden")


def test_manager_of_another_relay_cannot_close_this_one(api: Api, two_relays: dict) -> None:
    answer = api.post(
        f"/v1/relays/{two_relays['b']}/closures",
        {"date": DAY, "reason": "x"},
        token=two_relays["manager_a"],
    )
    assert_problem(answer, 403, "forbidden")


# -- public routes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/health",
        "/v1/relays",
        "/v1/relays/{relay}",
        "/v1/availability?date=2026-12-02",
        "/v1/availability?date=2026-12-02&relay_id={relay}",
        "/v1/products",
        "/v1/openapi.json",
    ],
)
def test_public_route_needs_no_token(api: Api, network: dict[str, str], path: str) -> None:
    answer = api.get(path.format(relay=network["relay"]))
    assert answer.status == 200, answer.body[:300]


def test_health_reports_ok_and_a_version(api: Api, ctx: object) -> None:
    answer = api.get("/v1/health")
    assert answer.json["status"] == "ok"
    assert isinstance(answer.json["version"], str) and answer.json["version"]
