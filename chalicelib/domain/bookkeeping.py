"""Which ledger lines each business event writes (the accounting model of DESIGN.md).

Invoice: VE  D 411 (incl. VAT) / C 706 (base per rate) / C 44571 (VAT per rate).
Payment: BQ  D Stripe clearing / C 411.      Credit note and refund: the mirror.
Refund that failed: BQ D Stripe clearing / C 411 (the customer is owed it again).
Stripe fee: BQ D 627 / C Stripe clearing.    Payout: BQ D 512 / C Stripe clearing.

The accounts and journal codes are the operator's (`Chart`, `JournalCodes`: the
defaults are the numbers above).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from chalicelib.domain.documents import Document
from chalicelib.domain.ledger import Chart, Journal, JournalCodes, LedgerLine


def document_entries(
    document: Document,
    chart: Chart,
    recorded_at: datetime,
    paid: bool,
    journals: JournalCodes | None = None,
) -> list[LedgerLine]:
    """The sales entry of an invoice or credit note, and its payment or refund entry."""
    codes = journals or JournalCodes()
    day = date.fromisoformat(document.issued_on)
    sign = -1 if document.is_credit_note else 1
    customer, buyer = customer_account(document)
    label = f"{'Avoir' if sign < 0 else 'Facture'} {document.number} {buyer}"[:100]

    # A credit note that no refund settles (a company's: it lowers what the invoice asks
    # for) is lettered with its invoice, whose transfers settle what is left.
    letter_with = (document.refers_to or "") if sign < 0 and not paid else ""

    def line(
        entry: str, journal: Journal, account: str, amount: int, debit_side: bool, aux: bool = False
    ) -> LedgerLine:
        amount *= sign
        debit, credit = (amount, 0) if debit_side else (0, amount)
        if amount < 0:  # a credit note puts each amount on the other side
            debit, credit = -credit, -debit
        return LedgerLine(
            entry_id=f"{document.id}-{entry}",
            journal=codes.code(journal),
            journal_label=codes.label(journal),
            entry_date=day,
            account=account,
            account_label=chart.label_of(account),
            label=label,
            piece_ref=document.number,
            piece_date=day,
            debit=debit,
            credit=credit,
            aux_account=customer if aux else "",
            aux_label=buyer if aux else "",
            recorded_at=recorded_at,
            operator_id=document.operator_id,
            letter_with=letter_with if aux else "",
        )

    total = abs(document.totals.incl_vat)
    lines = [line("VE", Journal.sales, chart.customers, total, True, aux=True)]
    for rate in document.vat_breakdown:
        lines.append(line("VE", Journal.sales, chart.sales, abs(rate.base), False))
        if rate.vat:
            lines.append(line("VE", Journal.sales, chart.vat_collected, abs(rate.vat), False))
    if paid:
        lines.append(line("BQ", Journal.bank, chart.stripe_clearing, total, True))
        lines.append(line("BQ", Journal.bank, chart.customers, total, False, aux=True))
    return lines


def customer_account(document: Document) -> tuple[str, str]:
    """The customer's auxiliary account (`CompAuxNum`) and its label: the member, the
    company, or the operator a settlement invoice bills (documents issued before they
    carried it: `client`)."""
    customer = (
        document.member_id or document.company_id or document.buyer_operator_id or "client"
    )[:40]
    return customer, (document.buyer.company_name or document.buyer.name or customer)[:100]


def refund_failure_entry(
    credit_note: Document,
    day: date,
    chart: Chart,
    recorded_at: datetime,
    journals: JournalCodes | None = None,
) -> list[LedgerLine]:
    """A refund Stripe could not make, on its credit note's piece: the money is back in
    the Stripe balance and the customer is owed it again (their account is left open,
    unlettered, until the accountant pays them another way)."""
    customer, buyer = customer_account(credit_note)
    clearing, owed = bank_entry(
        chart,
        journals or JournalCodes(),
        credit_note.operator_id,
        f"{credit_note.id}-BQ-failed",
        day,
        f"Remboursement échoué {credit_note.number} {buyer}"[:100],
        chart.stripe_clearing,
        chart.customers,
        abs(credit_note.totals.incl_vat),
        credit_note.number,
        recorded_at,
    )
    issued = date.fromisoformat(credit_note.issued_on)
    return [
        replace(clearing, piece_date=issued),
        replace(owed, piece_date=issued, aux_account=customer, aux_label=buyer),
    ]


def dispute_entry(
    invoice: Document,
    reference: str,
    day: date,
    amount: int,
    chart: Chart,
    recorded_at: datetime,
    journals: JournalCodes | None = None,
) -> list[LedgerLine]:
    """Money Stripe moved for a dispute of the invoice's payment (`reference`: its balance
    transaction), on the invoice's piece: taken out when the dispute opened (`amount` < 0:
    the customer owes it again, D 411 / C 467, their account left open) or put back once
    it was won (`amount` > 0: D 467 / C 411, which settles the account: the FEC letters
    the invoice again)."""
    customer, buyer = customer_account(invoice)
    taken = amount < 0
    first, second = bank_entry(
        chart,
        journals or JournalCodes(),
        invoice.operator_id,
        f"{invoice.id}-BQ-dispute-{reference}",
        day,
        f"{'Litige' if taken else 'Litige gagné'} {invoice.number} {buyer}"[:100],
        chart.customers if taken else chart.stripe_clearing,
        chart.stripe_clearing if taken else chart.customers,
        abs(amount),
        invoice.number,
        recorded_at,
    )
    issued = date.fromisoformat(invoice.issued_on)
    return [
        replace(line, piece_date=issued, aux_account=customer, aux_label=buyer)
        if line.account == chart.customers
        else replace(line, piece_date=issued)
        for line in (first, second)
    ]


def refund_transfer_entry(
    credit_note: Document,
    day: date,
    reference: str,
    chart: Chart,
    recorded_at: datetime,
    journals: JournalCodes | None = None,
) -> list[LedgerLine]:
    """The bank transfer that paid the customer a refund Stripe could not make, on its
    credit note's piece: D 411 (the customer, settled: the FEC letters the note) / C 512."""
    customer, buyer = customer_account(credit_note)
    owed, bank = bank_entry(
        chart,
        journals or JournalCodes(),
        credit_note.operator_id,
        f"{credit_note.id}-BQ-transfer",
        day,
        f"Virement remboursement {credit_note.number} {reference}"[:100],
        chart.customers,
        chart.bank,
        abs(credit_note.totals.incl_vat),
        credit_note.number,
        recorded_at,
    )
    issued = date.fromisoformat(credit_note.issued_on)
    return [
        replace(owed, piece_date=issued, aux_account=customer, aux_label=buyer),
        replace(bank, piece_date=issued),
    ]


def fee_entry(
    operator_id: str,
    reference: str,
    day: date,
    fee: int,
    chart: Chart,
    recorded_at: datetime,
    journals: JournalCodes | None = None,
) -> list[LedgerLine]:
    """Stripe's fee on a balance transaction: D 627 / C 467; a fee Stripe gives back
    (negative: a dispute's fee once it is won, where Stripe does) the reverse."""
    charged = fee > 0
    return bank_entry(
        chart,
        journals or JournalCodes(),
        operator_id,
        f"fee-{reference}",
        day,
        f"Frais Stripe {reference}" + ("" if charged else " remboursés"),
        chart.bank_fees if charged else chart.stripe_clearing,
        chart.stripe_clearing if charged else chart.bank_fees,
        abs(fee),
        reference,
        recorded_at,
    )


def payout_entry(
    operator_id: str,
    payout_id: str,
    day: date,
    amount: int,
    chart: Chart,
    recorded_at: datetime,
    journals: JournalCodes | None = None,
    returned: bool = False,
) -> list[LedgerLine]:
    """A Stripe payout reaching the bank: D 512 / C 467. `returned`: a booked payout the
    bank sent back (or Stripe cancelled), its money at Stripe again — the reverse, D 467 /
    C 512, as its own entry on the day it came back."""
    accounts = (
        (chart.stripe_clearing, chart.bank) if returned else (chart.bank, chart.stripe_clearing)
    )
    return bank_entry(
        chart,
        journals or JournalCodes(),
        operator_id,
        f"payout-{payout_id}-returned" if returned else f"payout-{payout_id}",
        day,
        f"Virement Stripe {payout_id}" + (" rejeté" if returned else ""),
        *accounts,
        amount,
        payout_id,
        recorded_at,
    )


def bank_entry(
    chart: Chart,
    journals: JournalCodes,
    operator_id: str,
    entry_id: str,
    day: date,
    label: str,
    debit_account: str,
    credit_account: str,
    amount: int,
    reference: str,
    recorded_at: datetime,
    aux: tuple[str, str, str] | None = None,
) -> list[LedgerLine]:
    """A two-line entry of the bank journal: `amount` from `credit_account` to
    `debit_account`, on the piece `reference`. `aux`: (account, auxiliary account, its
    label) — the line of that account names the customer or supplier."""

    def line(account: str, debit: int, credit: int) -> LedgerLine:
        named = aux is not None and aux[0] == account
        return LedgerLine(
            entry_id=entry_id,
            journal=journals.code(Journal.bank),
            journal_label=journals.label(Journal.bank),
            entry_date=day,
            account=account,
            account_label=chart.label_of(account),
            label=label,
            piece_ref=reference,
            piece_date=day,
            debit=debit,
            credit=credit,
            aux_account=aux[1] if named and aux else "",
            aux_label=aux[2] if named and aux else "",
            recorded_at=recorded_at,
            operator_id=operator_id,
        )

    return [line(debit_account, amount, 0), line(credit_account, 0, amount)]
