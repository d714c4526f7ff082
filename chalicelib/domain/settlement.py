"""Settlement invoices between operators: who invoices whom, for what, and the buyer's
purchase entry.

French rules, as decided here: a member's credits (or membership days) bought from
operator A and used at a relay of operator B are a service B renders for A (A sold it
and collected its price and VAT). So B invoices A, in B's own numbering, a B2B invoice
with VAT (CGI art. 256 and 259: a service between two French taxable persons, taxed
where A is established; B's VAT regime applies, so a franchise host invoices without
VAT). Self-billing by A (*autofacturation*, CGI art. 289 I-2) would need a prior
mandate from each host: not chosen. Flows each way are invoiced separately (gross):
netting is how they are paid, not what is invoiced. One invoice per month and
(host, seller), idempotent: its source is `settlement-{month}-{host}-{seller}`.

A's side: the purchase entry (journal `HA`) of the invoice B issued — the service
excluding VAT on 604000, the deductible VAT on 445660, the total owed to B on its
supplier account 401000 (auxiliary account: B); A under the VAT franchise deducts no VAT:
the whole price on 604000; A's own accounts and journal code when A configured others
(`AccountingSettings`).

Usage that went away after its month was settled (settled early by a run with a future
`as_of`, then a booking cancelled in time) is credited: B's credit note on its latest
invoices of the month (`settlement_credit_source`), and A's entry mirrored.

A's transfer, recorded by B's accountant (it lands in B's bank: D 512 / C 411 B-side), is
also A's payment: `supplier_payment_entry` books it on A's side (journal `BQ`: D 401000
auxiliary B / C 512000), so A's supplier account is settled and its bank shows the money
going out, Relais being the only one to keep A's books.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from chalicelib.domain.bookkeeping import bank_entry
from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import Sale
from chalicelib.domain.ledger import AccountingSettings, Journal, LedgerLine

VAT_RATE = Decimal("20.00")


def settlement_source(month: str, host: str, seller: str, number: int = 1) -> str:
    """The source of a (month, host, seller) settlement: its first invoice, then `-2`,
    `-3`… for the usage the month gained after it was settled."""
    source = f"settlement-{month}-{host}-{seller}"
    return source if number == 1 else f"{source}-{number}"


def settlement_credit_source(month: str, host: str, seller: str, number: int) -> str:
    """The source of the `number`-th credit note of a (month, host, seller) settlement:
    usage its invoices counted that went away since (a booking cancelled in time after
    the month was settled early)."""
    return f"settlement-{month}-{host}-{seller}-credit-{number}"


def settlement_sale(month: str, amount_incl_vat: int, bookings: int, last_day: date) -> Sale:
    """The one line of the invoice: the month's usage, VAT included as valued."""
    return Sale(
        description=f"Accueil de membres du réseau Relais - {month} ({bookings} réservations)",
        amount_incl_vat=amount_incl_vat,
        vat_rate=VAT_RATE,
        service_date=last_day,
    )


def purchase_entry(
    document: Document,
    buyer_operator_id: str,
    books: AccountingSettings | None = None,
    *,
    buyer_franchise: bool = False,
) -> list[LedgerLine]:
    """The buyer's purchase entry of a settlement invoice (see the module's docstring),
    with the buyer's settings `books`; of its credit note, the mirror (D 401 / C 604,
    C 445660). A buyer under the VAT franchise deducts no VAT (art. 293 B du CGI): the
    whole price, VAT included, is its purchase."""
    books = books or AccountingSettings()
    chart, journals = books.chart, books.journals
    day = date.fromisoformat(document.issued_on)
    recorded = datetime.fromisoformat(document.issued_at)
    seller = document.seller
    credit_note = document.is_credit_note
    label = f"{'Avoir' if credit_note else 'Facture'} {document.number} {seller.name}"[:100]
    totals = document.totals

    def line(account: str, debit: int, credit: int, aux: bool = False) -> LedgerLine:
        if credit_note:  # negative totals: each amount on the other side, positive
            debit, credit = -credit, -debit
        return LedgerLine(
            entry_id=f"{document.id}-HA",
            journal=journals.code(Journal.purchases),
            journal_label=journals.label(Journal.purchases),
            entry_date=day,
            account=account,
            account_label=chart.label_of(account),
            label=label,
            piece_ref=document.number,
            piece_date=day,
            debit=debit,
            credit=credit,
            aux_account=document.operator_id[:40] if aux else "",
            aux_label=seller.name[:100] if aux else "",
            recorded_at=recorded,
            operator_id=buyer_operator_id,
        )

    deducted = 0 if buyer_franchise else totals.vat
    lines = [line(chart.purchases, totals.incl_vat - deducted, 0)]
    if deducted:
        lines.append(line(chart.vat_deductible, deducted, 0))
    lines.append(line(chart.suppliers, 0, totals.incl_vat, aux=True))
    return lines


def supplier_payment_entry(
    invoice: Document,
    buyer_operator_id: str,
    *,
    payment_id: str,
    amount: int,
    paid_on: date,
    reference: str,
    recorded_at: datetime,
    books: AccountingSettings | None = None,
) -> list[LedgerLine]:
    """A's transfer paying B's settlement `invoice`, on A's books: D 401000 (auxiliary
    account: B) / C 512000, on the day B received it."""
    books = books or AccountingSettings()
    chart = books.chart
    return bank_entry(
        chart,
        books.journals,
        buyer_operator_id,
        f"{invoice.id}-{payment_id}-HA",
        paid_on,
        f"Virement {invoice.number} {invoice.seller.name}"[:100],
        chart.suppliers,
        chart.bank,
        amount,
        reference[:100],
        recorded_at,
        aux=(chart.suppliers, invoice.operator_id[:40], invoice.seller.name[:100]),
    )
