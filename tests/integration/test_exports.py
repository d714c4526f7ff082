"""Asynchronous exports: asked over the API, run by the worker, one file each in S3."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.domain import exports as rules
from chalicelib.services import accounting, archive, exports, periods
from chalicelib.services.context import Context
from tests.integration.test_periods import close, fee_lines, issue_paid
from tests.support.api import Api, assert_problem, error_fields, operator_body


@pytest.fixture
def operator_id(api: Api, admin: str) -> str:
    answer = api.post("/v1/operators", operator_body(accounting_start="2026-10"), token=admin)
    return str(answer.json["id"])


def ask(api: Api, token: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else None
    return api.post("/v1/exports", body, token=token, headers=headers)


def stored_file(ctx: Context, export_id: str) -> bytes:
    export = ctx.exports.get(export_id)
    assert export is not None and export["status"] == "done", export
    data = archive.archive_store(ctx).get(str(export["key"]))
    assert data is not None
    return data


def objects_of(ctx: Context, export_id: str) -> list[str]:
    store = archive.archive_store(ctx)
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"exports/{export_id}/")
    return [item["Key"] for item in listed.get("Contents", [])]


def some_books(ctx: Context, operator_id: str) -> None:
    issue_paid(ctx, operator_id, "pi_oct", "2026-10-30T10:00:00+01:00")
    issue_paid(ctx, operator_id, "pi_nov", "2026-11-03T10:00:00+01:00")
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20)))


def test_a_fec_export_is_accepted_then_done_with_the_fec_of_the_direct_download(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    some_books(ctx, operator_id)
    close(api, accountant, operator_id, "2026-10")
    accepted = ask(api, accountant, {"kind": "fec", "operator_id": operator_id, "year": 2026})
    assert (accepted.status, accepted.json["status"]) == (202, "pending")
    assert accepted.headers["Location"] == f"/v1/exports/{accepted.json['id']}"
    assert exports.run_exports(ctx)["processed"] == 1
    done = api.get(accepted.headers["Location"], token=accountant).json
    name, text = accounting.fec_export(ctx, operator_id, 2026)
    data = stored_file(ctx, done["id"])
    assert data == text.encode()
    assert (done["status"], done["file_name"], done["size"]) == ("done", name, len(data))
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    assert done["url"].startswith("http") and "X-Amz-Expires=900" in done["url"]


def test_the_same_idempotency_key_gives_the_same_export_and_one_file(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    body = {"kind": "fec", "operator_id": operator_id, "year": 2026}
    first = ask(api, accountant, body, key="k-fec-1")
    again = ask(api, accountant, body, key="k-fec-1")
    assert (again.status, again.json["id"]) == (202, first.json["id"])
    assert again.headers["Location"] == first.headers["Location"]
    assert len(ctx.exports.open_exports()) == 1
    exports.run_exports(ctx)
    exports.run_exports(ctx)
    assert len(objects_of(ctx, first.json["id"])) == 1


def test_a_crashed_run_is_run_again_after_its_lease_and_leaves_one_file(
    ctx: Context, api: Api, accountant: str, operator_id: str, clock: FixedClock
) -> None:
    some_books(ctx, operator_id)
    export_id = ask(api, accountant, {"kind": "fec", "operator_id": operator_id, "year": 2026})
    export_id = export_id.json["id"]
    now = clock.now()
    assert ctx.exports.claim(export_id, "crashed", rules.iso(now), rules.lease_end(now))
    assert exports.run_exports(ctx)["processed"] == 0  # held by the crashed run's lease
    clock.advance(seconds=rules.LEASE_SECONDS + 1)
    assert exports.run_export(ctx, export_id) == "done"
    export = api.get(f"/v1/exports/{export_id}", token=accountant).json
    assert (export["status"], export["attempts"]) == ("done", 2)
    assert objects_of(ctx, export_id) == [rules.object_key(export_id, 2, export["file_name"])]
    # The crashed run coming back cannot finish it any more.
    assert not ctx.exports.finish(ctx.exports.get(export_id) or {}, "crashed", "done", {})


def test_a_run_that_lost_its_lease_deletes_its_file(
    ctx: Context, api: Api, accountant: str, operator_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    export_id = ask(api, accountant, {"kind": "fec", "operator_id": operator_id, "year": 2026})
    export_id = export_id.json["id"]
    monkeypatch.setattr(ctx.exports, "finish", lambda *args: False)
    assert exports.run_export(ctx, export_id) == "superseded"
    assert objects_of(ctx, export_id) == []


def test_an_export_gives_up_after_its_last_attempt(
    ctx: Context, api: Api, accountant: str, operator_id: str, clock: FixedClock
) -> None:
    export_id = ask(api, accountant, {"kind": "fec", "operator_id": operator_id, "year": 2026})
    export_id = export_id.json["id"]
    for attempt in range(rules.MAX_ATTEMPTS):
        now = clock.now()
        assert ctx.exports.claim(export_id, f"run{attempt}", rules.iso(now), rules.lease_end(now))
        clock.advance(seconds=rules.LEASE_SECONDS + 1)
    assert exports.run_export(ctx, export_id) == "failed"
    export = api.get(f"/v1/exports/{export_id}", token=accountant).json
    assert export["status"] == "failed" and "Gave up" in export["error"]
    assert ctx.exports.open_exports() == []


def test_books_that_cannot_be_exported_fail_with_the_reason(
    ctx: Context, api: Api, accountant: str, operator_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = fee_lines(operator_id, date(2026, 10, 20))
    periods.book(ctx, lines[:1])  # half an entry: unbalanced
    export_id = ask(api, accountant, {"kind": "fec", "operator_id": operator_id, "year": 2026})
    export_id = export_id.json["id"]
    assert exports.run_export(ctx, export_id) == "failed"
    export = api.get(f"/v1/exports/{export_id}", token=accountant).json
    assert "unbalanced" in export["error"] and "url" not in export
    assert objects_of(ctx, export_id) == []


def test_a_passing_failure_puts_the_export_back_to_pending(
    ctx: Context, api: Api, accountant: str, operator_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    export_id = ask(api, accountant, {"kind": "fec", "operator_id": operator_id, "year": 2026})
    export_id = export_id.json["id"]

    def down(*args: Any) -> Any:
        raise ConnectionError("S3 is away")

    monkeypatch.setattr(exports, "fec_chunks", down)
    with pytest.raises(ConnectionError):
        exports.run_export(ctx, export_id)
    assert (ctx.exports.get(export_id) or {})["status"] == "pending"
    monkeypatch.undo()
    assert exports.run_export(ctx, export_id) == "done"


def test_an_invoices_csv_export_is_the_csv_of_the_direct_download(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    some_books(ctx, operator_id)
    body = {"kind": "invoices_csv", "operator_id": operator_id, "from": "2026-10-01"}
    export_id = ask(api, accountant, {**body, "dialect": "excel-fr"}).json["id"]
    exports.run_exports(ctx)
    expected = accounting.invoices_csv(ctx, operator_id, (date(2026, 10, 1), None), "excel-fr")
    assert stored_file(ctx, export_id) == expected.encode()
    assert expected.count("\r\n") == 3  # header and two invoices


def test_a_pdf_zip_holds_the_pdf_of_each_invoice_of_the_range(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    documents = [
        issue_paid(ctx, operator_id, "pi_1", "2026-11-30T10:00:00+01:00"),
        issue_paid(ctx, operator_id, "pi_2", "2026-12-01T07:00:00+01:00"),
    ]
    body = {
        "kind": "invoices_pdf_zip",
        "operator_id": operator_id,
        "from": "2026-12-01",  # the day both were issued
        "to": "2026-12-31",
    }
    export_id = ask(api, accountant, body).json["id"]
    exports.run_exports(ctx)
    files = zipfile.ZipFile(io.BytesIO(stored_file(ctx, export_id)))
    names = sorted(files.namelist())
    assert names == [f"{n}.pdf" for n in sorted(d["number"] for d in documents)]
    assert all(files.read(name).startswith(b"%PDF") for name in names)


def test_an_archive_export_holds_the_sealed_archives_of_the_year(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    closed = close(api, accountant, operator_id, "2026-10").json
    export_id = ask(api, accountant, {"kind": "archive", "operator_id": operator_id, "year": 2026})
    exports.run_exports(ctx, None)
    files = zipfile.ZipFile(io.BytesIO(stored_file(ctx, export_id.json["id"])))
    inner = files.read(f"archive-{operator_id}-2026-10.zip")
    assert hashlib.sha256(inner).hexdigest() == closed["archive_sha256"]
    assert json.loads(files.read("archives.json"))[0]["period"] == "2026-10"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "fec"}, "year"),
        ({"kind": "fec", "year": 2026, "from": "2026-01-01"}, "from"),
        ({"kind": "invoices_pdf_zip", "from": "2026-01-01", "to": "2026-03-01"}, "to"),
        ({"kind": "invoices_csv", "from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"kind": "ledger", "year": 2026}, "kind"),
        ({"kind": "fec", "year": "2026"}, "year"),
    ],
)
def test_a_bad_request_is_a_validation_error_naming_the_field(
    api: Api, accountant: str, operator_id: str, body: dict[str, Any], field: str
) -> None:
    answer = ask(api, accountant, {"operator_id": operator_id, **body})
    assert_problem(answer, 422, "validation_error")
    assert field in error_fields(answer)


def test_an_unknown_operator_or_export_is_not_found(api: Api, accountant: str) -> None:
    assert_problem(
        ask(api, accountant, {"kind": "fec", "operator_id": "op_nope", "year": 2026}),
        404,
        "not_found",
    )
    assert_problem(api.get("/v1/exports/exp_nope", token=accountant), 404, "not_found")


def test_members_cannot_ask_for_or_read_exports(
    api: Api, member: str, accountant: str, operator_id: str
) -> None:
    body = {"kind": "fec", "operator_id": operator_id, "year": 2026}
    assert_problem(ask(api, member, body), 403, "forbidden")
    export_id = ask(api, accountant, body).json["id"]
    assert_problem(api.get(f"/v1/exports/{export_id}", token=member), 403, "forbidden")


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, export_id: str) -> None:
        self.sent.append(export_id)


def test_with_a_queue_the_export_is_sent_to_it_and_the_sweep_only_resends_the_stale(
    ctx: Context,
    api: Api,
    accountant: str,
    operator_id: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = FakeQueue()
    monkeypatch.setattr(exports, "export_queue", lambda c: queue)
    export_id = ask(api, accountant, {"kind": "fec", "operator_id": operator_id, "year": 2026})
    assert queue.sent == [export_id.json["id"]]
    assert exports.run_exports(ctx)["processed"] == 0
    clock.advance(seconds=rules.STALE_PENDING_SECONDS)
    assert exports.run_exports(ctx)["processed"] == 1
    assert queue.sent == [export_id.json["id"]] * 2


def test_the_queue_worker_runs_the_export_of_its_message(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    from chalice.test import Client

    from app import app

    export_id = ask(api, accountant, {"kind": "fec", "operator_id": operator_id, "year": 2026})
    export_id = export_id.json["id"]
    with Client(app) as client:
        event = client.events.generate_sqs_event(
            message_bodies=[json.dumps({"export_id": export_id}), "not ours"],
            queue_name="relais-exports",
        )
        answer = client.lambda_.invoke("export_worker", event)
    assert answer.payload["outcomes"] == {export_id: "done"}
    assert api.get(f"/v1/exports/{export_id}", token=accountant).json["status"] == "done"


def test_a_direct_fec_download_beyond_its_limit_answers_413_pointing_at_exports(
    ctx: Context, api: Api, accountant: str, operator_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    some_books(ctx, operator_id)
    monkeypatch.setattr(accounting, "SYNC_FEC_MAX_LINES", 3)
    answer = api.get(f"/v1/accounting/fec?operator_id={operator_id}&year=2026", token=accountant)
    problem = assert_problem(answer, 413, "too_large")
    assert "/v1/exports" in problem["detail"]


def test_a_direct_csv_download_beyond_its_limit_answers_413_pointing_at_exports(
    ctx: Context, api: Api, accountant: str, operator_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    some_books(ctx, operator_id)
    monkeypatch.setattr(accounting, "SYNC_CSV_MAX_BYTES", 100)
    path = f"/v1/accounting/invoices.csv?operator_id={operator_id}"
    problem = assert_problem(api.get(path, token=accountant), 413, "too_large")
    assert "POST /v1/exports" in problem["detail"]
