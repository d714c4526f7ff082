"""Methods a route does not have (HEAD, TRACE...), If-Match on an unknown id, and the
Bearer challenge of a 401 (HTTP, chalice test client, moto)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import Settings
from tests.conftest import make_settings
from tests.integration.test_companies import company_body
from tests.support.api import Api, assert_problem

SITE = "https://www.relais.test"
CHALLENGE = 'Bearer realm="relais"'


@pytest.fixture
def settings(auth_keys: tuple[Path, Path]) -> Settings:
    return make_settings(auth_keys[1], ALLOWED_ORIGINS=SITE)


def allowed(answer: Any) -> list[str]:
    return [m.strip() for m in answer.headers["Allow"].split(",")]


# -- HEAD ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/health", "/v1/relays"])
def test_head_is_answered_or_refused_with_a_method_not_allowed_problem(api: Api, path: str) -> None:
    # API.md: "a known route with a method it does not have → 405 `method_not_allowed`
    # with an `Allow` header"; RFC 9110 §9.3.2: HEAD is GET without the content.
    answer = api.request("HEAD", path)
    if answer.status == 200:
        return
    assert_problem(answer, 405, "method_not_allowed")
    assert "PUT" not in allowed(answer) and "DELETE" not in allowed(answer)


@pytest.mark.parametrize(
    "path", ["/v1/health", "/v1/relays", "/v1/relays/{relay}/resources/{pool}"]
)
def test_head_of_a_get_route_answers_as_its_get_without_a_body(
    api: Api, network: dict[str, str], path: str
) -> None:
    path = path.format(**network)
    get, head = api.get(path), api.request("HEAD", path)
    assert (head.status, head.body) == (200, b"")
    assert get.status == 200 and get.body
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers.get("ETag") == get.headers.get("ETag")
    assert head.headers["X-Request-Id"]


def test_head_keeps_the_checks_of_its_get(api: Api) -> None:
    unauthenticated = api.request("HEAD", "/v1/bookings")
    assert (unauthenticated.status, unauthenticated.body) == (401, b"")
    assert unauthenticated.headers["WWW-Authenticate"] == CHALLENGE
    unknown = api.request("HEAD", "/v1/relays/rly_doesnotexist")
    assert (unknown.status, unknown.body) == (404, b"")


def test_head_of_a_path_without_get_is_a_method_not_allowed_problem(api: Api) -> None:
    answer = api.request("HEAD", "/v1/bookings/bk_1/cancel")
    assert_problem(answer, 405, "method_not_allowed")
    assert allowed(answer) == ["POST", "OPTIONS"]


# -- methods no route has ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PURGE"])
@pytest.mark.parametrize("with_token", [False, True])
def test_a_method_no_route_has_is_our_405_problem(
    api: Api, member: str, method: str, with_token: bool
) -> None:
    answer = api.request(method, "/v1/health", token=member if with_token else None)
    assert_problem(answer, 405, "method_not_allowed")
    assert allowed(answer) == ["GET", "OPTIONS"]


def test_a_405_to_an_allowed_origin_carries_cors(api: Api) -> None:
    answer = api.request("TRACE", "/v1/bookings/bk_1/cancel", headers={"Origin": SITE})
    assert_problem(answer, 405, "method_not_allowed")
    assert answer.headers["Access-Control-Allow-Origin"] == SITE
    assert allowed(answer) == ["POST", "OPTIONS"]


@pytest.mark.parametrize(
    "path", ["/v1/health", "/v1/bookings", "/v1/relays/{relay}", "/v1/bookings/bk_1/cancel"]
)
def test_allow_names_only_methods_that_do_not_answer_405(
    api: Api, member: str, network: dict[str, str], path: str
) -> None:
    path = path.format(**network)
    answer = api.request("TRACE", path, token=member)
    assert_problem(answer, 405, "method_not_allowed")
    for method in allowed(answer):
        assert api.request(method, path, token=member).status != 405, (method, path)


# -- If-Match on an unknown id ---------------------------------------------------------------

UNKNOWN_IDS = [
    "/v1/operators/op_doesnotexist",
    "/v1/products/prd_doesnotexist",
    "/v1/companies/cmp_doesnotexist",
    "/v1/relays/{relay}/resources/res_doesnotexist",
    "/v1/relays/rly_doesnotexist",
]


@pytest.mark.parametrize("path", UNKNOWN_IDS)
@pytest.mark.parametrize("if_match", [None, '"7"', "garbage"])
def test_patch_of_an_unknown_id_is_404_whatever_its_if_match(
    api: Api, admin: str, network: dict[str, str], path: str, if_match: str | None
) -> None:
    # API.md: "An unknown id in a path or in a body → 404 `not_found`", before If-Match.
    headers = {} if if_match is None else {"If-Match": if_match}
    answer = api.request(
        "PATCH", path.format(**network), {"name": "X"}, token=admin, headers=headers
    )
    assert_problem(answer, 404, "not_found")


def test_a_resource_of_another_relay_is_404_before_if_match(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    answer = api.request(
        "PATCH", f"/v1/relays/rly_other/resources/{network['pool']}", {"name": "X"}, token=admin
    )
    assert_problem(answer, 404, "not_found")


@pytest.mark.parametrize("path", UNKNOWN_IDS[:4])
def test_patch_by_a_non_admin_is_403_before_404_and_428(
    api: Api, member: str, network: dict[str, str], path: str
) -> None:
    answer = api.request("PATCH", path.format(**network), {"name": "X"}, token=member)
    assert_problem(answer, 403, "forbidden")


def test_patch_of_a_known_id_still_needs_if_match(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    company = api.post("/v1/companies", company_body(network["operator"]), token=admin).json
    product = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000},
            "operator_id": network["operator"],
            "credits": 10,
            "validity_days": 365,
        },
        token=admin,
    ).json
    for path in (
        f"/v1/operators/{network['operator']}",
        f"/v1/products/{product['id']}",
        f"/v1/companies/{company['id']}",
        f"/v1/relays/{network['relay']}/resources/{network['pool']}",
    ):
        missing = api.request("PATCH", path, {"name": "X"}, token=admin)
        assert_problem(missing, 428, "precondition_required")
        stale = api.request("PATCH", path, {"name": "X"}, token=admin, headers={"If-Match": '"9"'})
        assert_problem(stale, 412, "precondition_failed")
        current = api.request(
            "PATCH", path, {"name": "Y"}, token=admin, headers={"If-Match": '"1"'}
        )
        assert current.status == 200, (path, current.json)
        assert (current.json["version"], current.headers["ETag"]) == (2, '"2"')


def test_an_if_match_list_matches_if_any_tag_is_the_current_version(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    """RFC 9110 13.1.1: any of the listed (strong) tags."""
    path = f"/v1/operators/{network['operator']}"
    answer = api.request(
        "PATCH", path, {"name": "Liste"}, token=admin, headers={"If-Match": 'W/"1", "7", "1",'}
    )
    assert (answer.status, answer.json["version"]) == (200, 2), answer.json


@pytest.mark.parametrize("header", ['W/"1"', '"1", *', "*", '"1'])
def test_an_if_match_with_a_tag_naming_no_version_is_a_412(
    api: Api, admin: str, network: dict[str, str], header: str
) -> None:
    path = f"/v1/operators/{network['operator']}"
    answer = api.request("PATCH", path, {"name": "X"}, token=admin, headers={"If-Match": header})
    assert_problem(answer, 412, "precondition_failed")
    assert api.get(path, token=admin).json["version"] == 1


# -- 401 -------------------------------------------------------------------------------------


def test_401_carries_a_bearer_challenge(api: Api) -> None:
    # RFC 9110 §15.5.2: a 401 MUST send WWW-Authenticate; tokens are `Bearer <JWT>`.
    answer = api.get("/v1/bookings")
    assert_problem(answer, 401, "unauthenticated")
    assert answer.headers["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize("authorization", ["Basic bWVtYmVyOnNlY3JldA==", "Bearer", "bearer "])
def test_401_without_a_bearer_token_names_no_error(api: Api, authorization: str) -> None:
    answer = api.get("/v1/bookings", headers={"Authorization": authorization})
    assert_problem(answer, 401, "unauthenticated")
    assert answer.headers["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c"])
def test_401_for_a_refused_token_says_invalid_token(api: Api, token: str) -> None:
    # RFC 6750 §3.1: a token that is malformed, expired or otherwise invalid.
    answer = api.get("/v1/bookings", headers={"Authorization": f"Bearer {token}"})
    assert_problem(answer, 401, "unauthenticated")
    assert answer.headers["WWW-Authenticate"] == f'{CHALLENGE}, error="invalid_token"'


def test_a_browser_may_read_the_challenge(api: Api) -> None:
    answer = api.get("/v1/bookings", headers={"Origin": SITE})
    assert_problem(answer, 401, "unauthenticated")
    exposed = {h.strip() for h in answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert "WWW-Authenticate" in exposed
