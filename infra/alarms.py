"""Alarms, a dashboard and the failure queue of scheduled jobs, added to the template.

Every alarm notifies the SNS topic given at deploy (`AlarmTopicArn`) when it fires and
when it clears; docs/RUNBOOK.md says what each means and what to do. A scheduled job
that still fails after Lambda's two retries lands, with its event, on the `JobFailures`
queue (kept 14 days): re-running it is safe, every job being idempotent.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.booking import CONFIRMED_METRIC
from chalicelib.observability import NAMESPACE, SERVICE
from infra.stages import Stage

TOPIC_PARAMETER = "AlarmTopicArn"
QUEUE_ID = "JobFailures"
EXPORT_DEAD_LETTERS = "ExportDeadLetters"  # infra/package.py's queue
API_FUNCTION = "APIHandler"
API_NAME = "relais"  # the REST API's name: Chalice's app_name
# A share of API answers that are 5xx, over 5 minutes, twice in a row.
API_5XX_RATE = 0.02
# Duration alarm: this share of the function's timeout.
NEAR_TIMEOUT = 0.8
# The jobs that send members' or buyers' mails (notifications; the documents they issue
# are mailed to their buyers). With the requests' own, 9 metrics: an alarm takes 10.
MAILING_JOBS = (
    "send_reminders",
    "expire_holds",
    "release_no_shows",
    "renew_memberships",
    "invoice_companies",
    "settle_operators",
    "reconcile_payments",
    "route_einvoices",
)
# The jobs that make refunds (expire_holds retries those a cancellation owes): one that
# Stripe refuses there is counted by the job.
REFUNDING_JOBS = ("expire_holds",)
TABLE_OPERATIONS = (
    "GetItem",
    "BatchGetItem",
    "Query",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
)


def _alarm(description: str, **props: Any) -> dict[str, Any]:
    topic = [{"Ref": TOPIC_PARAMETER}]
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "AlarmActions": topic,
            "OKActions": topic,
            "TreatMissingData": "notBreaching",
            **props,
        },
    }


def _metric_alarm(
    description: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, Any],
    *,
    statistic: str = "Sum",
    threshold: float = 0,
    periods: int = 1,
    period: int = 300,
) -> dict[str, Any]:
    return _alarm(
        description,
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        Statistic=statistic,
        Period=period,
        EvaluationPeriods=periods,
        DatapointsToAlarm=periods,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
    )


def _sum_alarm(
    description: str, namespace: str, queries: list[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    """An alarm on the sum of several metrics (metric math), above 0 in 5 minutes."""
    metrics: list[dict[str, Any]] = []
    for n, (metric, dimensions) in enumerate(queries):
        metrics.append(
            {
                "Id": f"m{n}",
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    },
                    "Period": 300,
                    "Stat": "Sum",
                },
            }
        )
    expression = "+".join(f"FILL(m{n}, 0)" for n in range(len(queries)))
    metrics.append({"Id": "total", "Expression": expression, "ReturnData": True})
    return _alarm(
        description,
        Metrics=metrics,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )


def function_alarms(fid: str, timeout_seconds: int) -> dict[str, Any]:
    name = {"FunctionName": {"Ref": fid}}
    what = "The API" if fid == API_FUNCTION else f"The scheduled job {fid}"
    return {
        f"{fid}ErrorsAlarm": _metric_alarm(
            f"{what} raised errors (Lambda Errors > 0 in 5 min).", "AWS/Lambda", "Errors", name
        ),
        f"{fid}ThrottlesAlarm": _metric_alarm(
            f"{what} was throttled by Lambda (concurrency).", "AWS/Lambda", "Throttles", name
        ),
        f"{fid}DurationAlarm": _metric_alarm(
            f"{what} ran close to its {timeout_seconds} s timeout.",
            "AWS/Lambda",
            "Duration",
            name,
            statistic="Maximum",
            threshold=timeout_seconds * 1000 * NEAR_TIMEOUT,
        ),
    }


def shared_alarms(stage: Stage, table_id: str) -> dict[str, Any]:
    table = {"TableName": {"Ref": table_id}}
    return {
        "Api5xxAlarm": _metric_alarm(
            f"More than {API_5XX_RATE:.0%} of API answers were 5xx, twice in 5-minute periods.",
            "AWS/ApiGateway",
            "5XXError",
            {"ApiName": API_NAME, "Stage": stage.name},
            statistic="Average",
            threshold=API_5XX_RATE,
            periods=2,
        ),
        "TableThrottlesAlarm": _sum_alarm(
            "DynamoDB throttled reads or writes of the table.",
            "AWS/DynamoDB",
            [("ReadThrottleEvents", table), ("WriteThrottleEvents", table)],
        ),
        "TableSystemErrorsAlarm": _sum_alarm(
            "DynamoDB answered system errors (500) on the table.",
            "AWS/DynamoDB",
            [("SystemErrors", {**table, "Operation": op}) for op in TABLE_OPERATIONS],
        ),
        # The route_einvoices job's business metrics (EMF, chalicelib/observability.py):
        # an invoice that failed validation was not sent; our platform credentials refused.
        "EInvoiceInvalidAlarm": _metric_alarm(
            "A B2B invoice failed e-invoicing validation and was not sent to the platform.",
            "Relais",
            "EInvoiceInvalid",
            {"job": "route_einvoices", "service": "relais-backend"},
        ),
        "EInvoicePlatformAuthAlarm": _metric_alarm(
            "An accredited platform refused an operator's credentials: its invoices wait.",
            "Relais",
            "EInvoicePlatformAuthFailures",
            {"job": "route_einvoices", "service": "relais-backend"},
        ),
        "JobFailuresAlarm": _metric_alarm(
            "A scheduled job failed after its retries: its event waits on the JobFailures queue.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": {"Fn::GetAtt": [QUEUE_ID, "QueueName"]}},
            statistic="Maximum",
        ),
        "ExportDeadLettersAlarm": _metric_alarm(
            "An export's message failed five times: it waits on ExportDeadLetters (run_exports "
            "queues the export again while it is pending).",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": {"Fn::GetAtt": [EXPORT_DEAD_LETTERS, "QueueName"]}},
            statistic="Maximum",
        ),
    }


MONEY_METRICS = (
    "PaymentsSucceeded",
    "PaymentsFailed",
    "RefundsSettled",
    "DisputesOpened",
    "InvoicesIssued",
    "CreditNotesIssued",
    "WebhookFailures",
)
# Webhook lag (Stripe creating an event → Relais acting on it) above which to alarm:
# Stripe retries a failed delivery for three days, backing off to an hour between tries.
WEBHOOK_LAG_SECONDS = 3600
DAY = 86400
BOOKS_CHECK_HOURS = 26  # check_books runs daily: a day and two hours without a run


def business_alarms() -> dict[str, Any]:
    """Alarms on the metrics the code emits (chalicelib/observability.count): Powertools
    adds the `service` dimension to all of them, and `job` to those of a job run."""
    service = {"service": SERVICE}
    books = {**service, "job": "check_books"}

    def daily(description: str, metric: str) -> dict[str, Any]:
        # One datapoint a day: a day-long period keeps the alarm up until the next check.
        return _metric_alarm(description, NAMESPACE, metric, books, period=DAY)

    return {
        "IntegrityAlarm": daily(
            "check_books: an issued document or an operator's hash chain no longer matches.",
            "IntegrityFailures",
        ),
        "PayoutMismatchAlarm": daily(
            "check_books: a Stripe payout does not add up to its transactions.",
            "PayoutMismatches",
        ),
        # Hourly, over 26 hours: a day-long period (a window that slides with each
        # evaluation) found no run whenever today's ended later than yesterday's.
        "BooksCheckNotRunAlarm": _alarm(
            "check_books did not run in 26 hours: nothing watches the books' integrity.",
            Namespace=NAMESPACE,
            MetricName="JobRuns",
            Dimensions=[{"Name": k, "Value": v} for k, v in books.items()],
            Statistic="Sum",
            Period=3600,
            EvaluationPeriods=BOOKS_CHECK_HOURS,
            DatapointsToAlarm=BOOKS_CHECK_HOURS,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching",
        ),
        "UnmatchedPaymentsAlarm": daily(
            "check_books: a succeeded payment has no balance transaction or no invoice.",
            "UnmatchedPayments",
        ),
        # A mail that could not be built or claimed (services/notifications.guarded): sent
        # from requests (webhooks included) and from the jobs that mail.
        "MailErrorsAlarm": _sum_alarm(
            "A mail could not be built or claimed (see the outbox journal, status error).",
            NAMESPACE,
            [("MailErrors", service)]
            + [("MailErrors", {**service, "job": job}) for job in MAILING_JOBS],
        ),
        # A refund the bank refused (services/refund_failures): someone must pay the
        # customer another way.
        "RefundsFailedAlarm": _sum_alarm(
            "A Stripe refund failed: the customer is owed it (reconciliation failed_refunds).",
            NAMESPACE,
            [("RefundsFailed", service)]
            + [("RefundsFailed", {**service, "job": job}) for job in REFUNDING_JOBS],
        ),
        # A payment disputed (charge.dispute.created): evidence is due by a deadline.
        # From the webhook, or from the reconciliation when the event never came.
        "DisputesOpenedAlarm": _sum_alarm(
            "A payment is disputed: answer it in the Stripe Dashboard before its deadline.",
            NAMESPACE,
            [
                ("DisputesOpened", service),
                ("DisputesOpened", {**service, "job": "reconcile_payments"}),
            ],
        ),
        # A payout the bank sent back or Stripe cancelled (services/reconciliation).
        "PayoutsReturnedAlarm": _metric_alarm(
            "A Stripe payout came back (failed or cancelled): check the payout bank account.",
            NAMESPACE,
            "PayoutsReturned",
            {**service, "job": "reconcile_payments"},
        ),
        "EReportInvalidAlarm": _metric_alarm(
            "An e-report the PPF schematron would refuse was not stored (log ereport_invalid).",
            NAMESPACE,
            "EReportInvalid",
            {**service, "job": "produce_ereports"},
        ),
        "WebhookFailuresAlarm": _metric_alarm(
            "Stripe webhooks failed in three 5-minute periods in a row (Stripe redelivers).",
            NAMESPACE,
            "WebhookFailures",
            service,
            periods=3,
        ),
        "WebhookLagAlarm": _metric_alarm(
            f"A Stripe event took effect more than {WEBHOOK_LAG_SECONDS} s after it was created.",
            NAMESPACE,
            "WebhookLag",
            service,
            statistic="Maximum",
            threshold=WEBHOOK_LAG_SECONDS,
        ),
    }


def failure_queue() -> dict[str, Any]:
    return {
        "Type": "AWS::SQS::Queue",
        "Properties": {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True},
    }


def on_failure() -> dict[str, Any]:
    """A job function's asynchronous invocation: two retries, then the failure queue."""
    return {
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {
            "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": [QUEUE_ID, "Arn"]}}
        },
    }


def send_failures_policy() -> dict[str, Any]:
    return {
        "PolicyName": "JobFailures",
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "SendJobFailures",
                    "Effect": "Allow",
                    "Action": ["sqs:SendMessage"],
                    "Resource": [{"Fn::GetAtt": [QUEUE_ID, "Arn"]}],
                }
            ],
        },
    }


def dashboard(stage: Stage, function_ids: list[str], table_id: str) -> dict[str, Any]:
    """One page: API traffic and errors, function errors and durations, table, job failures."""

    def widget(title: str, metrics: list[list[Any]], stat: str = "Sum") -> dict[str, Any]:
        return {
            "type": "metric",
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": "${AWS::Region}",
                "stat": stat,
                "period": 300,
                "metrics": metrics,
            },
        }

    api = ["ApiName", API_NAME, "Stage", stage.name]
    fns = [f"${{{fid}}}" for fid in function_ids]
    body = {
        "widgets": [
            widget(
                "API requests and errors",
                [["AWS/ApiGateway", m, *api] for m in ("Count", "4XXError", "5XXError")],
            ),
            widget("API latency p99 (ms)", [["AWS/ApiGateway", "Latency", *api]], "p99"),
            widget("Function errors", [["AWS/Lambda", "Errors", "FunctionName", f] for f in fns]),
            widget(
                "Function duration max (ms)",
                [["AWS/Lambda", "Duration", "FunctionName", f] for f in fns],
                "Maximum",
            ),
            widget(
                "Table capacity and throttles",
                [
                    ["AWS/DynamoDB", m, "TableName", f"${{{table_id}}}"]
                    for m in (
                        "ConsumedReadCapacityUnits",
                        "ConsumedWriteCapacityUnits",
                        "ReadThrottleEvents",
                        "WriteThrottleEvents",
                    )
                ],
            ),
            widget(
                "Job failures waiting",
                [
                    [
                        "AWS/SQS",
                        "ApproximateNumberOfMessagesVisible",
                        "QueueName",
                        f"${{{QUEUE_ID}.QueueName}}",
                    ]
                ],
                "Maximum",
            ),
            widget(
                "Bookings confirmed, by way of paying (API)",
                [[NAMESPACE, m, "service", SERVICE] for m in CONFIRMED_METRIC.values()],
            ),
            widget(
                "Payments, refunds, documents, webhook failures (API)",
                [[NAMESPACE, m, "service", SERVICE] for m in MONEY_METRICS],
            ),
        ]
    }
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardBody": {"Fn::Sub": json.dumps(body, separators=(",", ":"))}},
    }


def monitoring_overlay(
    resources: dict[str, Any], stage: Stage, function_ids: list[str], table_id: str
) -> dict[str, Any]:
    """Overlay resources for Chalice's `resources`: alarms, dashboard, the job failure
    queue, each job's on-failure destination and its role's right to send there."""
    overlay: dict[str, Any] = {
        QUEUE_ID: failure_queue(),
        **shared_alarms(stage, table_id),
        **business_alarms(),
    }
    overlay["Dashboard"] = dashboard(stage, function_ids, table_id)
    for fid in function_ids:
        props = resources[fid]["Properties"]
        overlay.update(function_alarms(fid, int(props.get("Timeout", 30))))
        if fid == API_FUNCTION:
            continue
        overlay[fid] = {"Properties": {"EventInvokeConfig": on_failure()}}
        role = props.get("Role", {}).get("Fn::GetAtt", [None])[0]
        if role in resources:
            policies = resources[role]["Properties"].get("Policies", [])
            overlay[role] = {"Properties": {"Policies": [*policies, send_failures_policy()]}}
    return overlay
