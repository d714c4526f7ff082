"""Double-entry bookkeeping lines, as the FEC needs them, and an operator's accounting
settings (its chart of accounts, journal codes and fiscal year).

One accounting entry (`entry_id`) is several lines whose debits equal credits.
Entries are numbered (`EcritureNum`) only when a FEC is exported, in date order,
so the numbering is continuous whatever order they were written in.

A line carries its account number and label, and its journal code and label, as they
were when it was written: the settings may change later (at a fiscal-year boundary, see
`domain/accounting_settings.py`), the lines already written never do, so the FEC of a
closed period is the same file whatever the settings became.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Journal(StrEnum):
    sales = "VE"
    bank = "BQ"
    misc = "OD"
    opening = "AN"  # à-nouveaux: the balances carried into a new fiscal year
    purchases = "HA"  # what an operator buys: another operator's settlement invoice


JOURNAL_LABELS: dict[str, str] = {
    Journal.sales: "Ventes",
    Journal.bank: "Banque Stripe",
    Journal.misc: "Opérations diverses",
    Journal.opening: "À-nouveaux",
    Journal.purchases: "Achats",
}


@dataclass(frozen=True)
class JournalCodes:
    """An operator's journal code for each journal Relais writes (configurable per
    operator; the defaults are the `Journal` values)."""

    sales: str = Journal.sales.value
    bank: str = Journal.bank.value
    misc: str = Journal.misc.value
    opening: str = Journal.opening.value
    purchases: str = Journal.purchases.value

    def code(self, journal: Journal) -> str:
        """The code lines of `journal` carry. A default code is the `Journal` member
        itself (a `str`), so lines written with the default settings are exactly what
        they were before the codes became configurable."""
        code: str = getattr(self, journal.name)
        return journal if code == journal.value else code

    def label(self, journal: Journal) -> str:
        return JOURNAL_LABELS[journal]


@dataclass(frozen=True)
class Chart:
    """An operator's accounts (configurable per operator)."""

    customers: str = "411000"
    sales: str = "706000"
    vat_collected: str = "445710"
    stripe_clearing: str = "467000"
    bank_fees: str = "627000"
    bank: str = "512000"
    suppliers: str = "401000"  # a settlement invoice received from another operator
    purchases: str = "604000"
    vat_deductible: str = "445660"
    profit: str = "120000"  # the year's result, carried by the opening entry
    loss: str = "129000"

    def label_of(self, account: str) -> str:
        """The label of one of the chart's accounts (`CompteLib`), by its purpose."""
        for name, label in CHART_LABELS.items():
            if getattr(self, name) == account:
                return label
        return ACCOUNT_LABELS.get(account, account)


@dataclass(frozen=True)
class AccountingSettings:
    """What an operator's books are kept with: written into each ledger line as it is
    written (accounts, journal codes), and the fiscal year (first month, 1 = January)."""

    chart: Chart = Chart()
    journals: JournalCodes = JournalCodes()
    fiscal_year_start_month: int = 1


DEFAULT_SETTINGS = AccountingSettings()


# The label of each account of a `Chart`, by the account's purpose.
CHART_LABELS = {
    "customers": "Clients",
    "sales": "Prestations de services",
    "vat_collected": "TVA collectée",
    "stripe_clearing": "Stripe - compte d'attente",
    "bank_fees": "Services bancaires (frais Stripe)",
    "bank": "Banque",
    "suppliers": "Fournisseurs",
    "purchases": "Achats de prestations de services",
    "vat_deductible": "TVA déductible sur autres biens et services",
    "profit": "Résultat de l'exercice (bénéfice)",
    "loss": "Résultat de l'exercice (perte)",
}

ACCOUNT_LABELS = {
    "411000": "Clients",
    "706000": "Prestations de services",
    "445710": "TVA collectée",
    "467000": "Stripe - compte d'attente",
    "627000": "Services bancaires (frais Stripe)",
    "512000": "Banque",
    "401000": "Fournisseurs",
    "604000": "Achats de prestations de services",
    "445660": "TVA déductible sur autres biens et services",
}


@dataclass(frozen=True)
class LedgerLine:
    entry_id: str  # lines of one entry share it; the entry is balanced
    journal: str  # JournalCode: a `Journal` member with the default codes
    entry_date: date  # EcritureDate
    account: str  # CompteNum, at least 3 digits
    account_label: str  # CompteLib
    label: str  # EcritureLib
    piece_ref: str  # PieceRef: invoice number, payment or payout id
    piece_date: date  # PieceDate
    debit: int = 0  # cents
    credit: int = 0  # cents
    aux_account: str = ""  # CompAuxNum: the customer, on 411 lines
    aux_label: str = ""  # CompAuxLib
    recorded_at: datetime | None = None  # ValidDate comes from it
    operator_id: str = ""  # whose books the line belongs to
    journal_label: str = ""  # JournalLib; "" = the default label of `journal`
    # A customer line lettered with another document's: a credit note that no refund of
    # its own settles (a company's) goes with the invoice it reduces (its id).
    letter_with: str = ""
