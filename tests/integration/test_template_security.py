"""Least privilege in the packaged template: no wildcard grant, only the DynamoDB actions
the code calls, and the table kept safe (backups, deletion protection, encryption, TTL)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from infra.package import ROOT, TABLE_ID
from tests.support.packaged import Packaged, packaged_app

# What a boto3 call in chalicelib needs from IAM.
CALL_ACTIONS = {
    "get_item": "dynamodb:GetItem",
    "batch_get_item": "dynamodb:BatchGetItem",
    "query": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "batch_writer": "dynamodb:BatchWriteItem",
    "batch_write_item": "dynamodb:BatchWriteItem",
    "transact_get_items": "dynamodb:GetItem",
}
# Each item kind of a TransactWriteItems needs the action of its own kind.
TRANSACTION_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


# What a call to another AWS service in chalicelib needs from IAM (moto checks none: a
# missing right shows only in production, as an AccessDenied).
SERVICE_CALL_ACTIONS = {
    "get_object": "s3:GetObject",
    "generate_presigned_url": "s3:GetObject",  # the link is signed with the role's rights
    "put_object": "s3:PutObject",
    "create_multipart_upload": "s3:PutObject",
    "upload_part": "s3:PutObject",
    "complete_multipart_upload": "s3:PutObject",
    "abort_multipart_upload": "s3:AbortMultipartUpload",
    "delete_object": "s3:DeleteObject",
    "put_parameter": "ssm:PutParameter",
    "delete_parameter": "ssm:DeleteParameter",
    "SSMProvider": "ssm:GetParameter",  # Powertools reads the secrets
    "send_raw_email": "ses:SendRawEmail",
    "send_message": "sqs:SendMessage",
    "invoke": "lambda:InvokeFunction",
}
# Calls named like an operation of those services that are not one: our own functions,
# pydantic's SecretStr, and the local stack's bucket creation (the stack creates it).
NOT_SERVICE_CALLS = frozenset(
    {"get_document", "list_documents", "get_secret_value", "subscribe", "verify", "create_bucket"}
)
OTHER_SERVICES = ("s3", "ssm", "ses", "sesv2", "sqs", "lambda", "sns", "kms", "secretsmanager")


def service_calls_in_code(root: Path = ROOT / "chalicelib") -> set[str]:
    """The names of the calls in the code that are operations of OTHER_SERVICES (botocore's
    models), or Powertools' SSM provider."""
    session = botocore.session.get_session()
    operations = {
        xform_name(op)
        for service in OTHER_SERVICES
        for op in session.get_service_model(service).operation_names
    }
    found = set()
    for path in root.rglob("*.py"):
        source = path.read_text()
        found |= {c for c in re.findall(r"\.([a-z_]+)\(", source) if c in operations}
        if "SSMProvider" in source:
            found.add("SSMProvider")
    return found - NOT_SERVICE_CALLS


def dynamodb_actions_in_code(root: Path = ROOT / "chalicelib") -> set[str]:
    actions = set()
    for path in root.rglob("*.py"):
        source = path.read_text()
        for call in re.findall(r"\.([a-z_]+)\(", source):
            if call in CALL_ACTIONS:
                actions.add(CALL_ACTIONS[call])
        for kind in re.findall(r"[\"'](Put|Update|Delete|ConditionCheck)[\"']\s*:", source):
            actions.add(TRANSACTION_ACTIONS[kind])
    return actions


@pytest.fixture(scope="module")
def packaged() -> Packaged:
    return packaged_app("dev")


def _statements(packaged: Packaged) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for rid, role in packaged.resources_of_type("AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            found += [(rid, s) for s in policy["PolicyDocument"]["Statement"]]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_function_has_a_role_with_an_inline_policy(packaged: Packaged) -> None:
    functions = packaged.resources_of_type("AWS::Serverless::Function")

    roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    assert roles <= set(packaged.resources_of_type("AWS::IAM::Role"))
    assert _statements(packaged)


def test_no_statement_grants_a_wildcard_action_or_resource(packaged: Packaged) -> None:
    for rid, statement in _statements(packaged):
        assert statement["Effect"] == "Allow", rid
        for action in _as_list(statement["Action"]):
            assert "*" not in action, (rid, action)
        for resource in _as_list(statement["Resource"]):
            assert resource != "*", (rid, statement)


def test_only_the_api_may_invoke_a_function_and_only_the_validating_one(
    packaged: Packaged,
) -> None:
    grants = [
        (rid, resource)
        for rid, statement in _statements(packaged)
        for action in _as_list(statement["Action"])
        if action.startswith("lambda:")
        for resource in _as_list(statement["Resource"])
    ]

    assert grants == [("ApiHandlerRole", {"Fn::GetAtt": ["RouteEinvoices", "Arn"]})]


def test_dynamodb_actions_are_exactly_those_the_code_calls(packaged: Packaged) -> None:
    granted = {
        action
        for _, statement in _statements(packaged)
        for action in _as_list(statement["Action"])
        if action.startswith("dynamodb:")
    }

    assert granted == dynamodb_actions_in_code()
    assert "dynamodb:Scan" not in granted


def test_every_call_to_another_aws_service_is_granted(packaged: Packaged) -> None:
    granted = {a for _, st in _statements(packaged) for a in _as_list(st["Action"])}
    calls = service_calls_in_code()

    unmapped = calls - SERVICE_CALL_ACTIONS.keys()
    assert not unmapped, f"map these calls to their IAM action: {sorted(unmapped)}"
    missing = {SERVICE_CALL_ACTIONS[c] for c in calls} - granted
    assert not missing, f"the code calls these without the right: {sorted(missing)}"
    # and the scan sees the calls it maps, among them a delete of a secret
    assert {"delete_parameter", "put_parameter", "SSMProvider", "invoke"} <= calls


def test_dynamodb_is_reached_only_on_the_table_and_its_indexes(packaged: Packaged) -> None:
    table_arn = {"Fn::GetAtt": [TABLE_ID, "Arn"]}
    index_arns = {"Fn::Sub": f"${{{TABLE_ID}.Arn}}/index/*"}

    for rid, statement in _statements(packaged):
        actions = _as_list(statement["Action"])
        if any(a.startswith("dynamodb:") for a in actions):
            assert statement["Resource"] in ([table_arn], [index_arns]), rid
        if statement["Resource"] == [index_arns]:
            assert actions == ["dynamodb:Query"], rid


def test_logs_are_written_only_to_this_stacks_functions_groups(packaged: Packaged) -> None:
    for rid, statement in _statements(packaged):
        if any(a.startswith("logs:") for a in _as_list(statement["Action"])):
            (resource,) = statement["Resource"]
            assert resource["Fn::Sub"].endswith(":log-group:/aws/lambda/${AWS::StackName}-*"), rid


def test_secrets_are_read_only_under_this_stacks_parameter_path(packaged: Packaged) -> None:
    statements = [s for _, s in _statements(packaged) if "ssm:GetParameter" in s["Action"]]

    assert statements
    for statement in statements:
        assert statement["Action"] == ["ssm:GetParameter"]
        (resource,) = statement["Resource"]
        assert resource["Fn::Sub"].endswith(":parameter/${AWS::StackName}/*")


def test_only_operators_platform_secrets_are_written_and_only_under_their_path(
    packaged: Packaged,
) -> None:
    writes = [s for _, s in _statements(packaged) if "ssm:PutParameter" in s["Action"]]

    assert writes
    for statement in writes:
        # set by PUT, removed by DELETE .../einvoicing-platform and .../chorus-pro
        # (adapters/secrets.OperatorSecrets.put and .delete): moto does not check IAM
        assert statement["Action"] == ["ssm:PutParameter", "ssm:DeleteParameter"]
        (resource,) = statement["Resource"]
        assert resource["Fn::Sub"].endswith(":parameter/${AWS::StackName}/operators/*")
    env = next(iter(packaged.resources_of_type("AWS::Serverless::Function").values()))
    variables = env["Properties"]["Environment"]["Variables"]
    assert variables["OPERATOR_SECRETS_PREFIX"] == {"Fn::Sub": "/${AWS::StackName}/operators"}


def test_the_table_is_backed_up_protected_encrypted_and_expires_items(packaged: Packaged) -> None:
    table = packaged.template["Resources"][TABLE_ID]
    props = table["Properties"]

    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["DeletionProtectionEnabled"] is True
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


def test_the_code_scan_finds_the_calls_it_maps(tmp_path: Path) -> None:
    (tmp_path / "store.py").write_text(
        "table.get_item(Key=k)\nwith table.batch_writer() as b: pass\n"
        'items = [{"ConditionCheck": {}}, {"Put": {}}]\n'
    )

    assert dynamodb_actions_in_code(tmp_path) == {
        "dynamodb:GetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:PutItem",
    }


def test_mail_may_go_through_ses_in_another_region_of_the_account(packaged: Packaged) -> None:
    # SES_REGION (README, settings) may name another region than the stack's
    statements = [s for _, s in _statements(packaged) if "ses:SendRawEmail" in s["Action"]]

    assert statements
    for statement in statements:
        (resource,) = statement["Resource"]
        assert resource["Fn::Sub"] == "arn:${AWS::Partition}:ses:*:${AWS::AccountId}:identity/*"
