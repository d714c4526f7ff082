"""`python -m infra.package` turns the real app into a deployable, lint-clean template.

The end-to-end tests run `chalice package` on the repository root (it imports app.py,
and on a cold cache downloads the Lambda wheels from PyPI into .chalice/deployments/),
then cfn-lint. The `merge_template` tests use a small fake template.
"""

from __future__ import annotations

import copy
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infra.deploy import TEMPLATE_LIMIT, compact_template
from infra.layers import LAYER_ID, layer_resource
from infra.package import (
    ARCHITECTURES,
    EXPORT_WORKER_TIMEOUT,
    ROOT,
    RUNTIME,
    TABLE_ID,
    cfn_lint_command,
    cfn_lint_failed,
    merge_template,
    template_problems,
)
from infra.stages import STAGES_FILE, load_stage, parse_stage, stage_names
from infra.table import table_resource
from tests.support.packaged import REGION, Packaged, packaged_app

DEV = load_stage("dev")


@pytest.fixture(scope="module")
def packaged() -> Packaged:
    return packaged_app("dev")


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


def test_the_deployed_template_fits_cloudformation_once_compacted(
    packaged: Packaged, tmp_path: Path
) -> None:
    # `aws cloudformation package` writes the template indented by 4, over the limit;
    # infra.deploy compacts it before deploying.
    document = json.loads(packaged.template_path.read_text())
    indented = tmp_path / "packaged.json"
    indented.write_text(json.dumps(document, indent=4))
    assert indented.stat().st_size > TEMPLATE_LIMIT  # why it is compacted

    size = compact_template(indented)

    assert size == indented.stat().st_size
    assert json.loads(indented.read_text()) == document
    assert size < TEMPLATE_LIMIT // 2, f"{size:,} bytes"  # room for the API to grow


def test_packaged_template_holds_the_table_of_infra_named_for_the_stage(
    packaged: Packaged,
) -> None:
    table = packaged.template["Resources"][TABLE_ID]
    props = table["Properties"]

    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    assert props["TableName"] == DEV.table_name
    assert props["KeySchema"] == table_resource()["Properties"]["KeySchema"]
    assert {i["IndexName"] for i in props["GlobalSecondaryIndexes"]} == {"GSI1", "GSI2"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True,
        "RecoveryPeriodInDays": DEV.point_in_time_recovery_days,
    }
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["DeletionProtectionEnabled"] is True


def test_every_packaged_function_gets_the_table_and_the_stage_settings(
    packaged: Packaged,
) -> None:
    functions = packaged.resources_of_type("AWS::Serverless::Function")

    assert "APIHandler" in functions
    assert len(functions) >= 2  # the API and at least the expire_holds schedule
    for fid, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["RELAIS_TABLE"] == {"Ref": TABLE_ID}, fid
        assert variables["STRIPE_API_KEY_PARAMETER"] == {
            "Fn::Sub": "/${AWS::StackName}/stripe/api-key"
        }, fid
        assert variables["ALLOWED_ORIGINS"] == {"Ref": "AllowedOrigins"}, fid
        assert variables["HOLD_SECONDS"] == DEV.settings["HOLD_SECONDS"], fid


def test_packaged_functions_run_python_3_13_on_arm64_with_512_mb_and_30_s(
    packaged: Packaged,
) -> None:
    for fid, function in packaged.resources_of_type("AWS::Serverless::Function").items():
        props = function["Properties"]
        found = (props["Runtime"], props["Architectures"], props["MemorySize"], props["Timeout"])
        # The export worker writes files of any size, and a night's renewals or a month's
        # company invoices may outgrow one run: Lambda's longest run for those.
        long_runs = ("ExportWorker", "RenewMemberships", "InvoiceCompanies")
        timeout = EXPORT_WORKER_TIMEOUT if fid in long_runs else 30
        assert found == ("python3.13", ["arm64"], 512, timeout), fid


def test_every_log_group_keeps_logs_as_long_as_the_stage_says(packaged: Packaged) -> None:
    groups = packaged.resources_of_type("AWS::Logs::LogGroup")
    functions = set(packaged.resources_of_type("AWS::Serverless::Function"))

    assert len(groups) == len(functions)
    for gid, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == DEV.log_retention_days, gid
        name = group["Properties"]["LogGroupName"]["Fn::Sub"]
        assert name.removeprefix("/aws/lambda/${").removesuffix("}") in functions, gid


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


def test_every_stage_of_infra_is_a_chalice_stage_of_the_same_name() -> None:
    chalice_stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]

    assert sorted(chalice_stages) == stage_names()
    assert all(chalice_stages[name]["api_gateway_stage"] == name for name in stage_names())


# --- merge_template on a small fake template ------------------------------------------------


def _fake_chalice_template() -> dict[str, Any]:
    def function(variables: dict[str, str]) -> dict[str, Any]:
        props: dict[str, Any] = {
            "Runtime": RUNTIME,
            "Architectures": ARCHITECTURES,
            "Handler": "app.app",
            "CodeUri": "./x.zip",
        }
        if variables:
            props["Environment"] = {"Variables": variables}
        return {"Type": "AWS::Serverless::Function", "Properties": props}

    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Outputs": {"EndpointURL": {"Value": "https://example/dev/"}},
        "Resources": {
            "APIHandler": function({"CHALICE_OWN": "1"}),
            "ExpireHolds": function({}),
            "RouteEinvoices": function({}),
            "ApiHandlerRole": {"Type": "AWS::IAM::Role", "Properties": {"Policies": []}},
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
    merged = merge_template(_fake_chalice_template(), DEV)

    table = merged["Resources"][TABLE_ID]
    assert (
        table["Properties"]["AttributeDefinitions"]
        == (table_resource()["Properties"]["AttributeDefinitions"])
    )
    assert merged["Outputs"]["TableName"] == {"Value": {"Ref": TABLE_ID}}
    assert merged["Outputs"]["EndpointURL"] == {"Value": "https://example/dev/"}


def test_merge_gives_every_function_the_table_and_keeps_its_own_variables() -> None:
    merged = merge_template(_fake_chalice_template(), DEV)

    api = merged["Resources"]["APIHandler"]["Properties"]
    job = merged["Resources"]["ExpireHolds"]["Properties"]
    assert api["Environment"]["Variables"]["RELAIS_TABLE"] == {"Ref": TABLE_ID}
    assert api["Environment"]["Variables"]["CHALICE_OWN"] == "1"
    assert api["Handler"] == "app.app"
    assert job["Environment"]["Variables"]["RELAIS_TABLE"] == {"Ref": TABLE_ID}
    assert "Environment" not in merged["Resources"]["RestAPI"]["Properties"]


def test_secrets_are_neither_parameters_nor_environment_values() -> None:
    merged = merge_template(_fake_chalice_template(), DEV)

    for function in ("APIHandler", "ExpireHolds"):
        variables = merged["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert "STRIPE_API_KEY" not in variables
        assert "STRIPE_WEBHOOK_SECRET" not in variables
        assert variables["STRIPE_WEBHOOK_SECRET_PARAMETER"] == {
            "Fn::Sub": "/${AWS::StackName}/stripe/webhook-secret"
        }
    assert not any(p.get("NoEcho") for p in merged["Parameters"].values())
    for function in ("APIHandler", "ExpireHolds"):  # the e-invoicing accounts' too
        variables = merged["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["CHORUS_PRO_CLIENT_SECRET_PARAMETER"] == {
            "Fn::Sub": "/${AWS::StackName}/einvoicing/chorus-client-secret"
        }


@pytest.mark.parametrize(
    ("variable", "secret"),
    [
        ("EREPORTING_PLATFORM_CLIENT_SECRET", True),
        ("CHORUS_PRO_CLIENT_SECRET", True),
        ("STRIPE_API_KEY", True),
        ("SOME_TOKEN", True),
        ("DB_PASSWORD", True),
        ("EREPORTING_PLATFORM_CLIENT_SECRET_PARAMETER", False),
        ("EREPORTING_PLATFORM_TOKEN_URL", False),
        ("OPERATOR_SECRETS_PREFIX", False),
        ("SECRETS_MAX_AGE_SECONDS", False),
        ("EREPORTING_PLATFORM_CLIENT_ID", False),
        ("BOOKING_HORIZON_DAYS", False),
    ],
)
def test_a_stage_refuses_a_secret_among_its_plain_settings(variable: str, secret: bool) -> None:
    raw = json.loads(STAGES_FILE.read_text())["dev"]
    raw["settings"][variable] = "value"

    if secret:
        with pytest.raises(ValueError, match=variable):
            parse_stage("dev", raw)
    else:
        assert parse_stage("dev", raw).settings[variable] == "value"


@pytest.mark.parametrize("stage_name", stage_names())
def test_stage_values_become_parameter_defaults_and_the_table_name(stage_name: str) -> None:
    stage = load_stage(stage_name)

    merged = merge_template(_fake_chalice_template(), stage)

    assert merged["Parameters"]["AllowedOrigins"]["Default"] == stage.allowed_origins
    assert merged["Parameters"]["MailFrom"]["Default"] == stage.mail_from
    assert merged["Resources"][TABLE_ID]["Properties"]["TableName"] == stage.table_name


def test_a_tracing_stage_traces_every_function_and_lets_its_roles_write_traces() -> None:
    prod = load_stage("prod")
    assert prod.tracing

    merged = merge_template(_fake_chalice_template(), prod)

    assert merged["Resources"]["ExpireHolds"]["Properties"]["Tracing"] == "Active"
    assert merged["Resources"]["RestAPI"]["Properties"]["TracingEnabled"] is True
    # AND the code's subsegments are on there, off on a stage that does not trace
    variables = merged["Resources"]["ExpireHolds"]["Properties"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACE_DISABLED"] == "false"
    dev = merge_template(_fake_chalice_template(), DEV)["Resources"]["ExpireHolds"]
    assert dev["Properties"]["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"
    role = merged["Resources"]["ApiHandlerRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"}
    ]


def test_merge_points_the_api_log_group_at_the_renamed_api_handler() -> None:
    merged = merge_template(_fake_chalice_template(), DEV)

    resources = merged["Resources"]
    api_group = resources["ApiHandlerLogGroup"]["Properties"]["LogGroupName"]
    job_group = resources["ExpireHoldsLogGroup"]["Properties"]["LogGroupName"]
    assert api_group == {"Fn::Sub": "/aws/lambda/${APIHandler}"}
    assert job_group == {"Fn::Sub": "/aws/lambda/${ExpireHolds}"}


def test_merge_leaves_the_chalice_template_untouched() -> None:
    base = _fake_chalice_template()
    before = copy.deepcopy(base)

    merge_template(base, DEV)

    assert base == before


def test_a_merged_template_has_no_problems_but_the_chalice_one_has() -> None:
    base = _fake_chalice_template()

    assert template_problems(merge_template(base, DEV)) == []
    assert any("RELAIS_TABLE" in problem for problem in template_problems(base))


def test_a_function_on_another_runtime_is_a_problem() -> None:
    base = _fake_chalice_template()
    base["Resources"]["ExpireHolds"]["Properties"]["Runtime"] = "python3.11"

    assert template_problems(merge_template(base, DEV)) == [
        f"ExpireHolds: runtime 'python3.11', expected {RUNTIME!r}"
    ]


def test_a_function_on_another_architecture_is_a_problem() -> None:
    base = _fake_chalice_template()
    base["Resources"]["ExpireHolds"]["Properties"]["Architectures"] = ["x86_64"]

    assert template_problems(merge_template(base, DEV)) == ["ExpireHolds: architectures ['x86_64']"]


def test_only_the_function_that_validates_e_invoices_gets_the_validation_layer() -> None:
    merged = merge_template(_fake_chalice_template(), DEV)["Resources"]

    assert merged[LAYER_ID] == layer_resource()
    assert merged[LAYER_ID]["Properties"]["ContentUri"] == "./validation-layer.zip"
    assert merged["RouteEinvoices"]["Properties"]["Layers"] == [{"Ref": LAYER_ID}]
    assert "Layers" not in merged["APIHandler"]["Properties"]
    assert "Layers" not in merged["ExpireHolds"]["Properties"]


def test_the_api_knows_the_validating_function_and_may_start_it() -> None:
    base = _fake_chalice_template()
    base["Resources"]["APIHandler"]["Properties"]["Role"] = {
        "Fn::GetAtt": ["ApiHandlerRole", "Arn"]
    }

    merged = merge_template(base, DEV)["Resources"]

    variables = merged["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["EINVOICE_ROUTER_FUNCTION"] == {"Ref": "RouteEinvoices"}
    assert variables["CHALICE_OWN"] == "1"  # merged into, not replaced
    others = merged["ExpireHolds"]["Properties"]["Environment"]["Variables"]
    assert "EINVOICE_ROUTER_FUNCTION" not in others
    (policy,) = [
        p
        for p in merged["ApiHandlerRole"]["Properties"]["Policies"]
        if p["PolicyName"] == "StartRouteEinvoices"
    ]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "StartRouteEinvoices",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [{"Fn::GetAtt": ["RouteEinvoices", "Arn"]}],
        }
    ]


def test_the_layer_anywhere_else_or_missing_is_a_problem() -> None:
    merged = merge_template(_fake_chalice_template(), DEV)
    merged["Resources"]["APIHandler"]["Properties"]["Layers"] = [{"Ref": LAYER_ID}]
    del merged["Resources"]["RouteEinvoices"]["Properties"]["Layers"]

    assert template_problems(merged) == [
        f"APIHandler: layers [{{'Ref': '{LAYER_ID}'}}], {LAYER_ID} only on ('RouteEinvoices',)",
        f"RouteEinvoices: layers [], {LAYER_ID} only on ('RouteEinvoices',)",
    ]
    base = _fake_chalice_template()
    del base["Resources"]["RouteEinvoices"]  # the job renamed: Saxon would reach no one
    assert template_problems(merge_template(base, DEV)) == [
        f"no function ['RouteEinvoices'] for {LAYER_ID}"
    ]


@pytest.mark.parametrize(
    ("returncode", "failed"),
    [(0, False), (4, False), (8, False), (12, False), (2, True), (6, True), (1, True)],
)
def test_only_cfn_lint_errors_or_crashes_fail_the_build(returncode: int, failed: bool) -> None:
    assert cfn_lint_failed(returncode) is failed


def test_cfn_lint_runs_with_no_check_skipped(tmp_path: Any) -> None:
    command = cfn_lint_command(tmp_path / "sam.json", REGION)

    assert not any(arg.startswith(("--ignore-checks", "-i")) for arg in command)
