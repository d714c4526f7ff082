"""JSON logs and EMF metrics (Powertools) for API answers and job runs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.api.endpoint import json_response
from chalicelib.observability import http_middleware, observed_job
from tests.support.api import Api


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
