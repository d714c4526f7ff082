"""An export's files in S3: one export, one file, whatever its runs went through, and an
export is not answered beyond its file's life in the bucket."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.archive_store import EXPORT_FILES_DAYS
from chalicelib.adapters.clock import FixedClock
from chalicelib.domain import exports as rules
from chalicelib.errors import ConcurrentUpdate
from chalicelib.services import exports
from chalicelib.services.context import Context
from infra.package import archive_bucket
from tests.integration.test_exports import ask, objects_of, some_books
from tests.support.api import Api, assert_problem, operator_body

FEC_2026 = {"kind": "fec", "year": 2026}


class Killed(BaseException):
    """The Lambda stopped at its timeout: nothing after this point of the run happens."""


@pytest.fixture
def operator_id(api: Api, admin: str) -> str:
    answer = api.post("/v1/operators", operator_body(accounting_start="2026-10"), token=admin)
    return str(answer.json["id"])


@pytest.fixture
def export_id(api: Api, accountant: str, operator_id: str) -> str:
    return str(ask(api, accountant, {**FEC_2026, "operator_id": operator_id}).json["id"])


def failing_first(real: Any, error: BaseException, apply: bool = False) -> Any:
    """`real`, except that its first call raises `error` (after doing its work if `apply`)."""
    first = iter([True])

    def call(*args: Any) -> Any:
        if next(first, False):
            if apply:
                real(*args)
            raise error
        return real(*args)

    return call


def only_file(ctx: Context, api: Api, accountant: str, export_id: str, attempt: int) -> None:
    done = api.get(f"/v1/exports/{export_id}", token=accountant).json
    assert done["status"] == "done", done
    assert objects_of(ctx, export_id) == [rules.object_key(export_id, attempt, done["file_name"])]


# -- one export, one file --------------------------------------------------------------------


def test_a_run_whose_finish_fails_deletes_its_file_and_the_retry_leaves_one(
    ctx: Context,
    api: Api,
    accountant: str,
    operator_id: str,
    export_id: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    some_books(ctx, operator_id)
    contention = ConcurrentUpdate("The resource is under heavy contention; please retry.")
    monkeypatch.setattr(ctx.exports, "finish", failing_first(ctx.exports.finish, contention))
    with pytest.raises(ConcurrentUpdate):
        exports.run_export(ctx, export_id)
    assert objects_of(ctx, export_id) == []
    assert (ctx.exports.get(export_id) or {})["status"] == "pending"  # run again at once
    clock.advance(seconds=rules.LEASE_SECONDS + 1)
    assert exports.run_export(ctx, export_id) == "done"
    only_file(ctx, api, accountant, export_id, 2)


def test_a_run_killed_after_its_upload_leaves_a_file_the_next_run_deletes(
    ctx: Context,
    api: Api,
    accountant: str,
    operator_id: str,
    export_id: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    some_books(ctx, operator_id)
    monkeypatch.setattr(ctx.exports, "finish", failing_first(ctx.exports.finish, Killed()))
    with pytest.raises(Killed):
        exports.run_export(ctx, export_id)
    assert len(objects_of(ctx, export_id)) == 1  # the killed run's file
    assert exports.run_exports(ctx)["processed"] == 0  # held until its lease runs out
    clock.advance(seconds=rules.LEASE_SECONDS + 1)
    assert exports.run_exports(ctx) == {"job": "run_exports", "processed": 1, "done": 1}
    only_file(ctx, api, accountant, export_id, 2)


def test_a_finish_that_raised_after_being_applied_keeps_its_file(
    ctx: Context,
    api: Api,
    accountant: str,
    export_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A timeout on the answer of a transaction DynamoDB applied: the export is done with
    this run's file, which must not be deleted."""
    lost = ConcurrentUpdate("No answer from DynamoDB.")
    monkeypatch.setattr(ctx.exports, "finish", failing_first(ctx.exports.finish, lost, apply=True))
    assert exports.run_export(ctx, export_id) == "done"
    only_file(ctx, api, accountant, export_id, 1)


def test_a_message_redelivered_after_done_changes_nothing(
    ctx: Context, api: Api, accountant: str, export_id: str
) -> None:
    assert exports.run_export(ctx, export_id) == "done"
    before = ctx.exports.get(export_id)
    assert exports.run_export(ctx, export_id) == "skipped"
    assert ctx.exports.get(export_id) == before
    only_file(ctx, api, accountant, export_id, 1)


def test_giving_up_deletes_the_files_of_the_runs_that_died(
    ctx: Context,
    api: Api,
    accountant: str,
    export_id: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for _ in range(rules.MAX_ATTEMPTS):
        monkeypatch.setattr(ctx.exports, "finish", failing_first(ctx.exports.finish, Killed()))
        with pytest.raises(Killed):
            exports.run_export(ctx, export_id)
        monkeypatch.undo()
        clock.advance(seconds=rules.LEASE_SECONDS + 1)
    assert len(objects_of(ctx, export_id)) == rules.MAX_ATTEMPTS
    assert exports.run_export(ctx, export_id) == "failed"
    assert objects_of(ctx, export_id) == []


# -- an export lives as long as its file -----------------------------------------------------


def test_the_bucket_deletes_export_files_when_the_records_say() -> None:
    (rule,) = [
        r
        for r in archive_bucket()["Properties"]["LifecycleConfiguration"]["Rules"]
        if r.get("Prefix") == "exports/"
    ]
    assert rule["ExpirationInDays"] == EXPORT_FILES_DAYS


def test_a_done_export_does_not_outlive_its_file(ctx: Context, export_id: str) -> None:
    exports.run_exports(ctx)
    item = ctx.table.get(f"EXPORT#{export_id}", "EXPORT")
    assert item is not None and item["status"] == "done"
    started = datetime.fromisoformat(str(item["started_at"])).timestamp()
    finished = datetime.fromisoformat(str(item["finished_at"])).timestamp()
    assert (
        int(item["ttl"])
        <= started + EXPORT_FILES_DAYS * 86400
        <= finished + EXPORT_FILES_DAYS * 86400
    )
    until = datetime.fromisoformat(str(item["available_until"])).timestamp()
    assert int(item["ttl"]) == until


def test_an_export_past_its_file_is_not_found_before_dynamodb_deletes_it(
    ctx: Context, api: Api, accountant: str, export_id: str, clock: FixedClock
) -> None:
    exports.run_exports(ctx)
    item = ctx.table.get(f"EXPORT#{export_id}", "EXPORT") or {}
    file_kept_until = datetime.fromisoformat(str(item["started_at"])) + timedelta(
        days=EXPORT_FILES_DAYS
    )
    clock.moment = datetime.fromtimestamp(int(item["ttl"]) - 1, clock.moment.tzinfo)
    link = api.get(f"/v1/exports/{export_id}", token=accountant).json
    assert link["status"] == "done" and link["expires_at"] <= rules.iso(file_kept_until)
    clock.advance(seconds=1)
    gone = api.get(f"/v1/exports/{export_id}", token=accountant)
    assert_problem(gone, 404, "not_found")
    assert ctx.table.get(f"EXPORT#{export_id}", "EXPORT") is not None  # moto never expires


def test_a_failed_export_expires_too(
    ctx: Context, api: Api, accountant: str, export_id: str, clock: FixedClock
) -> None:
    for attempt in range(rules.MAX_ATTEMPTS):
        now = clock.now()
        assert ctx.exports.claim(export_id, f"run{attempt}", rules.iso(now), rules.lease_end(now))
        clock.advance(seconds=rules.LEASE_SECONDS + 1)
    assert exports.run_export(ctx, export_id) == "failed"
    assert "ttl" in (ctx.table.get(f"EXPORT#{export_id}", "EXPORT") or {})
    clock.advance(days=EXPORT_FILES_DAYS)
    assert_problem(api.get(f"/v1/exports/{export_id}", token=accountant), 404, "not_found")


def test_the_same_idempotency_key_after_expiry_asks_for_a_new_export(
    ctx: Context, api: Api, accountant: str, operator_id: str, clock: FixedClock
) -> None:
    body = {**FEC_2026, "operator_id": operator_id}
    first = ask(api, accountant, body, key="k-fec-week").json["id"]
    exports.run_exports(ctx)
    clock.advance(days=EXPORT_FILES_DAYS)
    again = ask(api, accountant, body, key="k-fec-week")
    assert (again.status, again.json["id"], again.json["status"]) == (202, first, "pending")
    assert exports.run_export(ctx, first) == "done"
    only_file(ctx, api, accountant, first, 1)
