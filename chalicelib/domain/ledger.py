"""Double-entry bookkeeping lines, as the FEC needs them.

One accounting entry (`entry_id`) is several lines whose debits equal credits.
Entries are numbered (`EcritureNum`) only when a FEC is exported, in date order,
so the numbering is continuous whatever order they were written in.
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


JOURNAL_LABELS = {
    Journal.sales: "Ventes",
    Journal.bank: "Banque Stripe",
    Journal.misc: "Opérations diverses",
    Journal.opening: "À-nouveaux",
    Journal.purchases: "Achats",
}


@dataclass(frozen=True)
class Chart:
    """An operator's accounts (configurable per operator)."""

    customers: str = "411000"
    sales: str = "706000"
    vat_collected: str = "445710"
    stripe_clearing: str = "467000"
    bank_fees: str = "627000"
    bank: str = "512000"


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
    journal: Journal
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
