"""JSON logs and EMF metrics (Powertools) for API answers and job runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from chalicelib import observability
from chalicelib.api.endpoint import json_response
from chalicelib.config import Settings
from chalicelib.observability import http_middleware, metrics, observed_job
from tests.support.api import Api
from tests.support.fake_stripe import FakeGateway
from tests.support.webhooks import deliver

DAY = "2026-12-03"  # Thursday; the test clock is Tuesday 2026-12-01 07:00 Paris


@pytest.fixture(autouse=True)
def no_metrics_left_over() -> None:
    """Services called outside a request (fixtures, other tests) add to the container's
    metric set, flushed with the next answer: start each test with an empty one."""
    metrics().clear_metrics()


def _lines(out: str) -> list[dict[str, Any]]:
    found = []
    for line in out.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def _emf(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "_aws" in line]


def _value(blob: dict[str, Any], name: str) -> float:
    value = blob[name]
    return float(sum(value) if isinstance(value, list) else value)


def _metric_names(blob: dict[str, Any]) -> set[str]:
    return {m["Name"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def test_an_answer_logs_one_json_line_with_route_status_and_latency(
    api: Api, member: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    api.get("/v1/bookings/bkg_unknown", token=member)

    (line,) = [x for x in _lines(capsys.readouterr().out) if x.get("message") == "request"]
    assert (line["route"], line["method"], line["status"]) == (
        "/v1/bookings/{booking_id}",
        "GET",
        404,
    )
    assert line["latency_ms"] >= 0
    assert line["service"] == "relais-backend"


def test_nothing_of_the_token_or_the_concrete_path_is_logged(
    api: Api, member: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    api.get("/v1/bookings/bkg_secret_id", token=member)

    out = capsys.readouterr().out
    assert member not in out
    assert "bkg_secret_id" not in out


def test_an_answer_emits_request_metrics_as_emf(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    api.get("/v1/health")

    (blob,) = _emf(_lines(capsys.readouterr().out))
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Relais"
    assert _metric_names(blob) == {"Requests", "ServerErrors", "ClientErrors", "Latency"}
    assert [_value(blob, n) for n in ("Requests", "ServerErrors", "ClientErrors")] == [1, 0, 0]


def test_the_request_line_is_emf_as_powertools_writes_it(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    """The answer's one line, written by hand for speed, declares its metrics exactly as
    Powertools' own EMF serializer declares the same four (the oracle)."""
    capsys.readouterr()
    api.get("/v1/health")
    (line,) = _lines(capsys.readouterr().out)

    oracle = Metrics(namespace="Relais", service="relais-backend")
    for name, unit in observability.REQUEST_METRICS:
        oracle.add_metric(name=name, unit=unit, value=line[name])
    expected = oracle.serialize_metric_set()
    oracle.clear_metrics()

    assert line["message"] == "request"  # the log line and the metrics record at once
    assert line["_aws"]["CloudWatchMetrics"] == expected["_aws"]["CloudWatchMetrics"]
    assert abs(line["_aws"]["Timestamp"] - expected["_aws"]["Timestamp"]) < 60_000
    assert [_value(line, n) for n, _ in observability.REQUEST_METRICS] == [
        _value(expected, n) for n, _ in observability.REQUEST_METRICS
    ]
    assert line["service"] == expected["service"]


def test_the_request_line_carries_lambdas_trace_id_and_a_utc_timestamp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-67891233-abcdef012345678912345678;Sampled=1")
    record = {"request_id": "r1", "route": "/v1/health", "status": 200, "latency_ms": 1.5}

    line = json.loads(observability.request_line(record, 1796587667.3239))

    assert line["xray_trace_id"] == "1-67891233-abcdef012345678912345678"
    assert line["timestamp"] == "2026-12-06 20:07:47,323+0000"
    assert line["_aws"]["Timestamp"] == 1796587667323
    assert (line["Latency"], line["level"]) == (1.5, "INFO")


def test_business_metrics_of_a_request_ride_on_its_one_line(
    api: Api, admin: str, network: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"resource_id": network["pool"], "date": DAY, "unit": "day", "payment": "none"}
    capsys.readouterr()

    api.post("/v1/bookings", body, token=admin)

    (line,) = _lines(capsys.readouterr().out)  # no second line through Powertools
    assert line["message"] == "request"
    assert "BookingsFree" in _metric_names(line) and line["BookingsFree"] == 1


def test_a_metric_counted_twice_in_a_request_is_declared_once_with_both_values() -> None:
    record = {"request_id": "r1", "route": "/v1/x", "status": 200, "latency_ms": 1.0}
    counted = {"WebhookLag": ("Seconds", [2.0, 5.0]), "PaymentsSucceeded": ("Count", [1])}

    line = json.loads(observability.request_line(record, 1796587667.0, counted))

    declared = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert {"Name": "WebhookLag", "Unit": "Seconds"} in declared
    assert [d["Name"] for d in declared].count("WebhookLag") == 1
    assert (line["WebhookLag"], line["PaymentsSucceeded"]) == ([2.0, 5.0], 1)


class GatewayEvent:
    """What API Gateway hands Chalice: the route template and its own request id."""

    method = "GET"
    context = {"resourcePath": "/v1/health", "requestId": "gw-request-1"}


def test_a_5xx_answer_counts_as_a_server_error(capsys: pytest.CaptureFixture[str]) -> None:
    http_middleware(GatewayEvent(), lambda event: json_response({}, 503))

    (blob,) = _emf(_lines(capsys.readouterr().out))
    assert (_value(blob, "ServerErrors"), _value(blob, "ClientErrors")) == (1, 0)


def test_the_log_line_carries_the_answers_request_id_else_the_gateways(
    capsys: pytest.CaptureFixture[str],
) -> None:
    answered = json_response({}, 200)
    answered.headers["X-Request-Id"] = "client-id-7"

    http_middleware(GatewayEvent(), lambda event: json_response({}, 200))
    http_middleware(GatewayEvent(), lambda event: answered)

    logs = [x for x in _lines(capsys.readouterr().out) if x.get("message") == "request"]
    assert [x["request_id"] for x in logs] == ["gw-request-1", "client-id-7"]


def test_a_job_run_logs_and_measures_its_duration_and_items(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with observed_job("expire_holds") as record:
        record({"job": "expire_holds", "processed": 3})

    lines = _lines(capsys.readouterr().out)
    (log,) = [x for x in lines if x.get("message") == "job"]
    (blob,) = _emf(lines)
    assert (log["job"], log["ok"], log["items"]) == ("expire_holds", True, 3)
    assert blob["job"] == "expire_holds"
    assert (_value(blob, "JobItems"), _value(blob, "JobFailures")) == (3, 0)
    assert "JobDuration" in _metric_names(blob)


def test_a_job_run_by_a_request_keeps_its_job_dimension_and_its_own_metrics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """POST /v1/admin/jobs/{job}: what the job counts is the job's (the alarms on
    `JobRuns{service, job}` see a run by hand), never the request's."""

    def run_by_hand(event: Any) -> Any:
        with observed_job("check_books") as record:
            observability.count("IntegrityFailures", 0)
            record({"processed": 2})
        return json_response({}, 200)

    http_middleware(GatewayEvent(), run_by_hand)

    blobs = _emf(_lines(capsys.readouterr().out))
    (job,) = [b for b in blobs if "JobRuns" in _metric_names(b)]
    (dimensions,) = job["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert job["job"] == "check_books" and sorted(dimensions) == ["job", "service"]
    assert "IntegrityFailures" in _metric_names(job)
    (request,) = [b for b in blobs if "Requests" in _metric_names(b)]
    assert "JobRuns" not in _metric_names(request) and "job" not in request


def test_a_failing_job_is_logged_as_an_error_and_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(RuntimeError), observed_job("send_reminders"):
        raise RuntimeError("SES is down")

    lines = _lines(capsys.readouterr().out)
    (log,) = [x for x in lines if x.get("message") == "job"]
    (blob,) = _emf(lines)
    assert (log["level"], log["ok"]) == ("ERROR", False)
    assert _value(blob, "JobFailures") == 1


def _emitted(out: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for blob in _emf(_lines(out)):
        for name in _metric_names(blob):
            totals[name] = totals.get(name, 0) + _value(blob, name)
    return totals


def test_a_card_booking_paid_counts_the_booking_the_payment_its_invoice_and_the_lag(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = {"resource_id": network["pool"], "date": DAY, "unit": "day", "payment": "card"}
    held = api.post("/v1/bookings", body, token=member).json
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    capsys.readouterr()

    # WHEN Stripe tells the payment succeeded, then delivers the same event again
    deliver(api, settings, "payment_intent.succeeded", intent, event_id="evt_paid")
    first = _emitted(capsys.readouterr().out)
    deliver(api, settings, "payment_intent.succeeded", intent, event_id="evt_paid")
    again = _emitted(capsys.readouterr().out)

    # THEN the first delivery counts one card booking, one payment, one invoice, its lag
    assert (first["BookingsCard"], first["PaymentsSucceeded"], first["InvoicesIssued"]) == (
        1,
        1,
        1,
    )
    assert first["WebhookLag"] >= 0
    # AND the duplicate counts nothing but the request
    assert not {"BookingsCard", "PaymentsSucceeded", "InvoicesIssued", "WebhookLag"} & set(again)


def test_a_free_booking_by_staff_counts_as_free_and_a_refused_one_counts_nothing(
    api: Api,
    member: str,
    admin: str,
    network: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = {"resource_id": network["pool"], "date": DAY, "unit": "day", "payment": "none"}
    capsys.readouterr()

    refused = api.post("/v1/bookings", body, token=member)
    refused_metrics = _emitted(capsys.readouterr().out)
    made = api.post("/v1/bookings", body, token=admin)
    made_metrics = _emitted(capsys.readouterr().out)

    assert (refused.status, made.status) == (403, 201)
    assert "BookingsFree" not in refused_metrics
    assert made_metrics["BookingsFree"] == 1


class RecordingSubsegment:
    def __init__(self, name: str, log: list[tuple[str, dict[str, Any]]]) -> None:
        self.annotations: dict[str, Any] = {}
        log.append((name, self.annotations))

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value


class RecordingProvider:
    """Stands in for the X-Ray provider of Powertools' Tracer: records subsegments."""

    def __init__(self) -> None:
        self.subsegments: list[tuple[str, dict[str, Any]]] = []

    @contextmanager
    def in_subsegment(self, name: str) -> Iterator[RecordingSubsegment]:
        yield RecordingSubsegment(name, self.subsegments)


def test_in_a_traced_lambda_each_answer_and_job_run_is_a_subsegment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = RecordingProvider()
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.setattr(observability, "tracer", lambda: SimpleNamespace(provider=provider))

    http_middleware(GatewayEvent(), lambda event: json_response({}, 200))
    with observed_job("expire_holds") as record:
        record({"processed": 0})

    assert provider.subsegments == [
        ("## GET /v1/health", {"route": "/v1/health", "method": "GET", "status": 200}),
        ("## job expire_holds", {"job": "expire_holds"}),
    ]


def test_outside_a_traced_lambda_the_xray_sdk_is_never_imported() -> None:
    # A fresh interpreter: an answer and a job run, as `chalice local` and the tests do them.
    code = (
        "import sys\n"
        "from chalicelib.observability import http_middleware, observed_job\n"
        "class E:\n"
        "    method = 'GET'\n"
        "    context = {'resourcePath': '/v1/health'}\n"
        "class R:\n"
        "    status_code = 200\n"
        "    headers = {}\n"
        "http_middleware(E(), lambda e: R())\n"
        "with observed_job('expire_holds'):\n"
        "    pass\n"
        "print('aws_xray_sdk' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LAMBDA_TASK_ROOT"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_log_line_names_the_caller_and_the_relay_never_other_path_ids(
    api: Api, member: str, network: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    api.get(f"/v1/relays/{network['relay']}", token=member)
    api.get("/v1/bookings/bkg_someone_elses", token=member)

    logs = [x for x in _lines(capsys.readouterr().out) if x.get("message") == "request"]
    assert logs[0]["relay_id"] == network["relay"]
    member_sub = logs[1]["member"]
    assert member_sub and member_sub not in member  # the subject, not the token
    assert "bkg_someone_elses" not in json.dumps(logs)
