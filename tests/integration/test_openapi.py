"""GET /v1/openapi.json: a valid OpenAPI 3.1 document describing every route the app
serves, its parameters, bodies, responses and the problem shape (chalice test client)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from chalicelib.api.endpoint import ROUTES
from chalicelib.domain.catalogue import single_line_pattern
from tests.support.api import Api

METHODS = {"get", "put", "post", "delete", "patch"}
PUBLIC = {  # API.md: the routes that need no token
    ("get", "/v1/health"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/relays"),
    ("get", "/v1/relays/{relay_id}"),
    ("get", "/v1/availability"),
    ("get", "/v1/products"),
    ("post", "/v1/webhooks/stripe"),
    ("post", "/v1/einvoicing/platforms/{operator_id}/webhook"),  # signed by the platform
    ("get", "/v1/relays/{relay_id}/closures"),
    ("get", "/v1/relays/{relay_id}/resources/{resource_id}"),  # not in API.md: its ETag
    ("get", "/v1/products/{product_id}"),  # not in API.md: its ETag, withdrawn ones too
}
# The iCalendar feed URL is public too: its secret is in the path, as chalicelib/api/calendars
# designs it (`/v1/calendar/{feed}`); `/v1/me/calendar-feed` hands it out and needs a token.
FEED = re.compile(r"^/v1/calendar/\{\w+\}(\.ics)?$")


def is_public(key: tuple[str, str]) -> bool:
    return key in PUBLIC or (key[0] == "get" and bool(FEED.match(key[1])))


CREATING_POSTS = {  # path: fields its body must describe
    "/v1/operators": {"name", "siren", "vat_regime", "address", "invoice_prefix", "email"},
    "/v1/relays": {"name", "operator_id", "category", "location", "opening_hours"},
    "/v1/relays/{relay_id}/resources": {"name", "kind", "capacity", "rates", "vat_rate"},
    "/v1/relays/{relay_id}/closures": {"date", "reason"},
    "/v1/products": {"kind", "name", "price", "operator_id"},
    "/v1/bookings": {"resource_id", "date", "unit", "start", "end", "payment"},
}


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    answer = api.get("/v1/openapi.json")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    return dict(answer.json)


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): op
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def test_document_is_a_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_document_lists_every_route_the_app_serves(document: dict[str, Any]) -> None:
    from app import app
    from chalicelib.api.fallback_routes import contract_routes

    served = {(m.lower(), p) for m, p in contract_routes(app)}
    assert set(operations(document)) == served


def test_document_lists_every_route_of_the_route_table(document: dict[str, Any]) -> None:
    declared = {(spec.method.lower(), spec.path) for spec in ROUTES}
    assert set(operations(document)) == declared


def test_every_path_parameter_is_documented(document: dict[str, Any]) -> None:
    for (method, path), op in operations(document).items():
        documented = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert documented == set(re.findall(r"{(\w+)}", path)), (method, path)


@pytest.mark.parametrize("path", sorted(CREATING_POSTS))
def test_creating_post_documents_its_json_body(document: dict[str, Any], path: str) -> None:
    body = operations(document)[("post", path)]["requestBody"]
    schema = resolve(document, body["content"]["application/json"]["schema"])
    assert CREATING_POSTS[path] <= set(schema["properties"]), (path, schema)


@pytest.mark.parametrize("path", sorted(CREATING_POSTS))
def test_creating_post_documents_the_idempotency_key_and_its_201(
    document: dict[str, Any], path: str
) -> None:
    op = operations(document)[("post", path)]
    headers = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}
    assert headers["Idempotency-Key"]["schema"]["maxLength"] == 255
    assert "201" in op["responses"]


def test_problem_schema_has_the_rfc9457_members(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "code", "errors"}
    error = problem["properties"]["errors"]["items"]
    assert {"field", "message"} <= set(error["properties"])


def test_every_error_response_is_a_problem(document: dict[str, Any]) -> None:
    for key, op in operations(document).items():
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                content = response["content"]
                assert list(content) == ["application/problem+json"], (key, status)
                schema = content["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (key, status)


def test_protected_routes_declare_bearer_auth_and_401(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for key, op in operations(document).items():
        if is_public(key):
            assert not op.get("security"), key
        else:
            assert op["security"] == [{"bearer": []}], key
            assert "401" in op["responses"], key


def test_public_routes_are_exactly_those_of_the_contract(document: dict[str, Any]) -> None:
    ops = operations(document)
    public = {key for key, op in ops.items() if not op.get("security")}
    assert public == {key for key in ops if is_public(key)}
    assert public >= PUBLIC


def test_availability_query_is_documented(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in operations(document)[("get", "/v1/availability")]["parameters"]}
    assert params["date"]["required"] is True
    assert {"relay_id", "kind", "near"} <= set(params)
    assert not any(params[name]["required"] for name in ("relay_id", "kind", "near"))


def test_booking_list_filters_are_documented_by_their_public_names(
    document: dict[str, Any],
) -> None:
    params = {p["name"] for p in operations(document)[("get", "/v1/bookings")]["parameters"]}
    assert {"from", "to", "status", "relay_id", "limit", "cursor"} <= params


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for op in operations(document).values()]
    assert len(ids) == len(set(ids))


def test_every_json_success_response_describes_its_fields(document: dict[str, Any]) -> None:
    bare = []
    for key, op in operations(document).items():
        for status, response in op["responses"].items():
            if status.startswith("2") and "application/json" in response.get("content", {}):
                schema = resolve(document, response["content"]["application/json"]["schema"])
                # a union (one closure, or the closures of a range) describes each branch
                branches = schema.get("anyOf") or schema.get("oneOf") or [schema]
                if any("properties" not in resolve(document, b) for b in branches):
                    bare.append((key, status))
    assert bare == []


# --- Precision: what the document says is what the server does ----------------------------


def schema_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(document["components"]["schemas"][name])


def query_params(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    ops = operations(document)
    return {p["name"]: p for p in ops[(method, path)]["parameters"] if p["in"] == "query"}


def test_product_credits_are_documented_as_the_numbers_served(document: dict[str, Any]) -> None:
    credits = schema_of(document, "Product")["properties"]["credits"]
    assert {"type": "number"} in credits["anyOf"]


def test_the_near_parameter_documents_its_pattern(document: dict[str, Any]) -> None:
    for path in ("/v1/availability", "/v1/relays"):
        near = query_params(document, "get", path)["near"]["schema"]
        assert re.fullmatch(near["pattern"].strip("^$"), "48.54,2.66"), path
        assert not re.fullmatch(near["pattern"].strip("^$"), "91,2.66"), path


def test_months_and_dates_in_queries_are_bounded_to_2000_2100(document: dict[str, Any]) -> None:
    month = query_params(document, "get", "/v1/accounting/vat")["month"]["schema"]["pattern"]
    date = query_params(document, "get", "/v1/bookings")["to"]["schema"]["pattern"]
    assert [bool(re.match(month, m)) for m in ("0000-01", "2026-12")] == [False, True]
    assert re.match(date, "0") is None and re.match(date, "2026-12-01")


def test_a_body_without_required_fields_is_optional(document: dict[str, Any]) -> None:
    ops = operations(document)
    assert ops[("post", "/v1/admin/jobs/{job}")]["requestBody"]["required"] is False
    assert ops[("post", "/v1/bookings")]["requestBody"]["required"] is True


def test_every_operation_has_a_description_a_tag_and_may_answer_503(
    document: dict[str, Any],
) -> None:
    tags = {tag["name"] for tag in document["tags"] if tag["description"]}
    for key, op in operations(document).items():
        assert op["description"] and op["summary"], key
        assert set(op["tags"]) <= tags, key
        assert "503" in op["responses"], key


def test_the_write_routes_may_answer_429_with_retry_after(document: dict[str, Any]) -> None:
    ops = operations(document)
    for path in ("/v1/bookings", "/v1/purchases", "/v1/memberships"):
        assert ops[("post", path)]["responses"]["429"]["headers"]["Retry-After"]["required"]


def test_every_schema_has_a_description_and_a_valid_example(document: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    root = Resource.from_contents({"components": document["components"]}, DRAFT202012)
    registry = Registry().with_resource("urn:doc", root)
    for name, schema in document["components"]["schemas"].items():
        assert schema.get("description"), name
        validator = Draft202012Validator(
            {"$ref": f"urn:doc#/components/schemas/{name}"},
            registry=registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        assert schema["examples"], name
        for example in schema["examples"]:
            assert list(validator.iter_errors(example)) == [], (name, example)


def test_the_problem_schema_requires_exactly_what_a_problem_carries(
    api: Api, document: dict[str, Any]
) -> None:
    answer = api.get("/v1/relays/rly_none")
    assert answer.status == 404
    assert set(document["components"]["schemas"]["Problem"]["required"]) == set(answer.json)


def test_servers_is_the_root_when_served_locally(document: dict[str, Any]) -> None:
    assert document["servers"][0]["url"] == "/"


@pytest.mark.parametrize(
    ("context", "base"),
    [
        ({"path": "/dev/v1/openapi.json", "stage": "dev"}, "/dev"),
        ({"path": "/relais/v1/openapi.json", "stage": "prod"}, "/relais"),
        ({"path": "/v1/openapi.json", "stage": "api"}, "/"),
        ({"stage": "dev"}, "/dev"),
        ({"path": "/a b/v1/openapi.json"}, "/"),
    ],
)
def test_servers_follows_the_stage_path_the_document_was_served_from(
    context: dict[str, Any], base: str
) -> None:
    from chalicelib.api.meta import served_from

    assert served_from(context) == base


def test_links_open_operations_of_the_document_with_their_path_parameter(
    document: dict[str, Any],
) -> None:
    by_id = {op["operationId"]: (path, op) for (_, path), op in operations(document).items()}
    links = [
        link
        for op in operations(document).values()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 10
    for link in links:
        path, _ = by_id[link["operationId"]]
        assert set(link["parameters"]) <= set(re.findall(r"{(\w+)}", path)), link


def test_issued_documents_document_etag_cache_control_and_304(document: dict[str, Any]) -> None:
    ops = operations(document)
    for path in ("/v1/invoices/{invoice_id}", "/v1/invoices/{invoice_id}/pdf"):
        responses = ops[("get", path)]["responses"]
        assert {"ETag", "Cache-Control"} <= set(responses["200"]["headers"]), path
        assert "304" in responses, path
        assert "If-None-Match" in {p["name"] for p in ops[("get", path)]["parameters"]}, path


def test_every_answer_documents_x_request_id(document: dict[str, Any]) -> None:
    for key, op in operations(document).items():
        for status, response in op["responses"].items():
            assert response["headers"]["X-Request-Id"]["required"], (key, status)


def test_every_json_body_of_every_operation_shows_a_valid_example(
    document: dict[str, Any],
) -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    root = Resource.from_contents({"components": document["components"]}, DRAFT202012)
    registry = Registry().with_resource("urn:doc", root)
    for key, op in operations(document).items():
        bodies = [op.get("requestBody", {}), *op["responses"].values()]
        for body in bodies:
            for media, content in body.get("content", {}).items():
                if not media.endswith("json"):
                    continue
                schema = json.loads(
                    json.dumps(content["schema"]).replace('"#/components', '"urn:doc#/components')
                )
                validator = Draft202012Validator(schema, registry=registry)
                assert list(validator.iter_errors(content["example"])) == [], (key, media)


# Class escapes whose meaning differs between the server's regex engines (Python's `re`,
# pydantic's Rust one: Unicode digits and spaces such as U+0660 or U+0085) and JSON Schema's
# ECMA-262 (ASCII digits; no U+001C-U+001F, U+0085 among spaces): a pattern written with
# them lets a client send what the document forbids, or refuses what it allows.
ENGINE_DEPENDENT = re.compile(r"(?<!\\)(\\\\)*\\[dDwWsSb]")


def _patterns(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["pattern"]] if isinstance(value.get("pattern"), str) else []
        return found + [p for v in value.values() for p in _patterns(v)]
    if isinstance(value, list):
        return [p for v in value for p in _patterns(v)]
    return []


def test_no_pattern_of_the_document_depends_on_the_regex_engine(
    document: dict[str, Any],
) -> None:
    patterns = _patterns(document)

    assert len(patterns) > 20
    assert [p for p in patterns if ENGINE_DEPENDENT.search(p)] == []
    assert ENGINE_DEPENDENT.search(r"^\d{4}$") and not ENGINE_DEPENDENT.search(r"^\\d$")


def _strings(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value] if value.get("type") == "string" else []
        return found + [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_a_one_line_text_documents_what_it_keeps_once_stripped(
    document: dict[str, Any],
) -> None:
    # GIVEN the one-line texts of the document (names, address lines, amenities...)
    variants = {
        single_line_pattern(n, m): (n, m) for n in range(0, 3) for m in (None, *range(1, 1001))
    }
    one_line = [s for s in _strings(document) if s.get("pattern") in variants]
    # THEN each pattern asks for as many kept characters as its minimum length, and at
    # most its maximum: a name of blanks only is never schema-valid (it is refused once
    # stripped), a postcode of 12 characters after a blank is (it is taken once stripped);
    # a `maxLength`, which would count the blanks, is left out
    assert len(one_line) > 30
    assert [s for s in one_line if variants[s["pattern"]][0] != s.get("minLength", 0)] == []
    assert [s for s in one_line if "maxLength" in s] == []
    schemas = document["components"]["schemas"]
    amenity = schemas["NewRelay"]["properties"]["amenities"]
    assert amenity["items"]["pattern"] == single_line_pattern(1, 100)
    postcode = schemas["Address"]["properties"]["postcode"]
    assert postcode["pattern"] == single_line_pattern(2, 12)


def test_a_day_in_a_body_documents_its_years(document: dict[str, Any]) -> None:
    # GIVEN the days a body carries (an opening exception's, a closure's)
    schemas = document["components"]["schemas"]
    days = [schemas["OpeningException"]["properties"]["date"]]
    days += [schemas["NewClosure"]["properties"][f]["anyOf"][0] for f in ("date", "from", "to")]
    # THEN each states the years the server takes (2000 to 2100), not only `format: date`
    assert {(d["format"], d["pattern"]) for d in days} == {("date", "^(20[0-9]{2}|2100)-")}


def test_removing_an_operators_own_platform_is_linked_from_setting_it(
    document: dict[str, Any],
) -> None:
    # A new operator has no platform or Chorus Pro account of its own: removing one (404
    # until set) is not a link of its creation, but of setting it.
    ops = operations(document)
    created = ops[("post", "/v1/operators")]["responses"]["201"]["links"]
    assert not [name for name in created if name.startswith("Remove")]
    for path, link in (
        ("/v1/operators/{operator_id}/einvoicing-platform", "RemovePlatform"),
        ("/v1/operators/{operator_id}/chorus-pro", "RemoveChorusPro"),
    ):
        answer = next(iter(ops[("put", path)]["responses"].values()))
        assert answer["links"][link]["operationId"] == ops[("delete", path)]["operationId"]


def test_every_error_example_is_a_problem_of_the_status_it_documents(
    document: dict[str, Any],
) -> None:
    """A 401's example with `status: 422, code: validation_error` would mislead."""
    wrong = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in (operation.get("responses") or {}).items():
                problem = (response.get("content") or {}).get("application/problem+json")
                if status.isdigit() and problem and problem["example"]["status"] != int(status):
                    wrong.append((method, path, status))
                if status == "413" and problem:  # the code the API answers, not another
                    assert problem["example"]["code"] == "too_large"
    assert wrong == []
