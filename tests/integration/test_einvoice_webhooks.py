"""Statuses pushed by the accredited platform (signed webhook): applied once each by the
same rule as the poll, never back from a final status; a bad signature is a 400
problem, never a 5xx; the poll still reads what a lost webhook did not bring."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import botocore.client
import botocore.exceptions
import pytest

from chalicelib.adapters import secrets as secrets_module
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.secrets import OperatorSecrets
from chalicelib.domain.webhook_signature import HEADER, signature_header
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
from tests.integration.test_einvoicing_platform import (  # noqa: F401 (fixtures)
    PREFIX,
    own_pa,
    put_settings,
    settings_body,
    ssm_secrets,
)
from tests.support.api import Api
from tests.support.fake_pa import CLIENT_ID, CLIENT_SECRET, FakePlatform

WEBHOOK_SECRET = "whsec-relais-0123456789"


def hook_path(operator_id: str) -> str:
    return f"/v1/einvoicing/platforms/{operator_id}/webhook"


@pytest.fixture
def pushing(
    api: Api,
    admin: str,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    own_pa: FakePlatform,  # noqa: F811
) -> Iterator[FakePlatform]:
    """The operator's own platform, with a webhook secret, subscribed to push statuses
    to Relais; the company invoice deposited on it (200)."""
    operator_id = invoiced["operator_id"]
    body = settings_body(own_pa, webhook_secret=WEBHOOK_SECRET)
    assert put_settings(api, admin, operator_id, body).status == 200
    own_pa.subscribe(hook_path(operator_id), WEBHOOK_SECRET)
    assert route(api, admin)["deposited"] == 1
    yield own_pa


def deliver(api: Api, clock: FixedClock, platform: FakePlatform) -> int:
    """The platform sends its queued webhooks to the app (in process), signed at the
    app's clock."""

    def send(url: str, body: bytes, headers: dict[str, str]) -> int:
        return api.request("POST", url, raw=body, headers=headers).status

    return platform.deliver_webhooks(send, now=lambda: clock.moment.timestamp())


def codes(api: Api, admin: str, invoice_id: str) -> list[str]:
    return [entry["code"] for entry in lifecycle(api, admin, invoice_id)["history"]]


def test_pushed_statuses_are_applied_once_each(
    api: Api,
    admin: str,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    pushing: FakePlatform,
) -> None:
    pushing.report(invoiced["id"], "201")
    pushing.report(invoiced["id"], "202")
    assert deliver(api, clock, pushing) == 2
    assert codes(api, admin, invoiced["id"]) == ["200", "201", "202"]
    assert lifecycle(api, admin, invoiced["id"])["status"] == "202"

    replay, _ = pushing.delivered[-1]  # the platform delivers the same event again
    answer = api.request(
        "POST",
        hook_path(invoiced["operator_id"]),
        raw=replay,
        headers={HEADER: signature_header(WEBHOOK_SECRET, int(clock.moment.timestamp()), replay)},
    )
    assert answer.status == 200, answer.json
    assert answer.json == {"received": True, "duplicate": True, "outcome": "unchanged"}
    assert codes(api, admin, invoiced["id"]) == ["200", "201", "202"]


def test_out_of_order_statuses_never_move_the_status_back(
    api: Api,
    admin: str,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    pushing: FakePlatform,
) -> None:
    pushing.report(invoiced["id"], "205")
    pushing.report(invoiced["id"], "202")  # sent earlier by the buyer, arrives later
    deliver(api, clock, pushing)
    state = lifecycle(api, admin, invoiced["id"])
    assert ([h["code"] for h in state["history"]], state["status"]) == (
        ["200", "205", "202"],
        "205",
    )

    pushing.report(invoiced["id"], "210")
    pushing.report(invoiced["id"], "201")  # late: the invoice is refused, final
    deliver(api, clock, pushing)
    state = lifecycle(api, admin, invoiced["id"])
    assert (state["status"], state["history"][-1]["code"]) == ("210", "210")
    assert route(api, admin)["credited"] == 1  # the job cancels it, as after a poll


def test_a_lost_webhook_is_made_up_by_the_poll_and_its_late_delivery_changes_nothing(
    api: Api,
    admin: str,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    pushing: FakePlatform,
) -> None:
    pushing.report(invoiced["id"], "201")  # queued, not delivered yet
    assert route(api, admin)["updated"] == 1  # the hourly poll reads it
    assert deliver(api, clock, pushing) == 1
    assert pushing.delivered[-1][1] == 200
    assert codes(api, admin, invoiced["id"]) == ["200", "201"]


@pytest.mark.parametrize(
    "case", ["wrong_secret", "stale", "future", "missing", "malformed", "tampered"]
)
def test_a_bad_signature_is_a_400_problem_and_changes_nothing(
    api: Api,
    admin: str,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    pushing: FakePlatform,
    case: str,
) -> None:
    flow = pushing.flows[invoiced["id"]]
    event = {"flowId": flow["flowId"], "trackingId": invoiced["id"], "lifecycle": []}
    event["lifecycle"] = [{"code": "210", "at": "2027-01-02T10:00:00+01:00"}]
    body = json.dumps(event).encode()
    now = int(clock.moment.timestamp())
    header = {
        "wrong_secret": signature_header("not-the-secret", now, body),
        "stale": signature_header(WEBHOOK_SECRET, now - 301, body),
        "future": signature_header(WEBHOOK_SECRET, now + 301, body),
        "missing": "",
        "malformed": "v1=abc",
        "tampered": signature_header(WEBHOOK_SECRET, now, body.replace(b"210", b"205")),
    }[case]
    headers = {HEADER: header} if header else {}

    answer = api.request("POST", hook_path(invoiced["operator_id"]), raw=body, headers=headers)

    assert answer.status == 400, answer.json
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json["code"] == "invalid_signature"
    assert codes(api, admin, invoiced["id"]) == ["200"]


def test_an_operator_without_a_webhook_secret_or_unknown_gets_400(
    api: Api, clock: FixedClock, network: dict[str, str]
) -> None:
    body = b'{"flowId": "flow-1", "trackingId": "x", "lifecycle": []}'
    headers = {HEADER: signature_header(WEBHOOK_SECRET, int(clock.moment.timestamp()), body)}
    # (the last: 43 characters the document allows, 516 once percent-encoded in the path)
    unknown_ids = (network["operator"], "op_unknown", quote("\U0001d47b" * 43))
    for operator_id in unknown_ids:
        answer = api.request("POST", hook_path(operator_id), raw=body, headers=headers)
        assert (answer.status, answer.json["code"]) == (400, "invalid_signature")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"trackingId": "x", "lifecycle": []}',
        b'{"flowId": "f", "trackingId": "x", "lifecycle": [{"code": 201}]}',
        b'{"flowId": "f", "trackingId": "x", "lifecycle": "201"}',
    ],
)
def test_a_signed_body_of_the_wrong_shape_is_a_422(
    api: Api,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    pushing: FakePlatform,
    body: bytes,
) -> None:
    headers = {HEADER: signature_header(WEBHOOK_SECRET, int(clock.moment.timestamp()), body)}
    answer = api.request("POST", hook_path(invoiced["operator_id"]), raw=body, headers=headers)
    assert answer.status == 422, answer.json
    assert answer.headers["Content-Type"] == "application/problem+json"


def test_a_status_for_another_flow_is_ignored(
    api: Api,
    admin: str,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    pushing: FakePlatform,
) -> None:
    body = json.dumps(
        {
            "flowId": "flow-999",
            "trackingId": invoiced["id"],
            "lifecycle": [{"code": "210", "at": "x"}],
        }
    ).encode()
    headers = {HEADER: signature_header(WEBHOOK_SECRET, int(clock.moment.timestamp()), body)}
    answer = api.request("POST", hook_path(invoiced["operator_id"]), raw=body, headers=headers)
    assert (answer.status, answer.json["outcome"]) == (200, "ignored")
    assert codes(api, admin, invoiced["id"]) == ["200"]


def test_the_webhook_secret_goes_to_ssm_and_is_never_answered(
    api: Api,
    admin: str,
    network: dict[str, str],
    ssm_secrets: OperatorSecrets,  # noqa: F811
    own_pa: FakePlatform,  # noqa: F811
) -> None:
    operator_id = network["operator"]
    body = settings_body(own_pa, webhook_secret=WEBHOOK_SECRET)
    answer = put_settings(api, admin, operator_id, body)
    assert answer.status == 200, answer.json
    assert answer.json["webhook_secret_set"] is True
    assert WEBHOOK_SECRET not in answer.body.decode()
    parameter = boto3.client("ssm", region_name="eu-west-3").get_parameter(
        Name=f"{PREFIX}/{operator_id}/pa-webhook-secret", WithDecryption=True
    )["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("SecureString", WEBHOOK_SECRET)
    # Set again without it: the webhook secret stays.
    again = put_settings(api, admin, operator_id, settings_body(own_pa))
    assert again.json["webhook_secret_set"] is True
    trail = api.get("/v1/audit?entity=einvoicing_platform", token=admin).json["items"]
    assert WEBHOOK_SECRET not in str(trail)
    short = put_settings(api, admin, operator_id, settings_body(own_pa, webhook_secret="short"))
    assert short.status == 422


DEPLOYMENT_SECRETS = "/relais-test/einvoicing"


@pytest.fixture
def deployment_pa(
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
    own_pa: FakePlatform,  # noqa: F811
) -> FakePlatform:
    """The deployment-wide platform, its client and webhook secrets in SSM (moto), as
    the template names them; nothing in the settings themselves."""
    settings = ctx.settings
    monkeypatch.setattr(settings, "ereporting_platform_url", own_pa.url)
    monkeypatch.setattr(settings, "ereporting_platform_token_url", f"{own_pa.url}/token")
    monkeypatch.setattr(settings, "ereporting_platform_client_id", CLIENT_ID)
    for name in ("client", "webhook"):
        monkeypatch.setattr(
            settings,
            f"ereporting_platform_{name}_secret_parameter",
            f"{DEPLOYMENT_SECRETS}/platform-{name}-secret",
        )
    return own_pa


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The process's monotonic clock (what the secrets' cache goes by) moved on."""
    moved = time.monotonic() + seconds
    monkeypatch.setattr(secrets_module.time, "monotonic", lambda: moved)


def test_the_deployment_platforms_secrets_are_read_from_ssm(
    api: Api,
    admin: str,
    clock: FixedClock,
    ctx: Context,
    invoiced: dict[str, Any],  # noqa: F811
    deployment_pa: FakePlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-3")
    # GIVEN its client secret not stored yet: the invoice waits, says why, nothing is sent
    assert route(api, admin)["not_configured"] == 1
    waiting = lifecycle(api, admin, invoiced["id"])
    assert waiting["error"] == {"code": "platform_not_configured"}
    assert deployment_pa.flows == {}
    settings_path = f"/v1/operators/{invoiced['operator_id']}/einvoicing-platform"

    def shown() -> tuple[str, bool, bool]:
        answer = api.get(settings_path, token=admin).json
        return answer["source"], answer["client_secret_set"], answer["webhook_secret_set"]

    assert shown() == ("deployment", False, False)
    # WHEN it is stored: the invoice goes once the containers' cache of the miss has
    # expired (SECRETS_MAX_AGE_SECONDS), with the secret read from SSM
    ssm.put_parameter(
        Name=f"{DEPLOYMENT_SECRETS}/platform-client-secret",
        Value=CLIENT_SECRET,
        Type="SecureString",
    )
    assert route(api, admin)["not_configured"] == 1
    later(monkeypatch, ctx.settings.secrets_max_age_seconds + 1)
    assert route(api, admin)["deposited"] == 1
    # AND statuses it pushes for an operator without a platform of its own are taken,
    # signed with the deployment's webhook secret, once that is stored
    operator_id = invoiced["operator_id"]
    deployment_pa.subscribe(hook_path(operator_id), WEBHOOK_SECRET)
    deployment_pa.report(invoiced["id"], "201")
    assert deliver(api, clock, deployment_pa) == 0  # no secret yet: refused (400)
    ssm.put_parameter(
        Name=f"{DEPLOYMENT_SECRETS}/platform-webhook-secret",
        Value=WEBHOOK_SECRET,
        Type="SecureString",
    )
    later(monkeypatch, 2 * (ctx.settings.secrets_max_age_seconds + 1))
    assert shown() == ("deployment", True, True)
    deployment_pa.report(invoiced["id"], "202")
    assert deliver(api, clock, deployment_pa) == 2  # the refused one again, and this one
    assert codes(api, admin, invoiced["id"]) == ["200", "201", "202"]


@pytest.fixture
def ssm_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the SSM GetParameter calls made (moto still answers them)."""
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "GetParameter":
            calls.append(params["Name"])
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    return calls


def test_anyones_webhook_requests_never_become_a_flood_of_ssm_reads(
    api: Api,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    deployment_pa: FakePlatform,
    ssm_reads: list[str],
) -> None:
    """The path is anyone's to call and operator ids are no secret: an unsigned request
    reads no secret, and a secret found missing is remembered so (for
    SECRETS_MAX_AGE_SECONDS) while signed-looking junk keeps coming."""
    path = hook_path(invoiced["operator_id"])
    body = b'{"flowId": "f", "trackingId": "x", "lifecycle": []}'
    for _ in range(5):
        unsigned = api.request("POST", path, raw=body, headers={})
        forged = {HEADER: signature_header("guess", int(clock.moment.timestamp()), body)}
        signed_looking = api.request("POST", path, raw=body, headers=forged)
        for answer in (unsigned, signed_looking):
            assert (answer.status, answer.json["code"]) == (400, "invalid_signature")

    assert len(ssm_reads) == 1, ssm_reads


@pytest.fixture
def ssm_throttled(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """SSM refuses every GetParameter while the yielded switch holds True."""
    original, switch = botocore.client.BaseClient._make_api_call, [True]

    def throttled(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "GetParameter" and switch[0]:
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            raise botocore.exceptions.ClientError(error, operation)  # type: ignore[arg-type]
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", throttled)
    return switch


def test_a_run_while_ssm_is_throttled_leaves_the_invoice_to_the_next_run(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    deployment_pa: FakePlatform,
    ssm_throttled: list[bool],
) -> None:
    boto3.client("ssm", region_name="eu-west-3").put_parameter(
        Name=f"{DEPLOYMENT_SECRETS}/platform-client-secret",
        Value=CLIENT_SECRET,
        Type="SecureString",
    )
    # a throttled read: the run goes on, the invoice waits (not remembered as missing)
    assert route(api, admin)["not_configured"] == 1
    ssm_throttled[0] = False
    assert route(api, admin)["deposited"] == 1


def test_a_secret_ssm_cannot_read_for_a_moment_is_a_503_never_no_secret(
    api: Api,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    deployment_pa: FakePlatform,
    ssm_throttled: list[bool],
) -> None:
    body = b'{"flowId": "f", "trackingId": "x", "lifecycle": []}'
    signed = {HEADER: signature_header(WEBHOOK_SECRET, int(clock.moment.timestamp()), body)}

    answer = api.request("POST", hook_path(invoiced["operator_id"]), raw=body, headers=signed)

    assert (answer.status, answer.json["code"]) == (503, "service_unavailable")
    assert answer.headers.get("Retry-After")
