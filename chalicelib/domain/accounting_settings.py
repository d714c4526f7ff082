"""An operator's accounting settings as the API reads and writes them, their checks, and
when they may change.

- **Accounts** (Plan comptable général): 6 to 12 digits, each in the class of its
  purpose (customers 411…, revenue 70…, VAT collected 4457…, …: `ACCOUNT_PREFIXES`),
  all different.
- **Journal codes**: 2 to 6 characters, uppercase letters and digits, all different.
- **Fiscal year**: its first month, 1 to 12 (`domain/fiscal_year.py`).

**When they may change.** The FEC of a closed period never changes. Ledger lines keep the
account and journal they were written with, so a change never rewrites the past; but a
fiscal year must be kept with one set of settings (one sequence of `EcritureNum`, one
chart, its boundaries). So a change is accepted only while the fiscal year it would
apply to has no closed period: when nothing is closed yet, or when the first open period
is the first month of a fiscal year, both as the settings are and as they would be. It
then applies to everything written from then on, which lands in that first open
period or later. Otherwise 409 `accounting_settings_locked`: the change must wait for
the fiscal year's last month to be closed. Since months close in order from the
operator's first one, this means the fiscal year's first month can change only while
nothing is closed (a changed fiscal year would need a transitional exercise of another
length, which Relais does not keep). And once a FEC (a download, an export or a close)
has numbered entries, the start month no longer changes at all: those numbers belong to
a fiscal year's sequence and are never given again (API.md: "assigned once and never
changes"); a new start would put them in another year's sequence. Pure.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from chalicelib.domain.fiscal_year import is_first_month
from chalicelib.domain.ledger import AccountingSettings, Chart, JournalCodes

JOURNAL_PATTERN = r"^[A-Z0-9]{2,6}$"

# The classes (first digits, PCG) each account of the chart must be in.
ACCOUNT_PREFIXES: dict[str, tuple[str, ...]] = {
    "customers": ("411",),  # Clients
    "sales": ("70",),  # Ventes de produits et prestations de services
    "vat_collected": ("4457",),  # TVA collectée
    "stripe_clearing": ("467", "47", "51", "58"),  # attente, banques, virements internes
    "bank_fees": ("627",),  # Services bancaires
    "bank": ("512",),  # Banques
    "suppliers": ("401",),  # Fournisseurs
    "purchases": ("60", "61", "62"),  # Achats, services extérieurs
    "vat_deductible": ("4456",),  # TVA déductible
    "profit": ("120",),  # Résultat de l'exercice (bénéfice)
    "loss": ("129",),  # Résultat de l'exercice (perte)
}

JournalCode = Annotated[str, Field(pattern=JOURNAL_PATTERN)]
_CHART, _JOURNALS = Chart(), JournalCodes()


def account_pattern(purpose: str) -> str:
    """6 to 12 digits starting with one of the purpose's classes (`ACCOUNT_PREFIXES`), as
    a pattern the OpenAPI document states too (so generated bodies are valid)."""
    choices = [
        f"{prefix}[0-9]{{{6 - len(prefix)},{12 - len(prefix)}}}"
        for prefix in ACCOUNT_PREFIXES[purpose]
    ]
    return f"^({'|'.join(choices)})$"


class ChartInput(BaseModel):
    """Account numbers; a field left out takes its default."""

    model_config = ConfigDict(extra="forbid")

    customers: Annotated[str, Field(pattern=account_pattern("customers"))] = _CHART.customers
    sales: Annotated[str, Field(pattern=account_pattern("sales"))] = _CHART.sales
    vat_collected: Annotated[str, Field(pattern=account_pattern("vat_collected"))] = (
        _CHART.vat_collected
    )
    stripe_clearing: Annotated[str, Field(pattern=account_pattern("stripe_clearing"))] = (
        _CHART.stripe_clearing
    )
    bank_fees: Annotated[str, Field(pattern=account_pattern("bank_fees"))] = _CHART.bank_fees
    bank: Annotated[str, Field(pattern=account_pattern("bank"))] = _CHART.bank
    suppliers: Annotated[str, Field(pattern=account_pattern("suppliers"))] = _CHART.suppliers
    purchases: Annotated[str, Field(pattern=account_pattern("purchases"))] = _CHART.purchases
    vat_deductible: Annotated[str, Field(pattern=account_pattern("vat_deductible"))] = (
        _CHART.vat_deductible
    )
    profit: Annotated[str, Field(pattern=account_pattern("profit"))] = _CHART.profit
    loss: Annotated[str, Field(pattern=account_pattern("loss"))] = _CHART.loss

    @model_validator(mode="after")
    def _distinct(self) -> ChartInput:
        numbers = list(self.model_dump().values())
        twice = sorted({n for n in numbers if numbers.count(n) > 1})
        if twice:
            raise ValueError(f"each account has one purpose: {', '.join(twice)} used twice")
        return self


class JournalsInput(BaseModel):
    """Journal codes; a field left out takes its default."""

    model_config = ConfigDict(extra="forbid")

    sales: JournalCode = _JOURNALS.sales
    bank: JournalCode = _JOURNALS.bank
    misc: JournalCode = _JOURNALS.misc
    opening: JournalCode = _JOURNALS.opening
    purchases: JournalCode = _JOURNALS.purchases

    @model_validator(mode="after")
    def _distinct(self) -> JournalsInput:
        codes = list(self.model_dump().values())
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"journal codes must differ: {', '.join(twice)} used twice")
        return self


class AccountingSettingsInput(BaseModel):
    """The body of `PUT /v1/operators/{id}/accounting-settings`: the whole settings (a
    part left out takes its default)."""

    model_config = ConfigDict(extra="forbid")

    chart: ChartInput = Field(default_factory=ChartInput)
    journals: JournalsInput = Field(default_factory=JournalsInput)
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)

    def to_settings(self) -> AccountingSettings:
        return AccountingSettings(
            chart=Chart(**self.chart.model_dump()),
            journals=JournalCodes(**self.journals.model_dump()),
            fiscal_year_start_month=self.fiscal_year_start_month,
        )


def settings_dict(settings: AccountingSettings) -> dict[str, Any]:
    """The settings as JSON (what is stored and answered)."""
    return {
        "chart": {name: getattr(settings.chart, name) for name in ACCOUNT_PREFIXES},
        "journals": {
            name: str(getattr(settings.journals, name)) for name in JournalsInput.model_fields
        },
        "fiscal_year_start_month": settings.fiscal_year_start_month,
    }


def settings_of(stored: dict[str, Any] | None) -> AccountingSettings:
    """The settings from what `settings_dict` gave (None: the defaults)."""
    if not stored:
        return AccountingSettings()
    return AccountingSettingsInput.model_validate(stored).to_settings()


def change_refusal(
    current: AccountingSettings,
    wanted: AccountingSettings,
    first_open: str | None,
    numbered: bool = False,
) -> str | None:
    """Why `wanted` may not replace `current` now (see the module's docstring), or None.

    `first_open`: the operator's first period neither closed nor closing; None when no
    period was ever closed. `numbered`: a FEC has handed out entry numbers."""
    if numbered and wanted.fiscal_year_start_month != current.fiscal_year_start_month:
        return (
            "A FEC (a download, an export or a month's close) has already numbered this"
            " operator's entries in its fiscal years: the fiscal year's first month can no"
            " longer change, as those numbers are never given again."
        )
    if first_open is None or wanted == current:
        return None
    starts = sorted({current.fiscal_year_start_month, wanted.fiscal_year_start_month})
    for start in starts:
        if not is_first_month(first_open, start):
            return (
                f"The fiscal year of {first_open} already has a closed period: accounting"
                " settings change only from a fiscal year none of whose periods is closed"
                f" (first open period {first_open}; a fiscal year starting in month {start}"
                " would not start there). Close the fiscal year's last month first."
            )
    return None
