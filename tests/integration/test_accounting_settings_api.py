"""An operator's accounting settings through the API: reading and changing them (ETag,
If-Match, validation, audit), the ledger writers posting to its accounts and journals,
the lock once the fiscal year has a closed period, and a fiscal year from July to June
end to end (numbering, opening entries, FEC checked as the DGFiP's tester does)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.domain.opening import opening_entry_id
from chalicelib.services import exports, periods
from chalicelib.services.context import Context
from tests.conftest import PARIS
from tests.integration.test_exports import stored_file
from tests.integration.test_periods import close, issue_paid
from tests.support.api import Answer, Api, assert_problem, operator_body
from tests.support.fec_checker import check_fec

# The conftest clock is 2026-12-01.

CUSTOM = {
    "chart": {
        "customers": "41110000",
        "sales": "70610000",
        "vat_collected": "44571100",
        "stripe_clearing": "51170000",
        "bank_fees": "62780000",
        "bank": "51210000",
    },
    "journals": {"sales": "VT", "bank": "STRIPE"},
}


@pytest.fixture
def operator_id(api: Api, admin: str) -> str:
    answer = api.post("/v1/operators", operator_body(accounting_start="2026-10"), token=admin)
    assert answer.status == 201, answer.json
    return str(answer.json["id"])


def path(operator_id: str) -> str:
    return f"/v1/operators/{operator_id}/accounting-settings"


def put(api: Api, token: str, operator_id: str, body: Any, version: str | None = '"1"') -> Answer:
    headers = {"If-Match": version} if version else {}
    return api.request("PUT", path(operator_id), body, token=token, headers=headers)


def fec_of(api: Api, token: str, operator_id: str, year: int) -> tuple[str, str]:
    answer = api.get(f"/v1/accounting/fec?operator_id={operator_id}&year={year}", token=token)
    assert answer.status == 200, answer.body[:300]
    body = answer.body.decode() if isinstance(answer.body, bytes) else answer.body
    return answer.headers["Content-Disposition"].split('"')[1], body


def rows(text: str) -> list[list[str]]:
    return [row.split("|") for row in text.split("\r\n")[1:-1]]


# -- reading and changing ------------------------------------------------------------------


def test_an_operator_starts_with_the_default_settings_at_version_1(
    api: Api, accountant: str, operator_id: str
) -> None:
    answer = api.get(path(operator_id), token=accountant)
    assert (answer.status, answer.headers["ETag"]) == (200, '"1"')
    assert answer.json["chart"]["customers"] == "411000"
    assert answer.json["chart"]["sales"] == "706000"
    assert answer.json["journals"] == {
        "sales": "VE",
        "bank": "BQ",
        "misc": "OD",
        "opening": "AN",
        "purchases": "HA",
    }
    assert answer.json["fiscal_year_start_month"] == 1
    assert (answer.json["changeable"], answer.json["first_open_period"]) == (True, None)


def test_a_change_needs_the_version_read(api: Api, accountant: str, operator_id: str) -> None:
    assert_problem(put(api, accountant, operator_id, CUSTOM, None), 428, "precondition_required")
    assert_problem(put(api, accountant, operator_id, CUSTOM, '"7"'), 412, "precondition_failed")
    assert api.get(path(operator_id), token=accountant).json["chart"]["customers"] == "411000"


def test_a_change_is_stored_versioned_and_audited(
    api: Api, accountant: str, operator_id: str
) -> None:
    answer = put(api, accountant, operator_id, CUSTOM)
    assert (answer.status, answer.headers["ETag"]) == (200, '"2"'), answer.json
    assert answer.json["chart"]["customers"] == "41110000"
    assert answer.json["chart"]["suppliers"] == "401000"  # left out: its default
    assert answer.json["journals"]["sales"] == "VT"
    assert answer.json["updated_by"] == "accountant-1"
    again = api.get(path(operator_id), token=accountant)
    assert (again.json["version"], again.headers["ETag"]) == (2, '"2"')
    assert_problem(put(api, accountant, operator_id, {}, '"1"'), 412, "precondition_failed")
    trail = api.get(f"/v1/audit?entity=accounting_settings&{_span()}", token=accountant).json
    assert [(e["entity_id"], e["changes"]["chart.customers"]) for e in trail["items"]] == [
        (operator_id, ["411000", "41110000"])
    ]


def _span() -> str:
    return "from=2026-11-01&to=2026-12-31"


def test_of_two_changes_from_the_same_version_one_wins(
    api: Api, accountant: str, operator_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read version 1; the second's transaction finds version 2 and writes nothing."""
    from chalicelib.services import accounting_settings

    assert put(api, accountant, operator_id, CUSTOM).status == 200
    # the check passed as if the read had seen version 1
    monkeypatch.setattr(accounting_settings, "check_version", lambda current, expected: 1)
    late = put(api, accountant, operator_id, {"journals": {"sales": "VX"}}, '"1"')
    assert_problem(late, 412, "precondition_failed")
    assert api.get(path(operator_id), token=accountant).json["journals"]["sales"] == "VT"


def test_the_same_settings_again_write_nothing(api: Api, accountant: str, operator_id: str) -> None:
    answer = put(api, accountant, operator_id, {})
    assert (answer.status, answer.json["version"]) == (200, 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"chart": {"customers": "706000"}}, "chart.customers"),  # not a 411 account
        ({"chart": {"sales": "606000"}}, "chart.sales"),  # revenue is class 7
        ({"chart": {"vat_collected": "445660"}}, "chart.vat_collected"),  # deductible VAT
        ({"chart": {"bank": "512A00"}}, "chart.bank"),  # digits only
        ({"chart": {"bank": "512"}}, "chart.bank"),  # 6 to 12 digits
        ({"chart": {"stripe_clearing": "512000"}}, "chart"),  # the bank's own account
        ({"journals": {"sales": "ve"}}, "journals.sales"),  # uppercase
        ({"journals": {"sales": "VENTES1"}}, "journals.sales"),  # 2 to 6 characters
        ({"journals": {"sales": "BQ"}}, "journals"),  # the bank journal's code
        ({"fiscal_year_start_month": 13}, "fiscal_year_start_month"),
        ({"fiscal_year_start_month": 0}, "fiscal_year_start_month"),
        ({"chart": {"vat": "445710"}}, "chart.vat"),  # unknown
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    api: Api, accountant: str, operator_id: str, body: Any, field: str
) -> None:
    problem = assert_problem(put(api, accountant, operator_id, body), 422, "validation_error")
    assert field in [e["field"] for e in problem["errors"]], problem


def test_members_and_managers_may_not_read_nor_change_them(
    api: Api, member: str, operator_id: str
) -> None:
    assert_problem(api.get(path(operator_id), token=member), 403, "forbidden")
    assert_problem(put(api, member, operator_id, CUSTOM), 403, "forbidden")


def test_an_unknown_operator_is_not_found(api: Api, accountant: str) -> None:
    assert_problem(api.get(path("op_nope"), token=accountant), 404, "not_found")
    assert_problem(put(api, accountant, "op_nope", CUSTOM), 404, "not_found")


# -- the writers post to the operator's accounts and journals -----------------------------


def test_the_ledger_and_the_fec_use_the_operators_accounts_and_journals(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    assert put(api, accountant, operator_id, CUSTOM).status == 200
    issue_paid(ctx, operator_id, "pi_custom", "2026-12-01T07:00:00+01:00")
    lines = ctx.invoices.ledger(operator_id, 2026)
    assert {(str(x.journal), x.account, x.debit - x.credit) for x in lines} == {
        ("VT", "41110000", 1500),
        ("VT", "70610000", -1250),
        ("VT", "44571100", -250),
        ("STRIPE", "51170000", 1500),
        ("STRIPE", "41110000", -1500),
    }
    name, text = fec_of(api, accountant, operator_id, 2026)
    assert check_fec(text, name) == []
    assert {(r[0], r[1]) for r in rows(text)} == {("VT", "Ventes"), ("STRIPE", "Banque Stripe")}
    assert {r[13] for r in rows(text) if r[4] == "41110000"} == {"A"}  # lettered


# -- the lock ------------------------------------------------------------------------------


def test_a_closed_period_locks_the_settings_of_its_fiscal_year(
    ctx: Context, api: Api, accountant: str, operator_id: str, clock: FixedClock
) -> None:
    issue_paid(ctx, operator_id, "pi_dec", "2026-12-01T07:00:00+01:00")
    assert close(api, accountant, operator_id, "2026-10").status == 200
    view = api.get(path(operator_id), token=accountant).json
    assert (view["changeable"], view["first_open_period"]) == (False, "2026-11")
    problem = assert_problem(
        put(api, accountant, operator_id, CUSTOM), 409, "accounting_settings_locked"
    )
    assert "2026-11" in problem["detail"]
    assert api.get(path(operator_id), token=accountant).json["version"] == 1

    clock.moment = datetime(2027, 1, 12, 9, 0, tzinfo=PARIS)
    for month in ("2026-11", "2026-12"):
        assert close(api, accountant, operator_id, month).status == 200
    name, before = fec_of(api, accountant, operator_id, 2026)
    # The fiscal year 2026 is closed: a change applies from 2027, whose months are open...
    assert put(api, accountant, operator_id, CUSTOM).status == 200
    # ...but the fiscal year's first month cannot move: 2027 would not start in January.
    moved = {**CUSTOM, "fiscal_year_start_month": 7}
    assert_problem(
        put(api, accountant, operator_id, moved, '"2"'), 409, "accounting_settings_locked"
    )
    # The closed year's FEC and archives are what they were, byte for byte.
    assert fec_of(api, accountant, operator_id, 2026) == (name, before)
    verify = api.get(f"/v1/operators/{operator_id}/periods/verify", token=accountant).json
    assert verify == {"ok": True, "periods_checked": 3, "first_broken_period": None}
    # The new year's entries use the new accounts; its opening entry carried the old ones.
    issue_paid(ctx, operator_id, "pi_jan", "2027-01-12T09:00:00+01:00")
    name, text = fec_of(api, accountant, operator_id, 2027)
    assert check_fec(text, name) == []
    assert {r[4] for r in rows(text) if r[0] == "AN"} == {"467000", "445710", "120000"}
    assert {r[4] for r in rows(text) if r[0] == "VT"} == {"41110000", "70610000", "44571100"}


def test_a_close_racing_a_change_makes_the_change_fail(
    ctx: Context, api: Api, accountant: str, operator_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change read "nothing is closed", then October closed before its transaction."""
    from chalicelib.services import accounting_settings

    monkeypatch.setattr(accounting_settings, "first_open_period", lambda c, o: None)
    assert close(api, accountant, operator_id, "2026-10").status == 200
    assert_problem(put(api, accountant, operator_id, CUSTOM), 409, "accounting_settings_locked")
    assert api.get(path(operator_id), token=accountant).json["version"] == 1


def test_once_a_fec_numbered_entries_the_fiscal_year_start_no_longer_changes(
    ctx: Context, api: Api, accountant: str, operator_id: str
) -> None:
    """A download numbered the entries of calendar 2026: a start in July would put them
    in another year's sequence beside numbers already given (found by review R1)."""
    issue_paid(ctx, operator_id, "pi_oct", "2026-10-30T10:00:00+01:00")
    fec_of(api, accountant, operator_id, 2026)
    problem = assert_problem(
        put(api, accountant, operator_id, {"fiscal_year_start_month": 7}),
        409,
        "accounting_settings_locked",
    )
    assert "numbered" in problem["detail"]
    assert put(api, accountant, operator_id, CUSTOM).status == 200  # accounts still may


def test_a_fec_numbering_racing_a_new_start_makes_one_of_them_fail(
    ctx: Context,
    api: Api,
    admin: str,
    accountant: str,
    operator_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The change read "nothing numbered", then a download numbered before its
    transaction: the change fails. And a FEC that read the old start after the change
    landed cannot hand its numbers out."""
    from chalicelib.adapters.period_store import NumbersMoved

    issue_paid(ctx, operator_id, "pi_oct", "2026-10-30T10:00:00+01:00")
    monkeypatch.setattr(ctx.periods, "numbers_given", lambda operator: False)
    fec_of(api, accountant, operator_id, 2026)
    assert_problem(
        put(api, accountant, operator_id, {"fiscal_year_start_month": 7}),
        409,
        "accounting_settings_locked",
    )
    other = api.post("/v1/operators", operator_body(siren="552100554"), token=admin)
    assert put(api, accountant, other.json["id"], {"fiscal_year_start_month": 7}).status == 200
    stale = ctx.accounting_settings.start_month_check(other.json["id"], 1)
    with pytest.raises(NumbersMoved):
        ctx.periods.hand_out_numbers(other.json["id"], 2026, None, [("e1", "2026-11", 1)], stale)
    assert ctx.periods.last_number(other.json["id"], 2026) is None


# -- a fiscal year from July to June -------------------------------------------------------


@pytest.fixture
def july_operator(api: Api, admin: str, accountant: str) -> str:
    body = operator_body(accounting_start="2026-07", siren="552100554", invoice_prefix="JU")
    operator_id = str(api.post("/v1/operators", body, token=admin).json["id"])
    answer = put(api, accountant, operator_id, {"fiscal_year_start_month": 7})
    assert answer.status == 200, answer.json
    return operator_id


def test_a_fiscal_year_from_july_numbers_closes_and_opens_across_new_year(
    ctx: Context, api: Api, accountant: str, july_operator: str, clock: FixedClock
) -> None:
    operator_id = july_operator
    issue_paid(ctx, operator_id, "pi_dec", "2026-12-01T07:00:00+01:00")
    clock.moment = datetime(2027, 2, 10, 9, 0, tzinfo=PARIS)
    issue_paid(ctx, operator_id, "pi_feb", "2027-02-10T09:00:00+01:00")
    periods.book(ctx, _fee(operator_id, date(2027, 2, 11)))
    clock.moment = datetime(2027, 7, 8, 9, 0, tzinfo=PARIS)
    months = [f"2026-{m:02d}" for m in range(7, 13)] + [f"2027-{m:02d}" for m in range(1, 7)]
    closed = [close(api, accountant, operator_id, m) for m in months]
    assert [answer.status for answer in closed] == [200] * 12

    name, text = fec_of(api, accountant, operator_id, 2027)  # 1 July 2026 - 30 June 2027
    assert name == "552100554FEC20270630.txt"
    assert check_fec(text, name) == []
    found = rows(text)
    # One sequence across the new calendar year: January does not start again from 1.
    assert [(int(r[2]), r[3][:6]) for r in found if r[4] == "706000"] == [
        (2, "202612"),  # after the payment of the same day (entry order: date, time, id)
        (4, "202702"),
    ]
    assert sorted({int(r[2]) for r in found}) == [1, 2, 3, 4, 5]
    assert {r[13] for r in found if r[4] == "411000"} == {"26A", "27A"}  # two numbering years

    opening = [x for x in ctx.invoices.ledger(operator_id, 2027) if str(x.journal) == "AN"]
    assert {x.entry_id for x in opening} == {opening_entry_id(operator_id, 2028)}
    assert {x.entry_date for x in opening} == {date(2027, 7, 1)}
    assert {(x.account, x.debit - x.credit) for x in opening} == {
        ("467000", 3000 - 35),
        ("445710", -500),
        ("120000", -(2500 - 35)),
    }
    assert opening[0].label == "À-nouveaux 2028 (soldes au 30/06/2027)"
    name, text = fec_of(api, accountant, operator_id, 2028)
    assert name == "552100554FEC20280630.txt"
    assert check_fec(text, name) == []
    assert {(r[0], r[2], r[3]) for r in rows(text)} == {("AN", "1", "20270701")}
    # The calendar year 2026 asks for nothing of the fiscal year 2027 it does not hold.
    name, text = fec_of(api, accountant, operator_id, 2026)
    assert (name, rows(text)) == ("552100554FEC20260630.txt", [])
    # The archives export of fiscal year 2027 holds its twelve sealed months.
    asked = api.post(
        "/v1/exports",
        {"kind": "archive", "operator_id": operator_id, "year": 2027},
        token=accountant,
    )
    exports.run_exports(ctx, None)
    files = zipfile.ZipFile(io.BytesIO(stored_file(ctx, asked.json["id"])))
    assert [x["period"] for x in json.loads(files.read("archives.json"))] == months


def test_the_fiscal_year_of_an_export_is_the_operators(
    ctx: Context, api: Api, accountant: str, july_operator: str
) -> None:
    issue_paid(ctx, july_operator, "pi_dec", "2026-12-01T07:00:00+01:00")
    streamed = "".join(exports.fec_chunks(ctx, july_operator, 2027))
    assert streamed == fec_of(api, accountant, july_operator, 2027)[1]
    assert len(rows(streamed)) == 5


def _fee(operator_id: str, day: date) -> list[Any]:
    from chalicelib.domain.bookkeeping import fee_entry
    from chalicelib.domain.ledger import Chart

    return fee_entry(operator_id, "txn_feb", day, 35, Chart(), datetime(2027, 2, 11, tzinfo=PARIS))
