"""SIRENs, SIRETs and VAT numbers are checked with python-stdnum wherever they enter:
operators, companies, members' billing profiles (created or edited) → 422 naming the field;
so are the countries of their addresses (they end up on invoices, EN 16931 BR-CL-14)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api, assert_problem, operator_body, relay_body

ADDRESS = {"line1": "12 rue de la Gare", "postcode": "77300", "city": "Fontainebleau"}


def fields(problem: dict[str, Any]) -> list[str]:
    return [str(e["field"]) for e in problem["errors"]]


def company_body(operator_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Atelier Brie SAS",
        "siren": "552100554",
        "billing_address": {**ADDRESS, "country": "FR"},
        "billing_email": "compta@atelier-brie.fr",
        "operator_id": operator_id,
        **overrides,
    }


@pytest.mark.parametrize(
    "vat",
    [
        "FR40732829320",  # a wrong key
        "FR96552100554",  # valid, but another SIREN's
        "44732829320",  # no country prefix
        "DE136695977",  # a German check digit
    ],
)
def test_an_operator_with_a_bad_vat_number_is_refused(api: Api, admin: str, vat: str) -> None:
    answer = api.post("/v1/operators", operator_body(vat_number=vat), token=admin)
    assert fields(assert_problem(answer, 422, "validation_error")) == ["vat_number"]


def test_an_operators_vat_number_is_stored_compact(api: Api, admin: str) -> None:
    answer = api.post("/v1/operators", operator_body(vat_number="fr 44 732 829 320"), token=admin)
    assert (answer.status, answer.json["vat_number"]) == (201, "FR44732829320")


def test_an_operator_with_a_bad_siren_or_siret_is_refused(api: Api, admin: str) -> None:
    bad_siren = api.post("/v1/operators", operator_body(siren="732829321"), token=admin)
    assert "siren" in fields(assert_problem(bad_siren, 422, "validation_error"))
    bad_siret = api.post("/v1/operators", operator_body(siret="73282932000075"), token=admin)
    assert fields(assert_problem(bad_siret, 422, "validation_error")) == ["siret"]


def test_editing_an_operators_vat_number_checks_it(api: Api, admin: str) -> None:
    created = api.post("/v1/operators", operator_body(), token=admin).json
    path, version = f"/v1/operators/{created['id']}", f'"{created["version"]}"'

    def patch(body: dict[str, Any]) -> Any:
        return api.request("PATCH", path, body, token=admin, headers={"If-Match": version})

    assert fields(assert_problem(patch({"vat_number": "FR00732829320"}), 422, "validation_error"))
    other = assert_problem(patch({"vat_number": "FR96552100554"}), 422, "validation_error")
    assert fields(other) == ["vat_number"] and "732829320" in other["detail"]
    answer = patch({"vat_number": "BE 0403.019.261"})
    assert (answer.status, answer.json["vat_number"]) == (200, "BE0403019261")


def test_a_company_with_a_bad_vat_number_is_refused(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    body = company_body(network["operator"], vat_number="FR44732829320")  # not its SIREN's
    answer = api.post("/v1/companies", body, token=admin)
    assert fields(assert_problem(answer, 422, "validation_error")) == ["vat_number"]
    created = api.post(
        "/v1/companies", company_body(network["operator"], vat_number="FR96552100554"), token=admin
    )
    assert created.status == 201, created.json
    patched = api.request(
        "PATCH",
        f"/v1/companies/{created.json['id']}",
        {"vat_number": "FR12552100554"},
        token=admin,
        headers={"If-Match": f'"{created.json["version"]}"'},
    )
    assert fields(assert_problem(patched, 422, "validation_error")) == ["vat_number"]


def test_a_members_business_details_are_checked(api: Api, member: str) -> None:
    profile = {"name": "Hugo Bernard", "email": "hugo@studio.example"}
    bad_siren = api.request("PUT", "/v1/me", {**profile, "siren": "732829321"}, token=member)
    assert fields(assert_problem(bad_siren, 422, "validation_error")) == ["siren"]
    bad_vat = {**profile, "siren": "732829320", "vat_number": "FR96552100554"}
    answer = api.request("PUT", "/v1/me", bad_vat, token=member)
    assert fields(assert_problem(answer, 422, "validation_error")) == ["vat_number"]
    good = {**profile, "siren": "732829320", "vat_number": "FR 44732829320"}
    answer = api.request("PUT", "/v1/me", good, token=member)
    assert (answer.status, answer.json["vat_number"]) == (200, "FR44732829320")


# -- countries -------------------------------------------------------------------------------


def test_an_address_country_is_an_iso_code_stored_upper_case(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    profile = {
        "name": "Claire Martin",
        "email": "claire@example.org",
        "billing_address": {**ADDRESS, "country": "fr"},
    }
    saved = api.request("PUT", "/v1/me", profile, token=member)
    assert saved.status == 200, saved.json
    assert saved.json["billing_address"]["country"] == "FR"
    unknown = {**profile, "billing_address": {**ADDRESS, "country": "ZZ"}}
    refused = api.request("PUT", "/v1/me", unknown, token=member)
    assert fields(assert_problem(refused, 422, "validation_error")) == ["billing_address.country"]
    edit = api.request(
        "PATCH",
        f"/v1/operators/{network['operator']}",
        {"address": {**ADDRESS, "country": "F1"}},
        token=admin,
        headers={"If-Match": '"1"'},
    )
    assert fields(assert_problem(edit, 422, "validation_error")) == ["address.country"]
    company = api.post(
        "/v1/companies",
        company_body(network["operator"], billing_address={**ADDRESS, "country": "XX"}),
        token=admin,
    )
    assert fields(assert_problem(company, 422, "validation_error")) == ["billing_address.country"]


def test_an_unknown_key_inside_a_value_is_named_not_dropped(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    """A typo in a rate unit would silently make the resource unbookable by the hour."""
    path = f"/v1/relays/{network['relay']}/resources/{network['pool']}"
    body = {"rates": {"day": 1500, "half_day": 900, "hours": 500}}
    answer = api.request("PATCH", path, body, token=admin, headers={"If-Match": '"1"'})
    assert fields(assert_problem(answer, 422, "validation_error")) == ["rates.hours"]
    assert api.get(path).json["rates"]["hour"] == 400  # nothing changed
    relay = api.post(
        "/v1/relays",
        {**relay_body(network["operator"]), "address": {**ADDRESS, "street": "x"}},
        token=admin,
    )
    assert fields(assert_problem(relay, 422, "validation_error")) == ["address.street"]


PROFILE_FIELDS = [
    "name",
    "email",
    "billing_address",
    "company_name",
    "siren",
    "vat_number",
    "language",
    "erased_at",
]


def test_the_profile_answers_every_field_read_after_read(api: Api, member: str) -> None:
    """A first read (made from the token), a second read, a PUT and the read after it all
    answer the same fields, null when unset (the store leaves null attributes out)."""
    first, second = (api.get("/v1/me", token=member).json for _ in range(2))
    assert list(first) == list(second) == PROFILE_FIELDS and first == second
    assert first["billing_address"] is None
    put = api.request("PUT", "/v1/me", {"name": "Claire", "email": "c@example.org"}, token=member)
    assert put.json == api.get("/v1/me", token=member).json
    assert list(put.json) == PROFILE_FIELDS and put.json["billing_address"] is None


def test_the_profiles_address_answers_every_field_after_a_put_and_a_get(
    api: Api, member: str
) -> None:
    """`line2` left out: null in the PUT's answer and in the GET's alike (found by review
    R5: the GET left the key out)."""
    address = {"line1": "2 rue du Moulin", "postcode": "77000", "city": "Melun"}
    body = {"name": "Claire", "email": "c@example.org", "billing_address": address}
    put = api.request("PUT", "/v1/me", body, token=member)
    assert put.status == 200, put.json
    assert put.json == api.get("/v1/me", token=member).json
    assert put.json["billing_address"] == {**address, "line2": None, "country": "FR"}


@pytest.mark.parametrize(
    ("vat", "siren"),
    [
        ("FR96552100554", "552100554"),
        ("fr 96 552.100-554", "552100554"),
        ("FR48000000109", None),  # Monaco: a valid FR VAT number naming no SIREN
        ("DE136695976", None),
    ],
)
def test_a_profile_takes_its_siren_from_a_french_vat_number_only(
    api: Api, member: str, vat: str, siren: str | None
) -> None:
    body = {"name": "Claire", "email": "c@example.org", "vat_number": vat}
    put = api.request("PUT", "/v1/me", body, token=member)
    assert put.status == 200, put.json
    assert put.json["siren"] == siren
    assert api.get("/v1/me", token=member).json == put.json


def test_a_billing_profiles_blank_optional_fields_are_left_out(api: Api, member: str) -> None:
    """What a form sends for the fields left empty: no empty company name on invoices."""
    profile = {
        "name": "Claire Martin",
        "email": "claire@example.org",
        "company_name": "",
        "siren": " ",
        "vat_number": "",
    }
    saved = api.request("PUT", "/v1/me", profile, token=member)
    assert saved.status == 200, saved.json
    assert [saved.json[k] for k in ("company_name", "siren", "vat_number")] == [None] * 3


@pytest.mark.parametrize("odd", ["\n", "\ufffe", "\uffff"])
@pytest.mark.parametrize("field", ["name", "company_name"])
def test_a_billing_profile_name_with_a_line_break_is_refused(
    api: Api, member: str, field: str, odd: str
) -> None:
    """A name goes onto invoices and into mails: one line, no control character, and no
    U+FFFE / U+FFFF (not XML characters: its invoice's CII and PDF could not be made)."""
    profile = {"name": "Claire Martin", "email": "claire@example.org", field: f"Claire{odd}Martin"}
    answer = api.request("PUT", "/v1/me", profile, token=member)
    assert fields(assert_problem(answer, 422, "validation_error")) == [field]
