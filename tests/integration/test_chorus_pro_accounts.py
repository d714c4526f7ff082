"""Each operator may have its own Chorus Pro API account (secret in SSM), used for its
invoices to public bodies instead of the deployment's; forgotten with If-Match."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.adapters.secrets import OperatorSecrets
from tests.integration.test_chorus_pro import chorus, company  # noqa: F401 (fixtures)
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_einvoice_routing import lifecycle, route
from tests.integration.test_einvoicing_platform import (  # noqa: F401 (fixtures)
    PREFIX,
    own_pa,
    settings_body,
    ssm_secrets,
)
from tests.support.api import Api
from tests.support.fake_pa import CLIENT_SECRET, FakePlatform


def path(operator_id: str) -> str:
    return f"/v1/operators/{operator_id}/chorus-pro"


def test_an_operators_own_chorus_account_receives_its_public_invoices(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    ssm_secrets: OperatorSecrets,  # noqa: F811
    own_pa: FakePlatform,  # noqa: F811  (plays the operator's Chorus Pro account)
) -> None:
    operator_id = invoiced["operator_id"]
    assert route(api, admin)["not_configured"] == 1
    assert lifecycle(api, admin, invoiced["id"])["error"] == {"code": "chorus_not_configured"}
    assert api.get(path(operator_id), token=admin).json["source"] == "none"

    answer = api.request("PUT", path(operator_id), settings_body(own_pa), token=admin)

    assert answer.status == 200, answer.json
    assert (answer.json["source"], answer.json["client_secret_set"]) == ("operator", True)
    assert CLIENT_SECRET not in answer.body.decode()
    parameter = boto3.client("ssm", region_name="eu-west-3").get_parameter(
        Name=f"{PREFIX}/{operator_id}/chorus-client-secret", WithDecryption=True
    )["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("SecureString", CLIENT_SECRET)
    assert route(api, admin)["deposited"] == 1
    (flow,) = own_pa.flows.values()
    assert (flow["trackingId"], flow["processingRule"]) == (invoiced["id"], "B2G")
    trail = api.get("/v1/audit?entity=chorus_pro", token=admin).json["items"]
    assert trail and CLIENT_SECRET not in str(trail)
    # the PA settings are another thing: still none of its own
    shown = api.get(f"/v1/operators/{operator_id}/einvoicing-platform", token=admin).json
    assert shown["source"] != "operator"


def test_the_own_account_wins_over_the_deployments_until_forgotten(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    chorus: FakePlatform,  # noqa: F811  (the deployment's account)
    own_pa: FakePlatform,  # noqa: F811
) -> None:
    operator_id = invoiced["operator_id"]
    put = api.request("PUT", path(operator_id), settings_body(own_pa), token=admin)
    assert put.status == 200, put.json
    assert route(api, admin)["deposited"] == 1
    assert list(own_pa.flows) == [invoiced["id"]] and chorus.flows == {}

    missing = api.request("DELETE", path(operator_id), token=admin)
    assert missing.status == 428
    done = api.request(
        "DELETE", path(operator_id), token=admin, headers={"If-Match": f'"{put.json["version"]}"'}
    )
    assert done.status == 204
    assert api.get(path(operator_id), token=admin).json["source"] == "deployment"
    own_pa.report(invoiced["id"], "201")  # the forgotten account is asked no more
    route(api, admin)
    assert [h["code"] for h in lifecycle(api, admin, invoiced["id"])["history"]] == ["200"]


def test_a_wrong_url_is_a_422_naming_it(api: Api, admin: str, network: dict[str, str]) -> None:
    body = {
        "base_url": "http://chorus.example.org",
        "token_url": "https://chorus.example.org/token",
        "client_id": "x",
        "client_secret": "y",
    }
    answer = api.request("PUT", path(network["operator"]), body, token=admin)
    assert answer.status == 422
    assert "base_url" in str(answer.json["errors"])
