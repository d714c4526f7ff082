"""Monthly close: order, refusals, and no writer ever lands in a closed month."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from chalicelib.domain.bookkeeping import fee_entry
from chalicelib.domain.ledger import Chart
from chalicelib.services import invoicing, periods
from chalicelib.services.context import Context
from tests.conftest import PARIS
from tests.support.api import Api, assert_problem, operator_body

# The conftest clock is 2026-12-01: October and November are past months.


@pytest.fixture
def operator_id(api: Api, admin: str) -> str:
    answer = api.post("/v1/operators", operator_body(accounting_start="2026-10"), token=admin)
    assert answer.status == 201, answer.json
    return str(answer.json["id"])


def close(api: Api, token: str, operator_id: str, month: str, **body: Any) -> Any:
    return api.post(f"/v1/operators/{operator_id}/periods/{month}/close", body, token=token)


def test_operator_echoes_its_accounting_start(api: Api, admin: str, operator_id: str) -> None:
    assert (
        api.get(f"/v1/operators/{operator_id}", token=admin).json["accounting_start"] == "2026-10"
    )


ARABIC_INDIC_2026_10 = "\u0662\u0660\u0662\u0666-10"  # digits to `\d`, not to JSON Schema


def test_a_month_in_other_digits_is_no_month(api: Api, admin: str, operator_id: str) -> None:
    created = api.post(
        "/v1/operators", operator_body(accounting_start=ARABIC_INDIC_2026_10), token=admin
    )
    assert (created.status, created.json["errors"][0]["field"]) == (422, "accounting_start")
    closing = close(api, admin, operator_id, ARABIC_INDIC_2026_10)
    assert (closing.status, closing.json["code"]) == (404, "not_found")
    listed = api.get(
        f"/v1/operators/{operator_id}/periods?cursor={ARABIC_INDIC_2026_10}", token=admin
    )
    assert (listed.status, listed.json["errors"][0]["field"]) == (422, "cursor")


def test_accounting_start_defaults_to_the_month_of_creation(api: Api, admin: str) -> None:
    answer = api.post("/v1/operators", operator_body(), token=admin)
    assert answer.json["accounting_start"] == "2026-12"


def test_periods_list_runs_from_accounting_start_to_current_month(
    api: Api, accountant: str, operator_id: str
) -> None:
    answer = api.get(f"/v1/operators/{operator_id}/periods", token=accountant)
    assert [(p["period"], p["status"]) for p in answer.json["items"]] == [
        ("2026-10", "open"),
        ("2026-11", "open"),
        ("2026-12", "open"),
    ]


def test_closing_a_past_month_answers_the_closed_period_chained_to_zeros(
    api: Api, accountant: str, operator_id: str
) -> None:
    answer = close(api, accountant, operator_id, "2026-10")
    assert answer.status == 200, answer.json
    assert answer.json["status"] == "closed"
    assert answer.json["previous_archive_sha256"] == "0" * 64
    assert len(answer.json["archive_sha256"]) == 64


def test_second_close_chains_to_the_first_archive(
    api: Api, accountant: str, operator_id: str
) -> None:
    first = close(api, accountant, operator_id, "2026-10").json
    second = close(api, accountant, operator_id, "2026-11").json
    assert second["previous_archive_sha256"] == first["archive_sha256"]


def test_closing_out_of_order_is_refused(api: Api, accountant: str, operator_id: str) -> None:
    answer = close(api, accountant, operator_id, "2026-11")
    assert (answer.status, answer.json["code"]) == (409, "invalid_state")


def test_closing_the_current_month_is_refused(api: Api, accountant: str, operator_id: str) -> None:
    close(api, accountant, operator_id, "2026-10")
    close(api, accountant, operator_id, "2026-11")
    answer = close(api, accountant, operator_id, "2026-12")
    assert (answer.status, answer.json["code"]) == (409, "invalid_state")


def test_closing_a_closed_month_again_is_refused(
    api: Api, accountant: str, operator_id: str
) -> None:
    close(api, accountant, operator_id, "2026-10")
    assert close(api, accountant, operator_id, "2026-10").status == 409


def test_a_month_before_accounting_start_is_not_found(
    api: Api, accountant: str, operator_id: str
) -> None:
    assert close(api, accountant, operator_id, "2026-09").status == 404


def test_forcing_without_a_reason_is_a_validation_error(
    api: Api, accountant: str, operator_id: str
) -> None:
    assert close(api, accountant, operator_id, "2026-10", force=True).status == 422


def test_a_member_cannot_close(api: Api, member: str, operator_id: str) -> None:
    assert close(api, member, operator_id, "2026-10").status == 403


def test_unreconciled_payout_blocks_the_close_unless_forced(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    ctx.table.table.put_item(
        Item={
            "PK": f"PAYOUTS#{operator_id}",
            "SK": "2026-10-15#po_1",
            "payout_id": "po_1",
            "matched": False,
        }
    )
    refused = close(api, accountant, operator_id, "2026-10")
    assert refused.status == 409 and "po_1" in refused.json["detail"]
    forced = close(api, accountant, operator_id, "2026-10", force=True, reason="bank ok")
    assert (forced.status, forced.json["force_reason"]) == (200, "bank ok")


def fee_lines(operator_id: str, day: date, reference: str = "txn_1") -> list[Any]:
    at = datetime(2026, 12, 1, 8, 0, tzinfo=PARIS)
    return fee_entry(operator_id, reference, day, 35, Chart(), at)


def ledger_of(ctx: Context, operator_id: str, year: int = 2026) -> list[Any]:
    return ctx.invoices.ledger(operator_id, year)


def test_a_fee_dated_in_a_closed_month_is_booked_on_the_first_open_day(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    close(api, accountant, operator_id, "2026-10")
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20)))
    lines = ledger_of(ctx, operator_id)
    assert {(line.entry_date, line.label) for line in lines} == {
        (date(2026, 11, 1), "Frais Stripe txn_1 (du 20/10/2026)")
    }


def test_a_fee_in_an_open_month_keeps_its_date(ctx: Context, operator_id: str) -> None:
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20)))
    assert {line.entry_date for line in ledger_of(ctx, operator_id)} == {date(2026, 10, 20)}


def test_the_same_entry_is_booked_once_even_after_its_month_closed(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20)))
    close(api, accountant, operator_id, "2026-10")
    assert periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20))) is False
    assert len(ledger_of(ctx, operator_id)) == 2


def test_a_close_racing_a_write_sends_the_write_to_the_next_month(
    ctx: Context, api: Api, accountant: str, operator_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer read "October is open", then October closed before its transaction."""
    close(api, accountant, operator_id, "2026-10")
    fresh = periods.open_from
    stale = iter(["2026-10"])
    monkeypatch.setattr(periods, "open_from", lambda c, o: next(stale, None) or fresh(c, o))
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20)))
    assert {line.entry_date for line in ledger_of(ctx, operator_id)} == {date(2026, 11, 1)}


def issue_paid(ctx: Context, operator_id: str, source: str, paid_at: str) -> dict[str, Any]:
    line = {
        "description": "Journée",
        "quantity": "1",
        "unit_price_excl_vat": 1250,
        "vat_rate": "20.00",
        "amount_excl_vat": 1250,
        "vat_amount": 250,
        "amount_incl_vat": 1500,
        "service_date": "2026-10-30",
    }
    return invoicing.issue(
        ctx,
        operator_id=operator_id,
        source=source,
        buyer={"name": "Ada Lovelace", "address": None},
        member_id="member-1",
        lines=[line],
        payment={"status": "paid", "method": "card", "paid_at": paid_at, "provider_ref": source},
    )


def test_an_invoice_paid_in_a_closed_month_counts_its_vat_in_the_first_open_month(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    close(api, accountant, operator_id, "2026-10")
    issue_paid(ctx, operator_id, "pi_late", "2026-10-31T23:00:00+01:00")
    october = api.get(
        f"/v1/accounting/vat?operator_id={operator_id}&month=2026-10", token=accountant
    ).json
    november = api.get(
        f"/v1/accounting/vat?operator_id={operator_id}&month=2026-11", token=accountant
    ).json
    assert (october["total_vat"], november["total_vat"]) == (0, 250)


def test_a_closed_month_keeps_its_frozen_vat_report(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    issue_paid(ctx, operator_id, "pi_oct", "2026-10-30T10:00:00+01:00")
    close(api, accountant, operator_id, "2026-10")
    answer = api.get(
        f"/v1/accounting/vat?operator_id={operator_id}&month=2026-10", token=accountant
    )
    assert answer.json["total_vat"] == 250


def test_an_invoice_issued_while_its_month_is_closed_is_booked_in_the_next_open_month(
    ctx: Context, operator_id: str
) -> None:
    """The race at a month's end: the month of `now` closed just before the issue."""
    ctx.table.table.put_item(
        Item={"PK": f"PERIOD#{operator_id}", "SK": "2026-12", "status": "closed"}
    )
    issue_paid(ctx, operator_id, "pi_race", "2026-12-01T07:00:00+01:00")
    lines = ctx.invoices.ledger(operator_id, 2027)
    assert {line.entry_date for line in lines} == {date(2027, 1, 1)}


def test_a_close_between_the_issuers_read_and_its_write_moves_the_invoice_on(
    ctx: Context, api: Api, accountant: str, operator_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issuer read "October is open" (before the counter's head), then October closed
    before its transaction: the write fails its period check and the issue starts again."""
    close(api, accountant, operator_id, "2026-10")
    fresh = periods.open_from
    stale = iter(["2026-10"])
    monkeypatch.setattr(periods, "open_from", lambda c, o: next(stale, None) or fresh(c, o))
    issue_paid(ctx, operator_id, "pi_stale", "2026-10-30T10:00:00+01:00")
    assert next(stale, "read again") == "read again"
    november = api.get(
        f"/v1/accounting/vat?operator_id={operator_id}&month=2026-11", token=accountant
    ).json
    assert november["total_vat"] == 250
    assert ctx.invoices.head(operator_id, 2026)[0] == 1  # one number taken, no gap


def test_a_period_that_is_not_a_month_is_not_found(
    api: Api, accountant: str, operator_id: str
) -> None:
    answer = close(api, accountant, operator_id, "2026-13")
    assert (answer.status, answer.json["code"]) == (404, "not_found")


def test_a_forced_close_is_in_the_audit_trail_with_its_reason(
    api: Api, accountant: str, operator_id: str
) -> None:
    close(api, accountant, operator_id, "2026-10", force=True, reason="bank statement checked")
    entries = api.get("/v1/audit?entity=period", token=accountant).json["items"]
    assert [(e["action"], e["entity_id"], e["changes"]["force_reason"]) for e in entries] == [
        ("close", f"{operator_id}/2026-10", [None, "bank statement checked"])
    ]


def test_a_close_whose_books_cannot_be_sealed_is_refused_and_the_month_stays_open(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    # GIVEN October's books holding an unbalanced entry (no FEC can be made of them)
    periods.book(ctx, fee_lines(operator_id, date(2026, 10, 20))[:1])
    # WHEN the month is closed
    answer = close(api, accountant, operator_id, "2026-10")
    # THEN 409 with the reason, and the month is open again (not left `closing`)
    assert_problem(answer, 409, "invalid_state")
    assert "cannot be sealed" in answer.json["detail"]
    item = ctx.periods.periods(operator_id).get("2026-10") or {}
    assert item.get("status", "open") == "open" and "closed_by" not in item
    listed = api.get(f"/v1/operators/{operator_id}/periods", token=accountant).json["items"]
    assert [p["status"] for p in listed if p["period"] == "2026-10"] == ["open"]
