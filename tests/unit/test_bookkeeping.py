"""Which ledger lines each business event writes (domain/bookkeeping.py): every entry is
balanced, on the accounts of the operator's chart, and a credit note mirrors its invoice."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import bookkeeping
from chalicelib.domain.bookkeeping import fee_entry, payout_entry
from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import Sale, document_line, negated_line, totals, vat_breakdown
from chalicelib.domain.ledger import Chart, Journal, LedgerLine
from chalicelib.domain.lettering import letters
from chalicelib.domain.timezones import PARIS
from tests.support.properties import reproducible

CHART = Chart()
RECORDED = datetime(2026, 12, 2, 10, 15, tzinfo=PARIS)
DAY = date(2026, 12, 2)


def document(
    lines: list[dict[str, Any]],
    *,
    kind: str = "invoice",
    number: str = "RL-2026-000001",
    buyer: dict[str, Any] | None = None,
    member_id: str | None = "member-1",
) -> dict[str, Any]:
    return {
        "id": f"inv-scic-2026-{number[-6:]}",
        "type": kind,
        "number": number,
        "issued_at": "2026-12-02T10:15:00+01:00",
        "operator_id": "scic",
        "member_id": member_id,
        "buyer": buyer or {"name": "Camille Martin"},
        "lines": lines,
        "vat_breakdown": vat_breakdown(lines),
        "totals": totals(lines),
        "seller": {"name": "SCIC Relais"},
        "payment": {"status": "paid"},
        "legal_mentions": [],
        "previous_hash": "0" * 64,
        "hash": "1" * 64,
    }


def document_entries(
    document: dict[str, Any], chart: Chart, recorded_at: datetime, paid: bool
) -> list[LedgerLine]:
    """The rule, given the typed document of `document` (a dict, so tests can edit it)."""
    return bookkeeping.document_entries(Document.of(document), chart, recorded_at, paid)


def sale(amount: int, rate: str = "20.00") -> dict[str, Any]:
    return document_line(Sale("Journée", amount, Decimal(rate), DAY), franchise=False)


def by_account(lines: list[LedgerLine]) -> dict[str, tuple[int, int]]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        sums[line.account][0] += line.debit
        sums[line.account][1] += line.credit
    return {account: (debit, credit) for account, (debit, credit) in sums.items()}


def test_an_unpaid_invoice_debits_the_customer_and_credits_sales_and_vat() -> None:
    lines = document_entries(document([sale(1500)]), CHART, RECORDED, paid=False)

    assert [(x.journal, x.account, x.debit, x.credit) for x in lines] == [
        (Journal.sales, "411000", 1500, 0),
        (Journal.sales, "706000", 0, 1250),
        (Journal.sales, "445710", 0, 250),
    ]


def test_a_paid_invoice_also_moves_the_customer_balance_to_stripe() -> None:
    lines = document_entries(document([sale(1500)]), CHART, RECORDED, paid=True)

    bank = [(x.entry_id, x.account, x.debit, x.credit) for x in lines if x.journal is Journal.bank]
    assert bank == [
        ("inv-scic-2026-000001-BQ", "467000", 1500, 0),
        ("inv-scic-2026-000001-BQ", "411000", 0, 1500),
    ]


def test_a_credit_note_puts_every_amount_on_the_other_side() -> None:
    invoice = document([sale(1500)])
    credit = document(
        [negated_line(x) for x in invoice["lines"]], kind="credit_note", number="RL-2026-000002"
    )

    lines = document_entries(credit, CHART, RECORDED, paid=True)

    assert by_account(lines) == {
        "411000": (1500, 1500),  # refunded: the customer account is back to zero
        "706000": (1250, 0),
        "445710": (250, 0),
        "467000": (0, 1500),
    }
    assert lines[0].label == "Avoir RL-2026-000002 Camille Martin"


def test_a_failed_refund_puts_the_money_back_and_leaves_the_customer_owed() -> None:
    # GIVEN a refunded credit note (its refund entry: D 411 / C 467)
    invoice = document([sale(1500)])
    credit = document(
        [negated_line(x) for x in invoice["lines"]], kind="credit_note", number="RL-2026-000002"
    )
    refunded = document_entries(credit, CHART, RECORDED, paid=True)
    later = date(2026, 12, 9)

    # WHEN the refund fails
    failed = bookkeeping.refund_failure_entry(Document.of(credit), later, CHART, RECORDED)

    # THEN the Stripe balance gets the money back and the customer is owed it: with the
    # invoice and its payment, their account holds 15,00 € to pay back, and the Stripe
    # balance the 15,00 € until its next payout
    assert [(x.journal, x.account, x.debit, x.credit) for x in failed] == [
        (Journal.bank, "467000", 1500, 0),
        (Journal.bank, "411000", 0, 1500),
    ]
    paid_invoice = document_entries(invoice, CHART, RECORDED, paid=True)
    assert by_account(paid_invoice + refunded + failed)["411000"] == (3000, 4500)
    assert by_account(paid_invoice + refunded + failed)["467000"] == (3000, 1500)
    # AND on the credit note's piece, dated the day it failed, on the customer's account
    assert {x.entry_id for x in failed} == {"inv-scic-2026-000002-BQ-failed"}
    assert {(x.piece_ref, x.piece_date, x.entry_date) for x in failed} == {
        ("RL-2026-000002", DAY, later)
    }
    assert failed[1].aux_account == "member-1" and failed[0].aux_account == ""
    assert failed[0].label == "Remboursement échoué RL-2026-000002 Camille Martin"


def test_a_failed_refund_paid_by_transfer_settles_the_customer_on_the_credit_notes_piece() -> None:
    # GIVEN a credit note whose refund failed: the customer is owed 15,00 €
    invoice = document([sale(1500)])
    credit = document(
        [negated_line(x) for x in invoice["lines"]], kind="credit_note", number="RL-2026-000002"
    )
    note = Document.of(credit)
    owed = document_entries(credit, CHART, RECORDED, paid=True)
    owed += bookkeeping.refund_failure_entry(note, date(2026, 12, 9), CHART, RECORDED)
    paid_on = date(2026, 12, 14)

    # WHEN the accountant pays it by transfer
    paid = bookkeeping.refund_transfer_entry(note, paid_on, "VIR-42", CHART, RECORDED)

    # THEN the bank pays the customer, whose account is settled
    assert [(x.journal, x.account, x.debit, x.credit) for x in paid] == [
        (Journal.bank, "411000", 1500, 0),
        (Journal.bank, "512000", 0, 1500),
    ]
    debit, credit_side = by_account(owed + paid)["411000"]
    assert debit == credit_side
    # AND on the credit note's piece, dated the day of the transfer, so it is lettered
    assert {x.entry_id for x in paid} == {"inv-scic-2026-000002-BQ-transfer"}
    assert {(x.piece_ref, x.piece_date, x.entry_date) for x in paid} == {
        ("RL-2026-000002", DAY, paid_on)
    }
    assert paid[0].aux_account == "member-1" and paid[1].aux_account == ""
    assert paid[0].label == "Virement remboursement RL-2026-000002 VIR-42"
    assert set(letters(owed + paid).values()) == {("B", paid_on)}


def test_a_credit_note_no_refund_settles_is_lettered_with_its_invoice() -> None:
    invoice = document([sale(1500)], member_id=None)
    credit = {
        **document(
            [negated_line(x) for x in invoice["lines"]],
            kind="credit_note",
            number="RL-2026-000002",
            member_id=None,
        ),
        "refers_to": invoice["id"],
    }

    due = document_entries(credit, CHART, RECORDED, paid=False)
    refunded = document_entries(credit, CHART, RECORDED, paid=True)

    assert {(x.account, x.letter_with) for x in due} == {
        ("411000", invoice["id"]),  # lowers what the invoice asks for: lettered with it
        ("706000", ""),
        ("445710", ""),
    }
    assert {x.letter_with for x in refunded} == {""}  # its refund settles it


def test_a_zero_rate_line_writes_no_vat_line() -> None:
    lines = document_entries(document([sale(2400, "0.00")]), CHART, RECORDED, paid=False)

    assert [x.account for x in lines] == ["411000", "706000"]


def test_customer_lines_carry_the_customer_as_auxiliary_account() -> None:
    lines = document_entries(document([sale(1500)]), CHART, RECORDED, paid=True)

    assert [(x.account, x.aux_account, x.aux_label) for x in lines if x.aux_account] == [
        ("411000", "member-1", "Camille Martin"),
        ("411000", "member-1", "Camille Martin"),
    ]


def test_a_company_invoice_is_labelled_with_the_company_name() -> None:
    company = {"name": "Camille Martin", "company_name": "Atelier X"}
    invoice = document([sale(1500)], buyer=company, member_id=None)
    invoice["company_id"] = "co-1"

    first = document_entries(invoice, CHART, RECORDED, paid=False)[0]

    assert (first.label, first.aux_account) == ("Facture RL-2026-000001 Atelier X", "co-1")


def test_an_invoice_line_is_dated_and_referenced_by_the_document() -> None:
    first = document_entries(document([sale(1500)]), CHART, RECORDED, paid=False)[0]

    assert (first.entry_date, first.piece_date, first.piece_ref) == (DAY, DAY, "RL-2026-000001")
    assert (first.account_label, first.operator_id, first.recorded_at) == (
        "Clients",
        "scic",
        RECORDED,
    )


def test_a_stripe_fee_debits_bank_fees_and_credits_the_clearing_account() -> None:
    lines = fee_entry("scic", "txn_1", DAY, 45, CHART, RECORDED)

    assert [(x.entry_id, x.account, x.debit, x.credit) for x in lines] == [
        ("fee-txn_1", "627000", 45, 0),
        ("fee-txn_1", "467000", 0, 45),
    ]
    assert lines[0].label == "Frais Stripe txn_1"


def test_a_payout_debits_the_bank_and_credits_the_clearing_account() -> None:
    lines = payout_entry("scic", "po_1", DAY, 98_55, CHART, RECORDED)

    assert [(x.entry_id, x.account, x.debit, x.credit) for x in lines] == [
        ("payout-po_1", "512000", 98_55, 0),
        ("payout-po_1", "467000", 0, 98_55),
    ]
    assert {x.journal for x in lines} == {Journal.bank}


def test_a_payout_that_came_back_is_reversed_as_an_entry_of_its_own() -> None:
    lines = payout_entry("scic", "po_1", DAY, 98_55, CHART, RECORDED, returned=True)

    assert [(x.entry_id, x.account, x.debit, x.credit) for x in lines] == [
        ("payout-po_1-returned", "467000", 98_55, 0),
        ("payout-po_1-returned", "512000", 0, 98_55),
    ]
    assert lines[0].label == "Virement Stripe po_1 rejeté"
    assert {x.piece_ref for x in lines} == {"po_1"}


def test_a_fee_stripe_gives_back_is_the_reverse_of_a_fee() -> None:
    lines = fee_entry("scic", "txn_9", DAY, -1500, CHART, RECORDED)

    assert [(x.entry_id, x.account, x.debit, x.credit) for x in lines] == [
        ("fee-txn_9", "467000", 1500, 0),
        ("fee-txn_9", "627000", 0, 1500),
    ]
    assert lines[0].label == "Frais Stripe txn_9 remboursés"


# --- properties: the ledger balances --------------------------------------------------------

RATES = st.sampled_from(["20.00", "10.00", "5.50", "2.10", "0.00"])
SALES = st.lists(st.tuples(st.integers(min_value=0, max_value=1_000_000), RATES), min_size=1)


def entries_balance(lines: list[LedgerLine]) -> bool:
    debit: dict[str, int] = defaultdict(int)
    credit: dict[str, int] = defaultdict(int)
    for line in lines:
        debit[line.entry_id] += line.debit
        credit[line.entry_id] += line.credit
    return debit == credit


@reproducible
@given(sales=SALES, paid=st.booleans())
def test_every_entry_of_an_invoice_balances(sales: list[tuple[int, str]], paid: bool) -> None:
    lines = document_entries(document([sale(a, r) for a, r in sales]), CHART, RECORDED, paid)

    assert entries_balance(lines)


@reproducible
@given(sales=SALES, paid=st.booleans())
def test_no_ledger_line_has_a_negative_amount(sales: list[tuple[int, str]], paid: bool) -> None:
    invoice = document([sale(a, r) for a, r in sales])
    credit = document([negated_line(x) for x in invoice["lines"]], kind="credit_note")

    for doc in (invoice, credit):
        assert all(
            x.debit >= 0 and x.credit >= 0 for x in document_entries(doc, CHART, RECORDED, paid)
        )


@reproducible
@given(sales=SALES)
def test_an_invoice_and_its_credit_note_cancel_out_on_every_account(
    sales: list[tuple[int, str]],
) -> None:
    invoice = document([sale(a, r) for a, r in sales])
    credit = document([negated_line(x) for x in invoice["lines"]], kind="credit_note")

    lines = [
        *document_entries(invoice, CHART, RECORDED, paid=True),
        *document_entries(credit, CHART, RECORDED, paid=True),
    ]

    assert all(debit == credit for debit, credit in by_account(lines).values())


@reproducible
@given(amount=st.integers(min_value=0, max_value=10_000_000), fee=st.booleans())
def test_fee_and_payout_entries_balance(amount: int, fee: bool) -> None:
    entry = fee_entry if fee else payout_entry
    lines = entry("scic", "ref", DAY, amount, CHART, RECORDED)

    assert entries_balance(lines)
