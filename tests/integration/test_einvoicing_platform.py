"""Each operator chooses its accredited platform; the client secret goes to SSM (moto
here), never to the table, an answer or the audit trail; an operator without a platform
keeps its B2B invoices waiting, with a clear status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib.adapters.secrets import OperatorSecrets, SecretProvider
from chalicelib.services.context import Context
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_einvoice_routing import lifecycle, route
from tests.support.api import Api, assert_problem
from tests.support.fake_pa import CLIENT_ID, CLIENT_SECRET, FakePlatform

PREFIX = "/relais-test/operators"


@pytest.fixture
def ssm_secrets(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> OperatorSecrets:
    secrets = OperatorSecrets(PREFIX, SecretProvider("eu-west-3", 0), "eu-west-3")
    monkeypatch.setattr(ctx.secrets, "operators", secrets)
    return secrets


@pytest.fixture
def own_pa() -> Iterator[FakePlatform]:
    """A platform of the operator's own; no deployment-wide platform is set."""
    fake = FakePlatform()
    yield fake
    fake.close()


def settings_body(pa: FakePlatform, **overrides: Any) -> dict[str, Any]:
    return {
        "base_url": pa.url,
        "token_url": f"{pa.url}/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **overrides,
    }


def put_settings(api: Api, token: str, operator_id: str, body: Any) -> Any:
    path = f"/v1/operators/{operator_id}/einvoicing-platform"
    return api.request("PUT", path, body, token=token)


def test_the_client_secret_goes_to_ssm_and_nowhere_else(
    api: Api,
    admin: str,
    ctx: Context,
    network: dict[str, str],
    ssm_secrets: OperatorSecrets,
    own_pa: FakePlatform,
) -> None:
    operator_id = network["operator"]
    answer = put_settings(api, admin, operator_id, settings_body(own_pa))

    assert answer.status == 200, answer.json
    assert answer.json["source"] == "operator"
    assert answer.json["client_secret_set"] is True
    assert (answer.json["base_url"], answer.json["client_id"]) == (own_pa.url, CLIENT_ID)
    assert CLIENT_SECRET not in answer.body.decode()
    parameter = boto3.client("ssm", region_name="eu-west-3").get_parameter(
        Name=f"{PREFIX}/{operator_id}/pa-client-secret", WithDecryption=True
    )["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("SecureString", CLIENT_SECRET)
    table = boto3.resource("dynamodb", region_name="eu-west-3").Table(ctx.settings.table_name)
    assert CLIENT_SECRET not in str(table.scan()["Items"])
    trail = api.get("/v1/audit?entity=einvoicing_platform", token=admin).json["items"]
    assert trail and CLIENT_SECRET not in str(trail)
    read = api.get(f"/v1/operators/{operator_id}/einvoicing-platform", token=admin)
    assert read.json == answer.json


def test_an_operator_without_a_platform_keeps_its_invoices_waiting_then_sends_them(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    ssm_secrets: OperatorSecrets,
    own_pa: FakePlatform,
) -> None:
    counts = route(api, admin)

    assert (counts["not_configured"], counts["deposited"]) == (1, 0)
    state = lifecycle(api, admin, invoiced["id"])
    assert (state["status"], state["error"]) == (None, {"code": "platform_not_configured"})
    shown = api.get(f"/v1/operators/{invoiced['operator_id']}/einvoicing-platform", token=admin)
    assert (shown.json["source"], shown.json["client_secret_set"]) == ("none", False)

    assert put_settings(api, admin, invoiced["operator_id"], settings_body(own_pa)).status == 200
    assert route(api, admin)["deposited"] == 1
    assert list(own_pa.flows) == [invoiced["id"]]
    assert lifecycle(api, admin, invoiced["id"])["status"] == "200"


def test_a_wrong_secret_is_an_outage_for_that_operator_only(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    ssm_secrets: OperatorSecrets,
    own_pa: FakePlatform,
) -> None:
    body = settings_body(own_pa, client_secret="not-the-one")
    assert put_settings(api, admin, invoiced["operator_id"], body).status == 200

    assert route(api, admin)["waiting"] == 1
    assert own_pa.flows == {}
    assert lifecycle(api, admin, invoiced["id"])["status"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base_url", "http://pa.example.org/api"),  # plain http off loopback
        ("base_url", "ftp://127.0.0.1/flows"),
        # controls that Python's `\s` counts as spaces and JSON Schema's does not: refused
        # by the server and by the document's pattern alike
        ("base_url", "https://pa.example.org/a\x1cb"),
        ("base_url", "https://pa.example.org/a\x85b"),
        ("token_url", "https://user:pw@pa.example.org/token"),
        ("base_url", "https://pa.example.org:99999/api"),  # no such port
        ("token_url", "https://pa.example.org:0/token"),
        ("client_secret", ""),
        ("client_id", None),
        ("registration_number", "42"),
        ("registration_number", "00 42"),
        ("name", "PA\nde test"),
        ("name", " "),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(
    api: Api,
    admin: str,
    network: dict[str, str],
    ssm_secrets: OperatorSecrets,
    own_pa: FakePlatform,
    field: str,
    value: Any,
) -> None:
    answer = put_settings(api, admin, network["operator"], settings_body(own_pa, **{field: value}))

    assert answer.status == 422, answer.json
    assert answer.json["code"] == "validation_error"
    assert [e["field"] for e in answer.json["errors"]] == [field]
    assert "s3cret" not in answer.body.decode()


def test_a_path_of_any_script_is_accepted_as_the_document_allows(
    api: Api, admin: str, network: dict[str, str], own_pa: FakePlatform
) -> None:
    body = settings_body(own_pa, base_url="https://pa.example.org/flüsse/[𝔘]@x")

    answer = put_settings(api, admin, network["operator"], body)

    assert answer.status == 200, answer.json
    assert answer.json["base_url"] == "https://pa.example.org/flüsse/[𝔘]@x"


def test_unknown_operators_and_fields_are_refused(
    api: Api, admin: str, network: dict[str, str], own_pa: FakePlatform
) -> None:
    assert put_settings(api, admin, "op_nope", settings_body(own_pa)).status == 404
    assert api.get("/v1/operators/op_nope/einvoicing-platform", token=admin).status == 404
    extra = settings_body(own_pa, flow_syntax="UBL")
    assert put_settings(api, admin, network["operator"], extra).status == 422


def test_the_platforms_number_and_name_are_audited_when_set_and_when_forgotten(
    api: Api,
    admin: str,
    network: dict[str, str],
    ssm_secrets: OperatorSecrets,
    own_pa: FakePlatform,
) -> None:
    operator_id = network["operator"]
    body = settings_body(own_pa, registration_number="0042", name="PA de Melun")
    put = put_settings(api, admin, operator_id, body)
    assert put.status == 200, put.json
    path = f"/v1/operators/{operator_id}/einvoicing-platform"
    headers = {"If-Match": str(put.json["version"])}
    assert api.request("DELETE", path, None, token=admin, headers=headers).status == 204

    trail = api.get("/v1/audit?entity=einvoicing_platform", token=admin).json["items"]
    changes = {entry["action"]: entry["changes"] for entry in trail}
    assert changes["update"]["registration_number"] == [None, "0042"]
    assert changes["delete"]["registration_number"] == ["0042", None]
    assert changes["delete"]["name"] == ["PA de Melun", None]


def test_a_platform_name_without_its_registration_number_is_refused(
    api: Api, admin: str, network: dict[str, str], own_pa: FakePlatform
) -> None:
    answer = put_settings(api, admin, network["operator"], settings_body(own_pa, name="Autre PA"))

    assert_problem(answer, 422, "validation_error")
    assert [e["field"] for e in answer.json["errors"]] == ["registration_number"]
