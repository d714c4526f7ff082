"""Alarms to an SNS topic given at deploy, a dashboard, and a failure queue for jobs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.alarms import API_FUNCTION, QUEUE_ID, TOPIC_PARAMETER
from tests.support.packaged import Packaged, packaged_app

TOPIC = [{"Ref": TOPIC_PARAMETER}]


@pytest.fixture(scope="module")
def packaged() -> Packaged:
    return packaged_app("dev")


def _alarms(packaged: Packaged) -> dict[str, Any]:
    return packaged.resources_of_type("AWS::CloudWatch::Alarm")


def _jobs(packaged: Packaged) -> dict[str, Any]:
    functions = packaged.resources_of_type("AWS::Serverless::Function")
    return {fid: f for fid, f in functions.items() if fid != API_FUNCTION}


def test_the_alarm_topic_is_a_required_parameter(packaged: Packaged) -> None:
    parameter = packaged.template["Parameters"][TOPIC_PARAMETER]

    assert "Default" not in parameter
    assert parameter["AllowedPattern"].startswith("^arn:aws")


def test_every_alarm_notifies_the_topic_when_it_fires_and_clears(packaged: Packaged) -> None:
    for aid, alarm in _alarms(packaged).items():
        props = alarm["Properties"]
        assert (props["AlarmActions"], props["OKActions"]) == (TOPIC, TOPIC), aid
        assert props["AlarmDescription"], aid


def test_every_function_has_error_throttle_and_near_timeout_alarms(packaged: Packaged) -> None:
    alarms = _alarms(packaged)

    for fid in packaged.resources_of_type("AWS::Serverless::Function"):
        errors = alarms[f"{fid}ErrorsAlarm"]["Properties"]
        duration = alarms[f"{fid}DurationAlarm"]["Properties"]
        assert errors["MetricName"] == "Errors"
        assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": fid}}]
        assert alarms[f"{fid}ThrottlesAlarm"]["Properties"]["MetricName"] == "Throttles"
        # 80 % of the function's timeout: 30 s, or the export worker's 15 minutes.
        threshold = 720000 if fid == "ExportWorker" else 24000
        assert (duration["Statistic"], duration["Threshold"]) == ("Maximum", threshold), fid


def test_the_api_5xx_rate_table_and_job_failures_are_watched(packaged: Packaged) -> None:
    alarms = _alarms(packaged)

    api = alarms["Api5xxAlarm"]["Properties"]
    assert (api["MetricName"], api["Statistic"]) == ("5XXError", "Average")
    assert {"Name": "Stage", "Value": "dev"} in api["Dimensions"]
    throttles = json.dumps(alarms["TableThrottlesAlarm"]["Properties"]["Metrics"])
    assert "ReadThrottleEvents" in throttles and "WriteThrottleEvents" in throttles
    assert "SystemErrors" in json.dumps(alarms["TableSystemErrorsAlarm"]["Properties"]["Metrics"])
    queued = alarms["JobFailuresAlarm"]["Properties"]
    assert queued["Dimensions"][0]["Value"] == {"Fn::GetAtt": [QUEUE_ID, "QueueName"]}


def test_a_job_failing_after_its_retries_lands_on_the_failure_queue(packaged: Packaged) -> None:
    queue = packaged.template["Resources"][QUEUE_ID]

    assert queue["Type"] == "AWS::SQS::Queue"
    assert len(_jobs(packaged)) >= 6
    for fid, job in _jobs(packaged).items():
        config = job["Properties"]["EventInvokeConfig"]
        assert config["MaximumRetryAttempts"] == 2, fid
        assert config["DestinationConfig"]["OnFailure"] == {
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": [QUEUE_ID, "Arn"]},
        }, fid


def test_each_job_may_send_to_the_failure_queue_and_nowhere_else(packaged: Packaged) -> None:
    roles = packaged.resources_of_type("AWS::IAM::Role")

    for fid, job in _jobs(packaged).items():
        role = roles[job["Properties"]["Role"]["Fn::GetAtt"][0]]
        statements = [
            s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
        ]
        sqs = [s for s in statements if any(a.startswith("sqs:") for a in s["Action"])]
        sqs = [s for s in sqs if s.get("Sid") != "ExportQueue"]  # test_template_exports
        assert sqs == [
            {
                "Sid": "SendJobFailures",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [{"Fn::GetAtt": [QUEUE_ID, "Arn"]}],
            }
        ], fid


def test_the_dashboard_shows_api_functions_table_and_job_failures(packaged: Packaged) -> None:
    (dashboard,) = packaged.resources_of_type("AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])

    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert len(titles) == 6
    assert "Job failures waiting" in titles
