"""Records stored before a rule tightened still load: the rule holds for what enters,
never for what was accepted then (a record that no longer reads would stop every route
that loads it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.clock import FixedClock
from chalicelib.services.context import Context
from tests.integration.test_catalogue_edits_api import patch
from tests.integration.test_companies import company_body
from tests.support.api import Api, assert_problem


def _stored(ctx: Context, key: Any, field: str, value: str) -> None:
    ctx.table.table.update_item(
        Key=key, UpdateExpression=f"SET {field} = :v", ExpressionAttributeValues={":v": value}
    )


def test_an_operator_address_accepted_before_the_specials_were_refused_still_loads(
    api: Api, admin: str, network: dict[str, str], ctx: Context, clock: FixedClock
) -> None:
    # GIVEN an operator stored with an address a comma or semicolon no longer enters with
    key = keys.key(keys.operator_pk(network["operator"]), keys.OPERATOR_SK)
    _stored(ctx, key, "email", "compta;direction@example.org")
    clock.moment += timedelta(hours=1)  # past the catalogue's cache
    # THEN the catalogue, hence every route, still answers
    assert api.get("/v1/relays").status == 200
    operator = api.get(f"/v1/operators/{network['operator']}", token=admin)
    assert operator.json["email"] == "compta;direction@example.org"
    # AND the rule holds for what enters
    body = {"email": "a,b@example.org"}
    edited = patch(api, f"/v1/operators/{network['operator']}", body, admin, 1)
    assert_problem(edited, 422, "validation_error")


def test_a_company_address_accepted_before_the_specials_were_refused_is_still_invoiced(
    api: Api, admin: str, network: dict[str, str], ctx: Context
) -> None:
    company = api.post("/v1/companies", company_body(network["operator"]), token=admin).json
    _stored(ctx, keys.company(company["id"]), "billing_email", "compta,dg@atelier-brie.fr")

    job = api.post(
        "/v1/admin/jobs/invoice_companies", {"as_of": "2027-01-01T03:00:00Z"}, token=admin
    )

    assert job.status == 200, job.json
    assert api.get(f"/v1/companies/{company['id']}", token=admin).status == 200
