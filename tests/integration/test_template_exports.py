"""The export queue in the packaged template: the worker consumes it, the API and the
run_exports job send to it, nothing else touches it; export files expire."""

from __future__ import annotations

from typing import Any

import pytest

from infra.package import (
    ARCHIVE_BUCKET_ID,
    EXPORT_DEAD_LETTERS_ID,
    EXPORT_QUEUE_ID,
    EXPORT_SENDERS,
    EXPORT_WORKER_TIMEOUT,
)
from tests.support.packaged import Packaged, packaged_app

QUEUE_ARN = {"Fn::GetAtt": [EXPORT_QUEUE_ID, "Arn"]}
WORKER = "ExportWorker"


@pytest.fixture(scope="module")
def packaged() -> Packaged:
    return packaged_app("dev")


def export_queue_grants(packaged: Packaged) -> dict[str, list[str]]:
    """Actions on the export queue, per function (through its role)."""
    roles = packaged.resources_of_type("AWS::IAM::Role")
    found: dict[str, list[str]] = {}
    for fid, function in packaged.resources_of_type("AWS::Serverless::Function").items():
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                if QUEUE_ARN in statement["Resource"]:
                    found.setdefault(fid, []).extend(statement["Action"])
    return found


def test_the_worker_consumes_the_stacks_export_queue_one_message_at_a_time(
    packaged: Packaged,
) -> None:
    worker = packaged.template["Resources"][WORKER]["Properties"]
    (event,) = worker["Events"].values()
    assert event["Type"] == "SQS"
    assert (event["Properties"]["Queue"], event["Properties"]["BatchSize"]) == (QUEUE_ARN, 1)


def test_a_message_comes_back_only_after_a_run_and_goes_to_dead_letters_after_five(
    packaged: Packaged,
) -> None:
    resources: dict[str, Any] = packaged.template["Resources"]
    queue = resources[EXPORT_QUEUE_ID]["Properties"]
    # six times the worker's timeout, as Lambda's SQS event source wants it
    assert queue["VisibilityTimeout"] >= 6 * EXPORT_WORKER_TIMEOUT
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [EXPORT_DEAD_LETTERS_ID, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert resources[EXPORT_DEAD_LETTERS_ID]["Type"] == "AWS::SQS::Queue"
    dead = resources["ExportDeadLettersAlarm"]["Properties"]
    assert dead["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [EXPORT_DEAD_LETTERS_ID, "QueueName"]}}
    ]


def test_only_the_api_and_the_sweeping_job_send_and_only_the_worker_receives(
    packaged: Packaged,
) -> None:
    grants = export_queue_grants(packaged)
    assert grants == {
        **{fid: ["sqs:SendMessage"] for fid in EXPORT_SENDERS},
        WORKER: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
    }


def test_every_function_knows_the_queue_url(packaged: Packaged) -> None:
    for fid, function in packaged.resources_of_type("AWS::Serverless::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["EXPORT_QUEUE_URL"] == {"Ref": EXPORT_QUEUE_ID}, fid


def test_export_files_expire_and_unfinished_uploads_are_dropped(packaged: Packaged) -> None:
    bucket = packaged.template["Resources"][ARCHIVE_BUCKET_ID]["Properties"]
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert (rules["ExportFilesExpire"]["Prefix"], rules["ExportFilesExpire"]["Status"]) == (
        "exports/",
        "Enabled",
    )
    assert "Prefix" not in rules["UnfinishedUploads"]  # sealed archives are never expired
    assert all("ExpirationInDays" not in r for r in rules.values() if r.get("Prefix") != "exports/")
