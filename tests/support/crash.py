"""Crash a flow after its k-th DynamoDB or Stripe call, for every k, and let it recover.

A Lambda that dies between two writes leaves what it wrote and nothing else. `Probe`
counts the calls a flow makes to the table (a botocore event hook on the table's client)
and to the payment gateway (a wrapper around the port), and from call k on raises
`Crash`: call k itself went through (its effect is in the table or at Stripe) and
nothing after it does, as when the process is gone. `Crash` is a `BaseException` so no
`except Exception` on the way swallows it.

`crash_at_every_step` runs a `Scenario` once per k until a run makes fewer than k calls
(the flow completed), each time on a fresh subject, then lets the ordinary retries
converge (the client retries with its Idempotency-Key once the crashed claim lapsed,
Stripe redelivers the event, the schedule re-runs the job) and checks the end state and
the invariants of the whole table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.idempotency_store import CLAIM_SECONDS
from chalicelib.services.context import Context


class Crash(BaseException):
    """The process died here (not an error any code path may handle)."""


class Probe:
    """Counts table and gateway calls; from call `crash_at` on, every call raises `Crash`."""

    def __init__(self) -> None:
        self.count = 0
        self.crash_at: int | None = None
        self.calls: list[str] = []

    def arm(self, crash_at: int | None) -> None:
        self.count, self.crash_at, self.calls = 0, crash_at, []

    def disarm(self) -> None:
        self.crash_at = None

    @property
    def dead(self) -> bool:
        return self.crash_at is not None and self.count >= self.crash_at

    def before(self, name: str) -> None:
        if self.dead:
            raise Crash(f"call after the crash: {name}")

    def after(self, name: str) -> None:
        self.count += 1
        self.calls.append(name)
        if self.dead:
            raise Crash(f"crashed after call {self.count}: {name}")

    def watch_table(self, ctx: Context) -> None:
        events = ctx.table.client.meta.events
        events.register("before-call.dynamodb", self._before_call)
        events.register("after-call.dynamodb", self._after_call)

    def _before_call(self, model: Any, **_: Any) -> None:
        self.before(f"dynamodb.{model.name}")

    def _after_call(self, model: Any, **_: Any) -> None:
        self.after(f"dynamodb.{model.name}")


class CrashingGateway:
    """The payment gateway port with every Stripe call counted by a `Probe`."""

    LOCAL = frozenset({"parse_webhook"})  # no call to Stripe: signature checking

    def __init__(self, inner: Any, probe: Probe) -> None:
        self._inner = inner
        self._probe = probe

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name in self.LOCAL or name.startswith("_") or not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._probe.before(f"stripe.{name}")
            result = attribute(*args, **kwargs)
            self._probe.after(f"stripe.{name}")
            return result

        return counted


@dataclass
class Scenario:
    """One flow: `prepare(i)` sets subject i up (not counted), `run(i)` is the flow (counted,
    every step safe to repeat as its real retry would), `converged(i)` asserts its end."""

    name: str
    run: Callable[[int], None]
    converged: Callable[[int], None]
    prepare: Callable[[int], None] = field(default=lambda i: None)
    # What runs after a crash: by default the flow again (its retries); a flow whose
    # retry may legitimately answer "already done" says what then runs (a job).
    recover: Callable[[int], None] | None = None


@dataclass
class CrashReport:
    scenario: str
    steps: int = 0  # calls of a complete run
    runs: int = 0
    crashed_on: list[str] = field(default_factory=list)


def crash_at_every_step(
    ctx: Context,
    probe: Probe,
    scenario: Scenario,
    check: Callable[[], None],
    *,
    samples: int = 0,
) -> CrashReport:
    """Run `scenario` crashed after call k, for k = 1, 2, ... until a run completes.

    With `samples`, a first run without crash counts the calls N, then only `samples`
    values of k spread over 1..N are crashed (the first and the last among them): the
    quick variant of `make test`; `make soak` crashes every call."""
    report = CrashReport(scenario.name)
    subject = 0
    planned: list[int] | None = None
    if samples:
        subject += 1
        _attempt(ctx, probe, scenario, check, subject, None, report)
        count = report.steps
        planned = sorted({1 + (count - 1) * j // max(1, samples - 1) for j in range(samples)})
    k = 1
    while True:
        if planned is not None:
            if not planned:
                return report
            k = planned.pop(0)
        subject += 1
        if not _attempt(ctx, probe, scenario, check, subject, k, report):
            return report
        k += 1


def _attempt(
    ctx: Context,
    probe: Probe,
    scenario: Scenario,
    check: Callable[[], None],
    subject: int,
    k: int | None,
    report: CrashReport,
) -> bool:
    """One run crashed after call k (None: not crashed), its recovery and the checks;
    True when it crashed."""
    scenario.prepare(subject)
    probe.arm(k)
    try:
        scenario.run(subject)
        crashed = False
    except Crash:
        crashed = True
        report.crashed_on.append(probe.calls[-1])
    finally:
        probe.disarm()
        steps = probe.count
    report.runs += 1
    if crashed:
        # The crashed request's idempotency claim lapses; then the retries run.
        ctx.clock.advance(seconds=CLAIM_SECONDS + 1)  # type: ignore[attr-defined]
        try:
            (scenario.recover or scenario.run)(subject)
        except Exception as exc:
            raise AssertionError(
                f"{scenario.name}: the retry after a crash at call {k} "
                f"({report.crashed_on[-1]}) failed: {exc!r}"
            ) from exc
    try:
        scenario.converged(subject)
        check()
    except AssertionError as exc:
        where = f"a crash at call {k} ({report.crashed_on[-1]})" if crashed else "no crash"
        raise AssertionError(f"{scenario.name}, after {where}: {exc}") from exc
    if not crashed:
        report.steps = steps
    return crashed


def empty_table(ctx: Context) -> None:
    """Delete every item (not counted: call it from a scenario's `prepare`), for a flow
    whose run reads everything of its kind, as a monthly job over all companies does:
    on a table that keeps every earlier subject, each run makes more calls than the one
    before and crashing "after every call" would never reach a run that completes."""
    table = ctx.table.table
    schema = ctx.table.client.describe_table(TableName=table.name)["Table"]["KeySchema"]
    keys = [a["AttributeName"] for a in schema]
    scan: dict[str, Any] = {
        "TableName": table.name,
        "ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(keys))),
    }
    scan["ExpressionAttributeNames"] = {f"#k{i}": key for i, key in enumerate(keys)}
    with table.batch_writer() as batch:
        while True:
            page = ctx.table.client.scan(**scan)
            for item in page["Items"]:
                batch.delete_item(Key={key: item[key] for key in keys})
            if "LastEvaluatedKey" not in page:
                break
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    ctx.catalogue.invalidate()


class FaultInjector:
    """Makes chosen DynamoDB calls fail as DynamoDB or the network would, once each:
    `fail(at, error)` raises `error()` instead of the `at`-th call after arming (as if
    boto3's own retries were exhausted); `fail_first(operation, error)` instead of the
    first call of that operation (robust to reads added before it)."""

    def __init__(self, ctx: Context) -> None:
        self.count = 0
        self.plan: dict[int, Callable[[str], BaseException]] = {}
        self.failed: list[str] = []
        self.operation_plan: dict[str, Callable[[str], BaseException]] = {}
        ctx.table.client.meta.events.register("before-call.dynamodb", self._before_call)

    def fail(self, at: int, error: Callable[[str], BaseException]) -> None:
        self.count, self.plan, self.failed = 0, {at: error}, []

    def fail_first(self, operation: str, error: Callable[[str], BaseException]) -> None:
        self.count, self.plan, self.failed = 0, {}, []
        self.operation_plan = {operation: error}

    def off(self) -> None:
        self.plan = {}
        self.operation_plan = {}

    def _before_call(self, model: Any, **_: Any) -> None:
        self.count += 1
        error = self.plan.pop(self.count, None) or self.operation_plan.pop(model.name, None)
        if error is not None:
            self.failed.append(model.name)
            raise error(model.name)


def client_error(code: str, reasons: list[str] | None = None) -> Callable[[str], BaseException]:
    """A botocore ClientError as DynamoDB answers it (`reasons`: a cancelled transaction's)."""
    from botocore.exceptions import ClientError

    def make(operation: str) -> BaseException:
        response: dict[str, Any] = {"Error": {"Code": code, "Message": f"{code} (injected)"}}
        if reasons is not None:
            response["CancellationReasons"] = [{"Code": r} for r in reasons]
        return ClientError(response, operation)

    return make


def read_timeout(operation: str) -> BaseException:
    from botocore.exceptions import ReadTimeoutError

    return ReadTimeoutError(endpoint_url="https://dynamodb.eu-west-3.amazonaws.com")


def connection_refused(operation: str) -> BaseException:
    from botocore.exceptions import EndpointConnectionError

    return EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-3.amazonaws.com")
