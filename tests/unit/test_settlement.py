"""The buyer's side of a settlement invoice: its purchase entry, balanced, and its payment."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import document_line
from chalicelib.domain.settlement import (
    purchase_entry,
    settlement_credit_source,
    settlement_sale,
    settlement_source,
    supplier_payment_entry,
)
from tests.support.invoice_fixtures import load_bodies


def document(vat: int) -> Document:
    """A B2B invoice due by transfer (the fixtures'), as host op_b would issue it."""
    body = json.loads(load_bodies()[7])
    body |= {
        "id": "inv-op_b-2027-000001",
        "number": "NG-2027-000001",
        "operator_id": "op_b",
        "issued_at": "2027-01-01T05:00:00+01:00",
        "seller": {**body["seller"], "name": "Commune de Nangis"},
        "totals": {"excl_vat": 1000, "vat": vat, "incl_vat": 1000 + vat},
    }
    return Document.of(body)


def test_the_purchase_entry_owes_the_host_what_it_invoiced() -> None:
    lines = purchase_entry(document(200), "op_a")
    assert [(x.account, x.debit, x.credit) for x in lines] == [
        ("604000", 1000, 0),
        ("445660", 200, 0),
        ("401000", 0, 1200),
    ]
    assert {(x.operator_id, x.journal.value, x.entry_date) for x in lines} == {
        ("op_a", "HA", date(2027, 1, 1))
    }
    assert (lines[-1].aux_account, lines[-1].aux_label) == ("op_b", "Commune de Nangis")


def test_a_credit_note_mirrors_the_purchase_entry_and_has_its_own_source() -> None:
    # GIVEN the host's credit note of 6,00 € on its settlement invoice
    body = json.loads(document(200).model_dump_json())
    body |= {
        "id": "inv-op_b-2027-000002",
        "number": "NG-2027-000002",
        "type": "credit_note",
        "refers_to": "inv-op_b-2027-000001",
        "totals": {"excl_vat": -500, "vat": -100, "incl_vat": -600},
    }
    # WHEN the seller books it
    lines = purchase_entry(Document.of(body), "op_a")
    # THEN each amount is on the other side, positive: the supplier owed less
    assert [(x.account, x.debit, x.credit) for x in lines] == [
        ("604000", 0, 500),
        ("445660", 0, 100),
        ("401000", 600, 0),
    ]
    assert lines[0].label == "Avoir NG-2027-000002 Commune de Nangis"
    assert settlement_credit_source("2026-12", "op_b", "op_a", 1) == (
        "settlement-2026-12-op_b-op_a-credit-1"
    )


def test_a_host_without_vat_gives_no_deductible_vat() -> None:
    lines = purchase_entry(document(0), "op_a")
    assert [x.account for x in lines] == ["604000", "401000"]


def test_a_buyer_under_the_franchise_deducts_no_vat_its_purchase_costs_it_all() -> None:
    lines = purchase_entry(document(200), "op_a", buyer_franchise=True)
    assert [(x.account, x.debit, x.credit) for x in lines] == [
        ("604000", 1200, 0),
        ("401000", 0, 1200),
    ]


def test_the_invoice_line_and_source_of_a_month() -> None:
    sale = settlement_sale("2026-12", 1200, 3, date(2026, 12, 31))
    line = document_line(sale, franchise=False)
    assert (line["amount_excl_vat"], line["vat_amount"], line["service_date"]) == (
        1000,
        200,
        "2026-12-31",
    )
    assert document_line(sale, franchise=True)["vat_amount"] == 0
    assert settlement_source("2026-12", "op_b", "op_a") == "settlement-2026-12-op_b-op_a"


def test_the_purchase_entry_uses_the_buyers_own_accounts_and_journal() -> None:
    from chalicelib.domain.ledger import AccountingSettings, Chart, JournalCodes

    books = AccountingSettings(
        chart=Chart(suppliers="401100", purchases="611000", vat_deductible="445662"),
        journals=JournalCodes(purchases="ACH"),
    )
    lines = purchase_entry(document(200), "op_a", books)
    assert [(x.journal, x.account, x.account_label, x.debit, x.credit) for x in lines] == [
        ("ACH", "611000", "Achats de prestations de services", 1000, 0),
        ("ACH", "445662", "TVA déductible sur autres biens et services", 200, 0),
        ("ACH", "401100", "Fournisseurs", 0, 1200),
    ]
    assert {x.journal_label for x in lines} == {"Achats"}


def test_the_sellers_transfer_settles_its_supplier_account_from_its_bank() -> None:
    """The host recorded the seller's transfer: on the seller's books D 401 (the host as
    auxiliary account) / C 512, in its bank journal, the day the host received it."""
    from chalicelib.domain.ledger import AccountingSettings, Chart, JournalCodes

    books = AccountingSettings(chart=Chart(bank="512100"), journals=JournalCodes(bank="BNK"))
    lines = supplier_payment_entry(
        document(200),
        "op_a",
        payment_id="cpay_1",
        amount=1200,
        paid_on=date(2027, 1, 6),
        reference="VIR-1",
        recorded_at=datetime(2027, 1, 6, 9, tzinfo=UTC),
        books=books,
    )
    assert [(x.journal, x.account, x.debit, x.credit, x.aux_account) for x in lines] == [
        ("BNK", "401000", 1200, 0, "op_b"),
        ("BNK", "512100", 0, 1200, ""),
    ]
    assert {(x.entry_id, x.operator_id, x.entry_date, x.piece_ref) for x in lines} == {
        ("inv-op_b-2027-000001-cpay_1-HA", "op_a", date(2027, 1, 6), "VIR-1")
    }
    assert lines[0].label == "Virement NG-2027-000001 Commune de Nangis"
