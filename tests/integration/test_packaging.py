"""`python -m infra.package` turns the real app into a deployable, lint-clean template.

The end-to-end tests run `chalice package` on the repository root (it imports app.py,
and on a cold cache downloads the Lambda wheels from PyPI into .chalice/deployments/),
then cfn-lint. The `merge_template` tests use a small fake template.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.package import (
    ROOT,
    RUNTIME,
    TABLE_ID,
    cfn_lint_command,
    cfn_lint_failed,
    function_ids,
    merge_template,
    template_problems,
)
from infra.table import table_resource

REGION = "eu-west-3"


@dataclass(frozen=True)
class Packaged:
    result: subprocess.CompletedProcess[str]
    template_path: Path
    template: dict[str, Any]

    def output(self) -> str:
        return f"stdout:\n{self.result.stdout}\nstderr:\n{self.result.stderr}"


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    if not (ROOT / "app.py").exists():
        pytest.fail("app.py is missing at the repository root: nothing to package")
    outdir = tmp_path_factory.mktemp("package")
    result = subprocess.run(
        [sys.executable, "-m", "infra.package", str(outdir), "--region", REGION],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    template_path = outdir / "sam.json"
    if not template_path.exists():
        pytest.fail(f"no template was written\n{result.stdout}\n{result.stderr}")
    return Packaged(result, template_path, json.loads(template_path.read_text()))


def _resources_of_type(template: dict[str, Any], rtype: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


# --- end to end, on the real app ------------------------------------------------------------


def test_packaging_the_app_succeeds(packaged: Packaged) -> None:
    assert packaged.result.returncode == 0, packaged.output()


def test_the_deployment_package_carries_the_invoice_fonts_and_their_licence(
    packaged: Packaged,
) -> None:
    with zipfile.ZipFile(packaged.template_path.parent / "deployment.zip") as bundle:
        fonts = {n for n in bundle.namelist() if n.startswith("chalicelib/adapters/fonts/")}

    assert fonts == {
        "chalicelib/adapters/fonts/Lato-Regular.ttf",
        "chalicelib/adapters/fonts/Lato-Bold.ttf",
        "chalicelib/adapters/fonts/OFL.txt",
    }


def test_packaged_template_passes_cfn_lint_without_any_finding(packaged: Packaged) -> None:
    lint = subprocess.run(
        cfn_lint_command(packaged.template_path, REGION),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_packaged_template_holds_the_table_of_infra(packaged: Packaged) -> None:
    table = packaged.template["Resources"][TABLE_ID]
    props = table["Properties"]

    assert table == table_resource()
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    assert {i["IndexName"] for i in props["GlobalSecondaryIndexes"]} == {"GSI1", "GSI2"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert "TableName" not in props  # named by CloudFormation: stages can share an account


def test_every_packaged_function_gets_the_table_name_from_the_stack(packaged: Packaged) -> None:
    functions = _resources_of_type(packaged.template, "AWS::Serverless::Function")

    assert "APIHandler" in functions
    assert len(functions) >= 2  # the API and at least the expire_holds schedule
    for fid, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["RELAIS_TABLE"] == {"Ref": TABLE_ID}, fid
        assert variables["STRIPE_API_KEY"] == {"Ref": "StripeApiKey"}, fid
        assert variables["HOLD_SECONDS"] == "900", fid


def test_packaged_functions_run_the_pinned_python_with_512_mb_and_30_s(packaged: Packaged) -> None:
    for fid, function in _resources_of_type(packaged.template, "AWS::Serverless::Function").items():
        props = function["Properties"]
        assert (props["Runtime"], props["MemorySize"], props["Timeout"]) == (RUNTIME, 512, 30), fid


def test_packaged_roles_reach_dynamodb_only_on_the_table_and_its_indexes(
    packaged: Packaged,
) -> None:
    roles = _resources_of_type(packaged.template, "AWS::IAM::Role")
    table_arn = {"Fn::GetAtt": [TABLE_ID, "Arn"]}
    index_arns = {"Fn::Sub": f"${{{TABLE_ID}.Arn}}/index/*"}

    assert len(roles) >= len(function_ids(packaged.template))
    for rid, role in roles.items():
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                if any(a.startswith("dynamodb:") for a in actions):
                    assert statement["Resource"] in ([table_arn], [index_arns]), rid
                    assert "dynamodb:Scan" not in actions, rid


def test_api_stage_is_named_after_the_chalice_stage_and_routes_keep_v1(
    packaged: Packaged,
) -> None:
    # The routes carry /v1 themselves, so the URL is .../dev/v1/health (or /v1/health
    # behind a custom domain), never .../v1/v1/health.
    rest_api = packaged.template["Resources"]["RestAPI"]["Properties"]
    endpoint = packaged.template["Outputs"]["EndpointURL"]["Value"]["Fn::Sub"]

    assert rest_api["StageName"] == "dev"
    assert endpoint.endswith("/dev/")
    assert "/v1/health" in rest_api["DefinitionBody"]["paths"]
    assert all(path.startswith("/v1/") for path in rest_api["DefinitionBody"]["paths"])


# --- merge_template on a small fake template ------------------------------------------------


def _fake_chalice_template() -> dict[str, Any]:
    def function(variables: dict[str, str]) -> dict[str, Any]:
        props: dict[str, Any] = {"Runtime": RUNTIME, "Handler": "app.app", "CodeUri": "./x.zip"}
        if variables:
            props["Environment"] = {"Variables": variables}
        return {"Type": "AWS::Serverless::Function", "Properties": props}

    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Outputs": {"EndpointURL": {"Value": "https://example/dev/"}},
        "Resources": {
            "APIHandler": function({"HOLD_SECONDS": "900"}),
            "ExpireHolds": function({}),
            "ApiHandlerLogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${ApiHandler}"}},
            },
            "ExpireHoldsLogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${ExpireHolds}"}},
            },
            "RestAPI": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "dev"}},
        },
    }


def test_merge_adds_the_table_of_infra_and_outputs_its_name() -> None:
    merged = merge_template(_fake_chalice_template())

    assert merged["Resources"][TABLE_ID] == table_resource()
    assert merged["Outputs"]["TableName"] == {"Value": {"Ref": TABLE_ID}}
    assert merged["Outputs"]["EndpointURL"] == {"Value": "https://example/dev/"}


def test_merge_gives_every_function_the_table_and_keeps_its_own_variables() -> None:
    merged = merge_template(_fake_chalice_template())

    api = merged["Resources"]["APIHandler"]["Properties"]
    job = merged["Resources"]["ExpireHolds"]["Properties"]
    assert api["Environment"]["Variables"]["RELAIS_TABLE"] == {"Ref": TABLE_ID}
    assert api["Environment"]["Variables"]["HOLD_SECONDS"] == "900"
    assert api["Handler"] == "app.app"
    assert job["Environment"]["Variables"]["RELAIS_TABLE"] == {"Ref": TABLE_ID}
    assert "Environment" not in merged["Resources"]["RestAPI"]["Properties"]


def test_merge_feeds_secrets_from_no_echo_parameters() -> None:
    merged = merge_template(_fake_chalice_template())

    variables = merged["Resources"]["ExpireHolds"]["Properties"]["Environment"]["Variables"]
    for env_var, parameter in (
        ("STRIPE_API_KEY", "StripeApiKey"),
        ("STRIPE_WEBHOOK_SECRET", "StripeWebhookSecret"),
    ):
        assert variables[env_var] == {"Ref": parameter}
        assert merged["Parameters"][parameter]["NoEcho"] is True


def test_merge_points_the_api_log_group_at_the_renamed_api_handler() -> None:
    merged = merge_template(_fake_chalice_template())

    resources = merged["Resources"]
    api_group = resources["ApiHandlerLogGroup"]["Properties"]["LogGroupName"]
    job_group = resources["ExpireHoldsLogGroup"]["Properties"]["LogGroupName"]
    assert api_group == {"Fn::Sub": "/aws/lambda/${APIHandler}"}
    assert job_group == {"Fn::Sub": "/aws/lambda/${ExpireHolds}"}


def test_merge_leaves_the_chalice_template_untouched() -> None:
    base = _fake_chalice_template()
    before = copy.deepcopy(base)

    merge_template(base)

    assert base == before


def test_a_merged_template_has_no_problems_but_the_chalice_one_has() -> None:
    base = _fake_chalice_template()

    assert template_problems(merge_template(base)) == []
    assert any("RELAIS_TABLE" in problem for problem in template_problems(base))


def test_a_function_on_another_runtime_is_a_problem() -> None:
    base = _fake_chalice_template()
    base["Resources"]["ExpireHolds"]["Properties"]["Runtime"] = "python3.9"

    assert template_problems(merge_template(base)) == [
        f"ExpireHolds: runtime 'python3.9', expected {RUNTIME!r}"
    ]


@pytest.mark.parametrize(
    ("returncode", "failed"),
    [(0, False), (4, False), (8, False), (12, False), (2, True), (6, True), (1, True)],
)
def test_only_cfn_lint_errors_or_crashes_fail_the_build(returncode: int, failed: bool) -> None:
    assert cfn_lint_failed(returncode) is failed
