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
        # 80 % of the function's timeout: 30 s, or 15 minutes for the export worker, the
        # renewals and the company invoicing.
        long_runs = ("ExportWorker", "RenewMemberships", "InvoiceCompanies")
        threshold = 720000 if fid in long_runs else 24000
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


def test_invoices_not_sent_to_the_platform_are_watched(packaged: Packaged) -> None:
    from chalicelib.observability import NAMESPACE, SERVICE

    alarms = _alarms(packaged)
    for name, metric in (
        ("EInvoiceInvalidAlarm", "EInvoiceInvalid"),
        ("EInvoicePlatformAuthAlarm", "EInvoicePlatformAuthFailures"),
    ):
        props = alarms[name]["Properties"]
        assert (props["Namespace"], props["MetricName"], props["Threshold"]) == (
            NAMESPACE,
            metric,
            0,
        )
        assert props["Dimensions"] == [
            {"Name": "job", "Value": "route_einvoices"},
            {"Name": "service", "Value": SERVICE},
        ]


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


def test_the_dashboard_shows_api_functions_table_jobs_and_business(packaged: Packaged) -> None:
    (dashboard,) = packaged.resources_of_type("AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])

    widgets = {w["properties"]["title"]: w["properties"]["metrics"] for w in body["widgets"]}
    assert len(widgets) == 8
    assert "Job failures waiting" in widgets
    bookings = widgets["Bookings confirmed, by way of paying (API)"]
    assert [m[1] for m in bookings] == [
        "BookingsCard",
        "BookingsCredits",
        "BookingsMembership",
        "BookingsCompany",
        "BookingsFree",
    ]


def test_the_metrics_the_code_emits_have_their_alarms(packaged: Packaged) -> None:
    alarms = _alarms(packaged)
    service = {"Name": "service", "Value": "relais-backend"}
    books = [service, {"Name": "job", "Value": "check_books"}]

    for aid, metric in (
        ("IntegrityAlarm", "IntegrityFailures"),
        ("PayoutMismatchAlarm", "PayoutMismatches"),
        ("UnmatchedPaymentsAlarm", "UnmatchedPayments"),
    ):
        props = alarms[aid]["Properties"]
        assert (props["Namespace"], props["MetricName"]) == ("Relais", metric)
        assert (props["Dimensions"], props["Period"], props["Threshold"]) == (books, 86400, 0)
    not_run = alarms["BooksCheckNotRunAlarm"]["Properties"]
    assert (not_run["MetricName"], not_run["Dimensions"]) == ("JobRuns", books)
    assert (not_run["ComparisonOperator"], not_run["TreatMissingData"]) == (
        "LessThanThreshold",
        "breaching",
    )
    # every hour of the last 26 without a run, not a day-long window that slides with each
    # evaluation (a run ending later than the day before left it empty)
    assert (not_run["Period"], not_run["EvaluationPeriods"], not_run["DatapointsToAlarm"]) == (
        3600,
        26,
        26,
    )
    lag = alarms["WebhookLagAlarm"]["Properties"]
    assert (lag["MetricName"], lag["Statistic"], lag["Threshold"]) == (
        "WebhookLag",
        "Maximum",
        3600,
    )
    failures = alarms["WebhookFailuresAlarm"]["Properties"]
    assert (failures["Dimensions"], failures["EvaluationPeriods"]) == ([service], 3)
    # from the Stripe webhook, and from expire_holds (the refunds a cancellation owes)
    assert {"service": "relais-backend", "job": "expire_holds"} in _watched(
        alarms["RefundsFailedAlarm"], "RefundsFailed"
    )
    assert {"service": "relais-backend"} in _watched(alarms["RefundsFailedAlarm"], "RefundsFailed")
    assert alarms["RefundsFailedAlarm"]["Properties"]["Threshold"] == 0
    # a payment disputed, counted by the Stripe webhook
    assert _watched(alarms["DisputesOpenedAlarm"], "DisputesOpened") == [
        {"service": "relais-backend"},
        {"service": "relais-backend", "job": "reconcile_payments"},
    ]
    # a payout that came back, counted by the reconciliation job
    returned = alarms["PayoutsReturnedAlarm"]["Properties"]
    assert (returned["MetricName"], returned["Threshold"]) == ("PayoutsReturned", 0)
    assert returned["Dimensions"] == [service, {"Name": "job", "Value": "reconcile_payments"}]
    # a mail failing in a job that issues documents (settlement invoices) is seen
    assert {"service": "relais-backend", "job": "settle_operators"} in _watched(
        alarms["MailErrorsAlarm"], "MailErrors"
    )
    assert len(alarms["MailErrorsAlarm"]["Properties"]["Metrics"]) <= 10  # CloudWatch's most
    # AND the job that emits the books metrics is in the template, on its schedule
    assert "CheckBooks" in json.dumps(sorted(_jobs(packaged)))


def _watched(alarm: dict[str, Any], metric: str) -> list[dict[str, str]]:
    """The dimension sets of `metric` a metric-math alarm adds up."""
    return [
        {d["Name"]: d["Value"] for d in m["MetricStat"]["Metric"]["Dimensions"]}
        for m in alarm["Properties"]["Metrics"]
        if "MetricStat" in m and m["MetricStat"]["Metric"]["MetricName"] == metric
    ]
