"""What an export request may ask, and when a worker may take an export."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain import exports as rules
from chalicelib.domain.exports import ExportRequest

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (ExportRequest("fec", "op"), "year"),
        (ExportRequest("archive", "op"), "year"),
        (ExportRequest("fec", "op", year=2026, from_=date(2026, 1, 1)), "from"),
        (ExportRequest("invoices_csv", "op", year=2026), "year"),
        (ExportRequest("invoices_csv", "op", from_=date(2026, 2, 1), to=date(2026, 1, 1)), "from"),
        (ExportRequest("invoices_pdf_zip", "op", from_=date(2026, 1, 1)), "from"),
        (
            ExportRequest("invoices_pdf_zip", "op", from_=date(2026, 1, 1), to=date(2026, 2, 1)),
            "to",
        ),
        (ExportRequest("fec", "op", year=2026, dialect="excel-fr"), "dialect"),
        (ExportRequest("ledger", "op"), "kind"),
    ],
)
def test_a_request_breaking_a_rule_names_the_field(request_: ExportRequest, field: str) -> None:
    assert field in [f for f, _ in request_.problems()]


@pytest.mark.parametrize(
    "request_",
    [
        ExportRequest("fec", "op", year=2026),
        ExportRequest("archive", "op", year=2026),
        ExportRequest("invoices_csv", "op"),
        ExportRequest("invoices_csv", "op", to=date(2026, 3, 31), dialect="excel-fr"),
        ExportRequest("invoices_pdf_zip", "op", from_=date(2026, 1, 1), to=date(2026, 1, 31)),
    ],
)
def test_a_valid_request_has_no_problem(request_: ExportRequest) -> None:
    assert request_.problems() == []


def test_parameters_hold_only_what_was_given() -> None:
    assert ExportRequest("invoices_csv", "op", from_=date(2026, 1, 1)).parameters() == {
        "from": "2026-01-01",
        "dialect": "default",
    }
    assert ExportRequest("fec", "op", year=2026).parameters() == {"year": 2026}


def test_file_names_say_kind_operator_and_span() -> None:
    assert rules.file_name("invoices_csv", "op", {"from": "2026-01-01"}) == (
        "invoices_csv-op-2026-01-01_end.csv"
    )
    assert rules.file_name("archive", "op", {"year": 2026}) == "archive-op-2026.zip"


def test_each_run_writes_its_own_object() -> None:
    assert rules.object_key("exp_1", 1, "f.txt") != rules.object_key("exp_1", 2, "f.txt")


def test_a_pending_export_or_a_run_out_lease_can_be_claimed() -> None:
    assert rules.claimable(rules.PENDING, None, NOW)
    assert rules.claimable(rules.RUNNING, rules.iso(NOW - timedelta(seconds=1)), NOW)
    assert not rules.claimable(rules.RUNNING, rules.lease_end(NOW), NOW)
    assert not rules.claimable(rules.DONE, None, NOW)
    assert not rules.claimable(rules.FAILED, None, NOW)


def test_times_compare_as_text_in_utc_whatever_the_zone() -> None:
    paris = NOW.astimezone(datetime.now().astimezone().tzinfo)
    assert rules.iso(paris) == "2026-12-01T06:00:00+00:00"


def test_the_sweep_redispatches_only_what_waits_too_long() -> None:
    fresh = rules.iso(NOW - timedelta(seconds=10))
    old = rules.iso(NOW - timedelta(seconds=rules.STALE_PENDING_SECONDS))
    assert not rules.needs_dispatch(rules.PENDING, fresh, None, NOW)
    assert rules.needs_dispatch(rules.PENDING, old, None, NOW)
    assert rules.needs_dispatch(rules.RUNNING, old, rules.iso(NOW), NOW)
    assert not rules.needs_dispatch(rules.RUNNING, old, rules.lease_end(NOW), NOW)
