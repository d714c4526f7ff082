"""Structured logs and CloudWatch metrics (EMF) with Powertools, fitted to Chalice.

- Every API answer writes one JSON line: request id, route (the template, never the
  concrete path or query, which may hold ids of others or secret feed tokens), method,
  status, latency, the caller's `member` id (the token's subject) and the `relay_id`,
  `operator_id`, `resource_id` of the path. Bodies, headers, tokens, e-mail addresses
  and IBANs are never logged. The same line is the answer's metrics record in
  CloudWatch's embedded metric format (`Requests`, `ServerErrors`, `ClientErrors`,
  `Latency`): one small `orjson.dumps` per answer, written here rather than through
  Powertools' Logger and Metrics (measured in process: 127 µs per answer then, 20 now).
  It is written whatever the log level, since the metrics ride on it.
- Every job run adds `JobRuns`, `JobFailures`, `JobDuration` and `JobItems` with a `job`
  dimension, whether scheduled or run by hand (Powertools).
- `count(name)` and `measure(name, unit, value)` let a use case add a business metric
  (bookings by payment kind, Stripe events and their lag, documents issued, books
  checks): README "Observability" lists them and the alarms built on them. Added while
  answering a request, they are written in the answer's line; in a job, by Powertools.

- X-Ray (Powertools Tracer, where Lambda traces: stages with `tracing`): a subsegment
  per answer (`## GET /v1/...`, annotated with route and status) and per job run
  (`## job <name>`), and the DynamoDB, SSM and Stripe calls inside them (Tracer patches
  botocore and requests). Elsewhere the X-Ray SDK is never even imported.

Powertools is imported when first needed, not at import: `chalice package` and the
import of app.py stay cheap. A job's metrics are flushed (printed as EMF, by Powertools)
at its end.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

import orjson

NAMESPACE = "Relais"
# Not "relais": Powertools logs through the stdlib logger named after the service, and
# Chalice already owns the logger named after the app (its own format, no propagation).
SERVICE = "relais-backend"


class _Stdout:
    """sys.stdout as it is at each write (Lambda's, or a test's capture)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@cache
def logger() -> Any:
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE, stream=_Stdout())  # type: ignore[arg-type]


@cache
def metrics() -> Any:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=SERVICE)


# Powertools keeps one metric set per container and flushes it by itself past 100
# metrics: the tests (and any thread a use case starts) must not add while it flushes.
_metrics_lock = threading.Lock()


# The business metrics a use case adds while a request is answered: written in the
# answer's own line (same namespace, same dimension), so no Powertools on that path.
_request_metrics: ContextVar[dict[str, tuple[str, list[float]]] | None] = ContextVar(
    "relais_request_metrics", default=None
)


def measure(name: str, unit: str, value: float) -> None:
    """Add a value to a metric of this request or job (flushed at its end)."""
    collected = _request_metrics.get()
    if collected is not None:
        collected.setdefault(name, (unit, []))[1].append(value)
        return
    with _metrics_lock:
        metrics().add_metric(name=name, unit=unit, value=value)


def count(name: str, value: float = 1) -> None:
    """Add to a business metric of this request or job (flushed at its end)."""
    measure(name, "Count", value)


@cache
def tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def tracing_enabled() -> bool:
    """In a Lambda function that traces (the template sets POWERTOOLS_TRACE_DISABLED on
    stages without `tracing`), never in `chalice local` or the tests: the same rule as
    Powertools', checked before importing the X-Ray SDK (a third of a second)."""
    if not os.environ.get("LAMBDA_TASK_ROOT"):  # outside Lambda: one lookup per request
        return False
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower()
    return not os.environ.get("AWS_CHALICE_CLI_MODE") and disabled not in ("1", "true", "yes", "on")


@contextmanager
def traced(name: str, **annotations: str) -> Iterator[Callable[..., None]]:
    """An X-Ray subsegment around a block; the yielded function adds annotations."""
    if not tracing_enabled():
        yield lambda **_: None
        return
    with tracer().provider.in_subsegment(name) as subsegment:

        def annotate(**more: Any) -> None:
            for key, value in more.items():
                subsegment.put_annotation(key, value)

        annotate(**annotations)
        yield annotate


# Ids a use case adds to this request's log line (the caller, once authenticated).
_log_keys: ContextVar[dict[str, str] | None] = ContextVar("relais_log_keys", default=None)
# Path parameters worth a log line: never a booking id of someone else, never a feed token.
LOGGED_PATH_PARAMS = ("relay_id", "operator_id", "resource_id")


def add_log_keys(**keys: str) -> None:
    """Ids for the log line of the request being answered (outside a request: dropped)."""
    current = _log_keys.get()
    if current is not None:
        current.update(keys)


def _flush() -> None:
    with _metrics_lock:
        metrics().flush_metrics(raise_on_empty_metrics=False)


def request_record(event: Any, status: int, latency_ms: float, request_id: str | None) -> dict:
    context = getattr(event, "context", None) or {}
    params = getattr(event, "uri_params", None) or {}
    return {
        "request_id": request_id or context.get("requestId"),
        "route": context.get("resourcePath"),
        "method": getattr(event, "method", None),
        "status": status,
        "latency_ms": round(latency_ms, 1),
        **{k: params[k] for k in LOGGED_PATH_PARAMS if isinstance(params.get(k), str)},
        **(_log_keys.get() or {}),
    }


def http_middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice HTTP middleware: one log line and the request metrics per answer."""
    started = time.perf_counter()
    keys = _log_keys.set({})
    counted = _request_metrics.set({})
    try:
        if tracing_enabled():
            route = (getattr(event, "context", None) or {}).get("resourcePath") or "?"
            method = getattr(event, "method", None) or "?"
            with traced(f"## {method} {route}", route=route, method=method) as annotate:
                response = get_response(event)
                annotate(status=response.status_code)
        else:  # no subsegment to open: not even the context manager's generator
            response = get_response(event)
        latency_ms = (time.perf_counter() - started) * 1000
        _answered(event, response, latency_ms, _request_metrics.get() or {})
    finally:
        _log_keys.reset(keys)
        _request_metrics.reset(counted)
    return response


def _answered(
    event: Any, response: Any, latency_ms: float, counted: dict[str, tuple[str, list[float]]]
) -> None:
    headers = response.headers or {}
    request_id = headers.get("X-Request-Id")  # set by the API's middleware, spelt so
    if request_id is None:
        request_id = {k.lower(): v for k, v in headers.items()}.get("x-request-id")
    record = request_record(event, response.status_code, latency_ms, request_id)
    sys.stdout.write(request_line(record, time.time(), counted))
    _flush_business_metrics()


# The four metrics every answer carries, as EMF declares them (one service dimension,
# as Powertools declares its own, so that both land in the same CloudWatch metrics).
REQUEST_METRICS = (
    ("Requests", "Count"),
    ("ServerErrors", "Count"),
    ("ClientErrors", "Count"),
    ("Latency", "Milliseconds"),
)
_REQUEST_METRIC_DECLARATIONS = [{"Name": name, "Unit": unit} for name, unit in REQUEST_METRICS]
_EMF_DIRECTIVE: dict[str, Any] = {
    "Namespace": NAMESPACE,
    "Dimensions": [["service"]],
    "Metrics": _REQUEST_METRIC_DECLARATIONS,
}


def request_line(
    record: dict[str, Any], now: float, counted: dict[str, tuple[str, list[float]]] | None = None
) -> str:
    """The answer's JSON log line (`record`, see `request_record`), which is also its
    EMF metrics record: `_aws` names the metrics, their values are top-level keys; the
    business metrics `counted` while answering (name: unit and values) ride along."""
    status = record["status"]
    directive = _EMF_DIRECTIVE
    if counted:
        declared = [{"Name": name, "Unit": unit} for name, (unit, _) in counted.items()]
        directive = {**_EMF_DIRECTIVE, "Metrics": _REQUEST_METRIC_DECLARATIONS + declared}
    seconds = int(now)
    line = {
        "level": "INFO",
        "message": "request",
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
        + f",{int((now - seconds) * 1000):03d}+0000",
        "service": SERVICE,
        **record,
        "_aws": {"Timestamp": int(now * 1000), "CloudWatchMetrics": [directive]},
        "Requests": 1,
        "ServerErrors": int(status >= 500),
        "ClientErrors": int(400 <= status < 500),
        "Latency": record["latency_ms"],
    }
    for name, (_, values) in (counted or {}).items():
        line[name] = values[0] if len(values) == 1 else values
    trace = os.environ.get("_X_AMZN_TRACE_ID")  # Lambda's, per invocation
    if trace:
        line["xray_trace_id"] = trace.split(";")[0].replace("Root=", "")
    return orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE).decode()


def _flush_business_metrics() -> None:
    """What was counted outside the request's context (a thread it started), if anything."""
    if not metrics.cache_info().currsize:
        return  # nothing was ever counted in this process
    with _metrics_lock:
        if metrics().metric_set:
            metrics().flush_metrics(raise_on_empty_metrics=False)


@contextmanager
def observed_job(job: str) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Time a job run; the caller hands its result to the yielded function. Its metrics
    are the job's (dimensions service and job), also when a request runs it by hand
    (POST /v1/admin/jobs/{job}): not the request's."""
    started = time.perf_counter()
    result: dict[str, Any] = {}
    failed = True
    outside_request = _request_metrics.set(None)
    try:
        with traced(f"## job {job}", job=job):
            yield result.update
        failed = False
    finally:
        duration_ms = (time.perf_counter() - started) * 1000
        items = result.get("processed", 0)
        record = {"job": job, "ok": not failed, "duration_ms": round(duration_ms, 1)}
        if isinstance(items, (int, float)):
            record["items"] = items
        log = logger().error if failed else logger().info
        log("job", extra=record)
        with _metrics_lock:
            metrics().add_dimension(name="job", value=job)
        count("JobRuns")
        count("JobFailures", int(failed))
        measure("JobDuration", "Milliseconds", duration_ms)
        if isinstance(items, (int, float)):
            count("JobItems", items)
        try:
            _flush()
        finally:
            _request_metrics.reset(outside_request)
