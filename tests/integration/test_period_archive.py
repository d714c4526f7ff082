"""Sealed archives of closed months, the chain check, and the FEC they fix."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.domain.archive import sha256
from chalicelib.services import archive, periods
from chalicelib.services.context import Context
from tests.integration.test_periods import close, fee_lines, issue_paid
from tests.support.api import Api, operator_body
from tests.support.fec_checker import check_fec


@pytest.fixture
def operator_id(api: Api, admin: str) -> str:
    answer = api.post("/v1/operators", operator_body(accounting_start="2026-10"), token=admin)
    return str(answer.json["id"])


def zip_of(api: Api, token: str, operator_id: str, month: str) -> bytes:
    answer = api.get(
        f"/v1/operators/{operator_id}/periods/{month}/archive",
        token=token,
        headers={"Accept": "application/zip"},
    )
    assert answer.status == 200
    return bytes(answer.body) if not isinstance(answer.body, bytes) else answer.body


def test_archive_link_names_the_hash_of_the_period(
    api: Api, accountant: str, operator_id: str
) -> None:
    closed = close(api, accountant, operator_id, "2026-10").json
    link = api.get(f"/v1/operators/{operator_id}/periods/2026-10/archive", token=accountant).json
    assert (link["sha256"], link["url"].startswith("http")) == (closed["archive_sha256"], True)


def test_archive_zip_hashes_to_the_period_hash(api: Api, accountant: str, operator_id: str) -> None:
    closed = close(api, accountant, operator_id, "2026-10").json
    assert sha256(zip_of(api, accountant, operator_id, "2026-10")) == closed["archive_sha256"]


def test_archive_holds_documents_fec_vat_and_a_manifest_of_their_hashes(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    document = issue_paid(ctx, operator_id, "pi_dec", "2026-12-01T07:00:00+01:00")
    ctx.table.table.put_item(  # the invoice's booked month, as if issued in October
        Item={
            **ctx.table.get(f"DOC#{operator_id}#2026", "000001"),
            "period": "2026-10",
        }
    )
    close(api, accountant, operator_id, "2026-10")
    files = zipfile.ZipFile(io.BytesIO(zip_of(api, accountant, operator_id, "2026-10")))
    manifest = json.loads(files.read("manifest.json"))
    number = document["number"]
    assert sorted(f["name"] for f in manifest["files"]) == sorted(
        [
            "FEC-2026-10.txt",
            "VAT-2026-10.json",
            f"documents/{number}.json",
            f"documents/{number}.pdf",
            f"documents/{number}.xml",
        ]
    )
    assert all(
        hashlib.sha256(files.read(f["name"])).hexdigest() == f["sha256"] for f in manifest["files"]
    )


def test_verify_reports_every_closed_period_intact(
    api: Api, accountant: str, operator_id: str
) -> None:
    close(api, accountant, operator_id, "2026-10")
    close(api, accountant, operator_id, "2026-11")
    answer = api.get(f"/v1/operators/{operator_id}/periods/verify", token=accountant).json
    assert answer == {"ok": True, "periods_checked": 2, "first_broken_period": None}


def test_verify_names_the_first_period_whose_archive_was_replaced(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    close(api, accountant, operator_id, "2026-10")
    close(api, accountant, operator_id, "2026-11")
    key = ctx.periods.periods(operator_id)["2026-11"]["archive_key"]
    archive.archive_store(ctx).put(key, b"forged", sha256(b"forged"))
    answer = api.get(f"/v1/operators/{operator_id}/periods/verify", token=accountant).json
    assert answer == {"ok": False, "periods_checked": 2, "first_broken_period": "2026-11"}


def test_record_files_of_a_closed_period_rebuild_byte_for_byte(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20)))
    close(api, accountant, operator_id, "2026-10")
    item = ctx.periods.periods(operator_id)["2026-10"]
    build = lambda: archive.record_files(  # noqa: E731
        ctx, operator_id, "2026-10", str(item["vat_report"])
    )
    assert build() == build()


def fec(api: Api, token: str, operator_id: str) -> Any:
    return api.get(f"/v1/accounting/fec?operator_id={operator_id}&year=2026", token=token)


def test_fec_numbers_fixed_at_close_survive_a_backdated_entry(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20), "txn_b"))
    close(api, accountant, operator_id, "2026-10")
    before = fec(api, accountant, operator_id).body
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 5), "txn_a"))  # lands on 1 Nov
    after = fec(api, accountant, operator_id).body
    text = after.decode() if isinstance(after, bytes) else after
    head = (before.decode() if isinstance(before, bytes) else before).split("\r\n")[1:3]
    assert text.split("\r\n")[1:3] == head


def test_fec_with_closed_and_open_months_passes_the_checker(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20), "txn_b"))
    close(api, accountant, operator_id, "2026-10")
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 5), "txn_a"))
    issue_paid(ctx, operator_id, "pi_dec", "2026-12-01T07:00:00+01:00")
    answer = fec(api, accountant, operator_id)
    text = answer.body.decode() if isinstance(answer.body, bytes) else answer.body
    name = answer.headers["Content-Disposition"].split('"')[1]
    assert check_fec(text, name) == []


def test_fec_valid_date_is_the_recording_day_before_and_after_the_close(
    ctx: Context, api: Api, accountant: str, operator_id: str, clock: FixedClock
) -> None:
    """The entry was definitive when written; its close changes no byte of the FEC
    (API.md: "downloading twice with no new entry in between gives byte-identical
    files"; found by review R1, the close date was written once the month closed)."""
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20)))  # recorded 1 Dec
    before = fec(api, accountant, operator_id).body
    clock.advance(days=2)
    assert close(api, accountant, operator_id, "2026-10").status == 200
    text = fec(api, accountant, operator_id).body
    assert text == before
    rows = (text.decode() if isinstance(text, bytes) else text).split("\r\n")[1:-1]
    assert {row.split("|")[15] for row in rows} == {"20261201"}


def _as_closed_before_valid_dates_were_recording_days(
    ctx: Context, operator_id: str, month: str
) -> str:
    """The month as the code before session 17 closed it: its archive's FEC extract with
    the close day as every record's ValidDate, sealed and chained the same way, and no
    `fec_valid_dates` on its period item. Answers that close day (YYYYMMDD)."""
    from chalicelib.adapters import keys
    from chalicelib.domain import archive as sealing

    store = archive.archive_store(ctx)
    item = ctx.periods.periods(operator_id)[month]
    listing, files = sealing.unseal(store.get(str(item["archive_key"])) or b"")
    closed_on = periods.paris_day(str(item["closed_at"])).strftime("%Y%m%d")
    name = f"FEC-{month}.txt"
    records = files[name].decode().split("\r\n")
    for n, record in enumerate(records[1:-1], start=1):
        fields = record.split("|")
        fields[15] = closed_on
        records[n] = "|".join(fields)
    files[name] = "\r\n".join(records).encode()
    data = sealing.seal(operator_id, month, listing["previous_archive_sha256"], files)
    key = store.key(operator_id, month, sha256(data))
    store.put(key, data, sha256(data))
    ctx.periods._table.table.update_item(
        Key=keys.period(operator_id, month),
        UpdateExpression="SET archive_sha256 = :h, archive_key = :k REMOVE fec_valid_dates",
        ExpressionAttributeValues={":h": sha256(data), ":k": key},
    )
    return closed_on


def test_a_month_closed_when_valid_dates_were_close_days_keeps_them_and_verifies(
    ctx: Context, api: Api, accountant: str, operator_id: str, clock: FixedClock
) -> None:
    """Its lines never change (API.md: "VAT, FEC lines and invoices of a closed month
    never change"): downloads keep its close day as ValidDate, its sealed archive still
    verifies; later months follow the recording day (found by review R3)."""
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20), "txn_oct"))  # recorded 1 Dec
    clock.advance(days=4)
    assert close(api, accountant, operator_id, "2026-10").status == 200
    closed_on = _as_closed_before_valid_dates_were_recording_days(ctx, operator_id, "2026-10")
    periods.book(ctx, fee_lines(operator_id, date(2026, 11, 3), "txn_nov"))  # recorded 1 Dec
    text = fec(api, accountant, operator_id).body
    rows = [r.split("|") for r in text.decode().split("\r\n")[1:-1]]
    assert {(r[8], r[15]) for r in rows} == {("txn_oct", closed_on), ("txn_nov", "20261201")}
    verified = api.get(f"/v1/operators/{operator_id}/periods/verify", token=accountant).json
    assert verified == {"ok": True, "periods_checked": 1, "first_broken_period": None}
    assert close(api, accountant, operator_id, "2026-11").status == 200  # the new rule
    verified = api.get(f"/v1/operators/{operator_id}/periods/verify", token=accountant).json
    assert verified == {"ok": True, "periods_checked": 2, "first_broken_period": None}
    assert fec(api, accountant, operator_id).body == text


def test_a_paid_invoice_letters_its_customer_lines(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    issue_paid(ctx, operator_id, "pi_dec", "2026-12-01T07:00:00+01:00")
    text = fec(api, accountant, operator_id).body
    rows = [
        r.split("|")
        for r in (text.decode() if isinstance(text, bytes) else text).split("\r\n")[1:-1]
    ]
    assert {(r[13], r[14]) for r in rows if r[4] == "411000"} == {("A", "20261201")}


def test_two_fec_downloads_with_no_new_entry_are_byte_identical(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20)))
    close(api, accountant, operator_id, "2026-10")
    issue_paid(ctx, operator_id, "pi_dec", "2026-12-01T07:00:00+01:00")
    assert fec(api, accountant, operator_id).body == fec(api, accountant, operator_id).body


def test_an_open_month_has_no_archive(api: Api, accountant: str, operator_id: str) -> None:
    answer = api.get(f"/v1/operators/{operator_id}/periods/2026-10/archive", token=accountant)
    assert (answer.status, answer.json["code"]) == (409, "invalid_state")


def test_verify_with_nothing_closed_checks_nothing(
    api: Api, accountant: str, operator_id: str
) -> None:
    answer = api.get(f"/v1/operators/{operator_id}/periods/verify", token=accountant).json
    assert answer == {"ok": True, "periods_checked": 0, "first_broken_period": None}


def test_fec_of_an_open_month_validates_on_the_day_recorded(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20)))  # recorded 1 Dec
    text = fec(api, accountant, operator_id).body
    rows = (text.decode() if isinstance(text, bytes) else text).split("\r\n")[1:-1]
    assert {row.split("|")[15] for row in rows} == {"20261201"}


def test_closing_december_opens_the_new_year_with_its_an_entry_once(
    ctx: Context, api: Api, accountant: str, operator_id: str, clock: FixedClock
) -> None:
    from chalicelib.domain.opening import opening_entry_id

    issue_paid(ctx, operator_id, "pi_dec", "2026-12-01T07:00:00+01:00")
    periods.book(ctx, fee_lines(operator_id, date(2026, 12, 1)))
    clock.moment = clock.moment.replace(year=2027, month=1, day=12)
    for month in ("2026-10", "2026-11", "2026-12"):
        assert close(api, accountant, operator_id, month).status == 200
    opening = [x for x in ctx.invoices.ledger(operator_id, 2027) if x.journal.value == "AN"]
    assert {x.entry_id for x in opening} == {opening_entry_id(operator_id, 2027)}
    assert {(x.account, x.debit - x.credit) for x in opening} == {
        ("467000", 1500 - 35),  # card payment waiting for its payout, less the fee
        ("445710", -250),  # VAT collected, to pay
        ("120000", -(1250 - 35)),  # the year's profit
    }
    assert close(api, accountant, operator_id, "2026-12").status == 409
    fec = api.get(f"/v1/accounting/fec?operator_id={operator_id}&year=2027", token=accountant)
    assert "AN|À-nouveaux|1|20270101|" in fec.body.decode()
    assert check_fec(fec.body.decode(), fec.headers["Content-Disposition"].split('"')[1]) == []
