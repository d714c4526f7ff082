"""An operator's own platform can be forgotten (If-Match): its settings go, its secrets
leave SSM, the change is audited, and its B2B invoices wait again."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.adapters.secrets import OperatorSecrets
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_einvoice_routing import lifecycle, route
from tests.integration.test_einvoicing_platform import (  # noqa: F401 (fixtures)
    PREFIX,
    own_pa,
    put_settings,
    settings_body,
    ssm_secrets,
)
from tests.support.api import Api
from tests.support.fake_pa import FakePlatform

WEBHOOK_SECRET = "whsec-relais-0123456789"


def path(operator_id: str) -> str:
    return f"/v1/operators/{operator_id}/einvoicing-platform"


def ssm_names(operator_id: str) -> set[str]:
    client = boto3.client("ssm", region_name="eu-west-3")
    found = client.get_parameters_by_path(Path=f"{PREFIX}/{operator_id}", Recursive=True)
    return {p["Name"].rsplit("/", 1)[1] for p in found["Parameters"]}


def test_forgetting_the_platform_removes_its_secrets_and_is_audited(
    api: Api,
    admin: str,
    network: dict[str, str],
    ssm_secrets: OperatorSecrets,  # noqa: F811
    own_pa: FakePlatform,  # noqa: F811
) -> None:
    operator_id = network["operator"]
    body = settings_body(own_pa, webhook_secret=WEBHOOK_SECRET)
    version = put_settings(api, admin, operator_id, body).json["version"]
    assert ssm_names(operator_id) == {"pa-client-secret", "pa-webhook-secret"}

    missing = api.request("DELETE", path(operator_id), token=admin)
    stale = api.request(
        "DELETE", path(operator_id), token=admin, headers={"If-Match": f'"{version + 1}"'}
    )
    assert (missing.status, stale.status) == (428, 412)
    assert missing.headers["Content-Type"] == "application/problem+json"

    done = api.request(
        "DELETE", path(operator_id), token=admin, headers={"If-Match": f'"{version}"'}
    )

    assert done.status == 204, done.body
    assert ssm_names(operator_id) == set()
    shown = api.get(path(operator_id), token=admin).json
    assert (shown["source"], shown["client_secret_set"], shown["webhook_secret_set"]) == (
        "none",
        False,
        False,
    )
    trail = api.get("/v1/audit?entity=einvoicing_platform", token=admin).json["items"]
    deleted = [entry for entry in trail if entry["action"] == "delete"]
    assert len(deleted) == 1
    assert deleted[0]["changes"]["base_url"] == [own_pa.url, None]
    assert deleted[0]["changes"]["client_secret"] == ["(secret)", None]
    assert WEBHOOK_SECRET not in str(trail) and "s3cret" not in str(trail)
    again = api.request(
        "DELETE", path(operator_id), token=admin, headers={"If-Match": f'"{version}"'}
    )
    assert again.status == 404


@pytest.mark.parametrize("who", ["member", "accountant"])
def test_only_administrators_forget_a_platform(
    api: Api, network: dict[str, str], who: str, request: pytest.FixtureRequest
) -> None:
    token = request.getfixturevalue(who)
    answer = api.request("DELETE", path(network["operator"]), token=token)
    assert answer.status == 403


def test_once_forgotten_the_operators_b2b_invoices_wait(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    own_pa: FakePlatform,  # noqa: F811
) -> None:
    operator_id = invoiced["operator_id"]
    version = put_settings(api, admin, operator_id, settings_body(own_pa)).json["version"]
    headers = {"If-Match": f'"{version}"'}
    assert api.request("DELETE", path(operator_id), token=admin, headers=headers).status == 204

    assert route(api, admin)["not_configured"] == 1
    assert lifecycle(api, admin, invoiced["id"])["error"] == {"code": "platform_not_configured"}
    assert own_pa.flows == {}
