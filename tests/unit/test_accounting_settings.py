"""The rules of an operator's accounting settings: fiscal years, the checks of a chart and
of journal codes, when a change is accepted, and the ledger writers and FEC using them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.domain import fiscal_year as fy
from chalicelib.domain.accounting_settings import (
    AccountingSettingsInput,
    change_refusal,
    settings_dict,
    settings_of,
)
from chalicelib.domain.bookkeeping import fee_entry, payout_entry
from chalicelib.domain.fec import fec_filename, render_fec, stream_fec
from chalicelib.domain.ledger import (
    AccountingSettings,
    Chart,
    Journal,
    JournalCodes,
    LedgerLine,
)
from chalicelib.domain.lettering import letters
from chalicelib.domain.opening import opening_entry
from tests.support.fec_checker import check_fec

AT = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
SIREN = "552100554"
JULY = AccountingSettings(fiscal_year_start_month=7)

# -- fiscal years ---------------------------------------------------------------------------


def test_a_fiscal_year_is_named_by_the_year_it_ends_in() -> None:
    assert fy.fiscal_year_of(date(2026, 6, 30), 7) == 2026
    assert fy.fiscal_year_of(date(2026, 7, 1), 7) == 2027
    assert fy.fiscal_year_of(date(2026, 12, 31), 1) == 2026
    assert fy.bounds(2027, 7) == (date(2026, 7, 1), date(2027, 6, 30))
    assert fy.bounds(2026, 1) == (date(2026, 1, 1), date(2026, 12, 31))
    assert fy.bounds(2028, 3) == (date(2027, 3, 1), date(2028, 2, 29))
    assert fy.months_of(2027, 7)[0] == "2026-07" and fy.months_of(2027, 7)[-1] == "2027-06"
    assert fy.calendar_years(2027, 7) == [2026, 2027] and fy.calendar_years(2027, 1) == [2027]
    assert fy.is_last_month("2027-06", 7) and fy.is_last_month("2026-12", 1)
    assert fy.is_first_month("2026-07", 7) and not fy.is_first_month("2027-01", 7)


@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)), st.integers(1, 12))
def test_every_day_falls_in_the_bounds_of_its_fiscal_year(day: date, start: int) -> None:
    year = fy.fiscal_year_of(day, start)
    first, last = fy.bounds(year, start)
    assert first <= day <= last
    assert f"{day:%Y-%m}" in fy.months_of(year, start)
    assert first.month == start and (last.month - start) % 12 == 11


def test_a_start_month_outside_1_to_12_is_an_error() -> None:
    with pytest.raises(ValueError):
        fy.bounds(2027, 13)


# -- the checks -------------------------------------------------------------------------------


def test_the_defaults_are_todays_accounts_and_journals() -> None:
    settings = AccountingSettingsInput().to_settings()
    assert settings == AccountingSettings()
    assert settings_of(settings_dict(settings)) == settings
    assert settings_of(None) == AccountingSettings()
    assert (Chart().customers, Chart().sales, Chart().vat_collected) == (
        "411000",
        "706000",
        "445710",
    )


@pytest.mark.parametrize(
    ("chart", "field"),
    [
        ({"customers": "401000"}, "customers"),
        ({"sales": "606000"}, "sales"),
        ({"vat_collected": "445660"}, "vat_collected"),
        ({"vat_deductible": "445710"}, "vat_deductible"),
        ({"bank_fees": "626000"}, "bank_fees"),
        ({"bank": "530000"}, "bank"),
        ({"suppliers": "411000"}, "suppliers"),
        ({"purchases": "706000"}, "purchases"),
        ({"profit": "129000"}, "profit"),
        ({"loss": "120000"}, "loss"),
        ({"stripe_clearing": "411500"}, "stripe_clearing"),
        ({"bank": "51200"}, "bank"),  # five digits
        ({"bank": "5120000000000"}, "bank"),  # thirteen
        ({"bank": "512 000"}, "bank"),
    ],
)
def test_an_account_outside_the_class_of_its_purpose_is_refused(
    chart: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        AccountingSettingsInput.model_validate({"chart": chart})
    assert [e["loc"] for e in caught.value.errors()] == [("chart", field)]


def test_accounts_in_their_class_are_accepted() -> None:
    chart = {
        "customers": "41100000",
        "sales": "70600000",
        "stripe_clearing": "58000000",
        "purchases": "61100000",
        "vat_collected": "44571",  # too short
    }
    with pytest.raises(ValidationError):
        AccountingSettingsInput.model_validate({"chart": chart})
    chart["vat_collected"] = "44571000"
    assert AccountingSettingsInput.model_validate({"chart": chart}).to_settings().chart == Chart(
        customers="41100000",
        sales="70600000",
        stripe_clearing="58000000",
        purchases="61100000",
        vat_collected="44571000",
    )


def test_one_account_for_two_purposes_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        AccountingSettingsInput.model_validate({"chart": {"stripe_clearing": "512000"}})
    assert caught.value.errors()[0]["loc"] == ("chart",)


@pytest.mark.parametrize("code", ["V", "VENTES1", "ve", "V-E", ""])
def test_a_journal_code_is_2_to_6_uppercase_letters_or_digits(code: str) -> None:
    with pytest.raises(ValidationError):
        AccountingSettingsInput.model_validate({"journals": {"sales": code}})


def test_two_journals_may_not_share_a_code() -> None:
    with pytest.raises(ValidationError) as caught:
        AccountingSettingsInput.model_validate({"journals": {"misc": "AN"}})
    assert "AN used twice" in caught.value.errors()[0]["msg"]


# -- when a change is accepted ---------------------------------------------------------------

CUSTOM = AccountingSettings(chart=Chart(bank="512100"))


def test_anything_may_change_while_nothing_is_closed() -> None:
    moved = replace(CUSTOM, fiscal_year_start_month=7)
    assert change_refusal(AccountingSettings(), moved, None) is None
    assert change_refusal(AccountingSettings(), JULY, None) is None


def test_a_change_applies_only_from_a_fiscal_year_without_a_closed_period() -> None:
    assert change_refusal(AccountingSettings(), CUSTOM, "2027-01") is None
    refusal = change_refusal(AccountingSettings(), CUSTOM, "2027-03")
    assert refusal is not None and "2027-03" in refusal
    assert change_refusal(JULY, replace(CUSTOM, fiscal_year_start_month=7), "2027-07") is None
    assert change_refusal(JULY, replace(CUSTOM, fiscal_year_start_month=7), "2027-01")


def test_the_fiscal_year_start_cannot_move_once_a_period_is_closed() -> None:
    assert change_refusal(AccountingSettings(), JULY, "2027-01")
    assert change_refusal(JULY, AccountingSettings(), "2027-07")


def test_the_same_settings_are_never_refused() -> None:
    assert change_refusal(CUSTOM, CUSTOM, "2027-03") is None


# -- the writers ----------------------------------------------------------------------------


def test_default_journal_codes_are_the_journal_members_themselves() -> None:
    codes = JournalCodes()
    assert codes.code(Journal.bank) is Journal.bank
    assert JournalCodes(bank="STRIPE").code(Journal.bank) == "STRIPE"
    assert JournalCodes(bank="STRIPE").label(Journal.bank) == "Banque Stripe"


def test_fees_and_payouts_go_to_the_operators_accounts_and_journal() -> None:
    chart = Chart(stripe_clearing="471000", bank_fees="627100", bank="512100")
    journals = JournalCodes(bank="ST")
    fee = fee_entry("op", "txn", date(2027, 1, 5), 35, chart, AT, journals)
    payout = payout_entry("op", "po", date(2027, 1, 6), 900, chart, AT, journals)
    assert [(x.journal, x.account, x.account_label, x.debit, x.credit) for x in fee + payout] == [
        ("ST", "627100", "Services bancaires (frais Stripe)", 35, 0),
        ("ST", "471000", "Stripe - compte d'attente", 0, 35),
        ("ST", "512100", "Banque", 900, 0),
        ("ST", "471000", "Stripe - compte d'attente", 0, 900),
    ]


def _sale(day: date, number: int, amount: int = 1200) -> list[LedgerLine]:
    entry = f"inv-op-{day.year}-{number:06d}"

    def line(suffix: str, journal: str, account: str, debit: int, credit: int) -> LedgerLine:
        aux = account.startswith("411")
        return LedgerLine(
            entry_id=f"{entry}-{suffix}",
            journal=journal,
            entry_date=day,
            account=account,
            account_label=Chart().label_of(account),
            label=f"Facture {number}",
            piece_ref=f"F{day.year}-{number}",
            piece_date=day,
            debit=debit,
            credit=credit,
            aux_account="member-1" if aux else "",
            aux_label="Ada" if aux else "",
            recorded_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
            operator_id="op",
        )

    return [
        line("VE", Journal.sales, "411000", amount, 0),
        line("VE", Journal.sales, "706000", 0, amount - amount // 6),
        line("VE", Journal.sales, "445710", 0, amount // 6),
        line("BQ", Journal.bank, "467000", amount, 0),
        line("BQ", Journal.bank, "411000", 0, amount),
    ]


def _july_year() -> list[LedgerLine]:
    return (
        _sale(date(2026, 6, 30), 7)  # the fiscal year before
        + _sale(date(2026, 7, 1), 8)
        + _sale(date(2026, 12, 31), 9)
        + _sale(date(2027, 1, 2), 1)
        + _sale(date(2027, 6, 30), 2)
        + _sale(date(2027, 7, 1), 3)  # the fiscal year after
    )


def test_a_fec_from_july_holds_the_twelve_months_and_passes_the_checker() -> None:
    lines = _july_year()
    text = render_fec(lines, 2027, letters=letters(lines, by_year=True), start_month=7)
    name = fec_filename(SIREN, 2027, 7)
    assert name == f"{SIREN}FEC20270630.txt"
    assert check_fec(text, name) == []
    records = [r.split("|") for r in text.split("\r\n")[1:-1]]
    assert sorted({r[3] for r in records}) == ["20260701", "20261231", "20270102", "20270630"]
    assert sorted({int(r[2]) for r in records}) == list(range(1, 9))
    assert sorted({r[13] for r in records if r[4] == "411000"}) == ["26H", "26I", "27A", "27B"]
    # the same file read a month at a time
    months = fy.months_of(2027, 7)

    def by_month() -> list[list[LedgerLine]]:
        return [[x for x in lines if f"{x.entry_date:%Y-%m}" == m] for m in months]

    assert "".join(stream_fec(by_month, 2027, start_month=7)) == text


def test_the_checker_refuses_a_date_outside_the_fiscal_year() -> None:
    lines = _july_year()
    text = render_fec(lines, 2027, start_month=7)
    assert check_fec(text, fec_filename(SIREN, 2027, 1)) != []  # read as a calendar year


def test_the_default_fec_is_unchanged_by_the_settings() -> None:
    lines = _sale(date(2026, 3, 2), 1)
    assert render_fec(lines, 2026) == render_fec(lines, 2026, start_month=1)
    assert fec_filename(SIREN, 2026) == f"{SIREN}FEC20261231.txt"


def test_an_operators_journal_code_and_label_reach_the_fec() -> None:
    lines = [replace(x, journal="VT", journal_label="Ventes") for x in _sale(date(2026, 3, 2), 1)]
    lines = [x for x in lines if x.entry_id.endswith("VE")]
    records = [r.split("|") for r in render_fec(lines, 2026).split("\r\n")[1:-1]]
    assert {(r[0], r[1]) for r in records} == {("VT", "Ventes")}


def test_the_opening_entry_of_a_july_year_is_dated_1_july_with_the_operators_accounts() -> None:
    books = AccountingSettings(
        chart=Chart(profit="120100"),
        journals=JournalCodes(opening="RAN"),
        fiscal_year_start_month=7,
    )
    lines = opening_entry(_july_year(), "op", 2027, AT, books)
    assert {(x.journal, x.entry_date, x.piece_ref) for x in lines} == {
        ("RAN", date(2027, 7, 1), "AN2028")
    }
    assert {x.label for x in lines} == {"À-nouveaux 2028 (soldes au 30/06/2027)"}
    # four sales of 1200 in the year: 4 * 1000 of profit, 4 * 200 of VAT, 4 * 1200 at Stripe
    assert {(x.account, x.debit - x.credit) for x in lines} == {
        ("467000", 4800),
        ("445710", -800),
        ("120100", -4000),
    }
    assert sum(x.debit for x in lines) == sum(x.credit for x in lines)
