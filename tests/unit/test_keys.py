"""The table's key formats (adapters/keys.py) are stored data: every item already written
is found by them, so each format is pinned here, letter for letter."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from chalicelib.adapters import keys
from chalicelib.domain.timezones import PARIS
from chalicelib.domain.wallet import CreditPack

KEY_FORMATS = [
    (keys.booking("bk1"), {"PK": "BOOKING#bk1", "SK": "BOOKING"}),
    (keys.hold("2026-12-02T07:15:00Z", "bk1"), {"PK": "HOLDS", "SK": "2026-12-02T07:15:00Z#bk1"}),
    (keys.refund_due("bk1"), {"PK": "REFUNDS_DUE", "SK": "bk1"}),
    (keys.profile("m1"), {"PK": "MEMBER#m1", "SK": "PROFILE"}),
    (keys.member_feed("m1"), {"PK": "MEMBER#m1", "SK": "CALFEED"}),
    (keys.feed_token("t0k"), {"PK": "CALFEED#t0k", "SK": "CALFEED"}),
    (keys.membership("m1", "ms1"), {"PK": "MEMBER#m1", "SK": "MEMBERSHIP#ms1"}),
    (keys.payment("pi_1"), {"PK": "PAYMENT#pi_1", "SK": "PAYMENT"}),
    (keys.purchase("pu1"), {"PK": "PURCHASE#pu1", "SK": "PURCHASE"}),
    (keys.stripe_event("evt_1"), {"PK": "STRIPE_EVENT#evt_1", "SK": "EVENT"}),
    (keys.document_head("op1", 2026), {"PK": "DOCHEADS#op1", "SK": "2026"}),
    (keys.document_source("payment-pi_1"), {"PK": "DOCSOURCE#payment-pi_1", "SK": "SOURCE"}),
    (keys.company("co1"), {"PK": "COMPANY#co1", "SK": "COMPANY"}),
    (keys.company_siren("552100554", "op1"), {"PK": "SIREN#552100554", "SK": "COMPANY#op1"}),
    (keys.stripe_bt("txn_1"), {"PK": "STRIPE_BT#txn_1", "SK": "BT"}),
    (keys.stripe_match("pi_1"), {"PK": "STRIPE_MATCH#pi_1", "SK": "CHARGE"}),
    (keys.stripe_payout("po_1"), {"PK": "STRIPE_PAYOUT#po_1", "SK": "PAYOUT"}),
    (keys.reconcile_cursor("payouts"), {"PK": "RECONCILE", "SK": "CURSOR#payouts"}),
    (keys.idempotency("m1", "k"), {"PK": "IDEMPOTENCY#2:m1#k", "SK": "IDEMPOTENCY"}),
    (keys.mail("booking-1-confirmed"), {"PK": "MAIL#booking-1-confirmed", "SK": "MAIL"}),
    (keys.outbox_retry("k"), {"PK": "OUTBOX_RETRY", "SK": "k"}),
    (keys.period("op1", "2026-10"), {"PK": "PERIOD#op1", "SK": "2026-10"}),
    (keys.ledger_entry_claim("op1", "fee-txn_1"), {"PK": "LEDGERENTRY#op1", "SK": "fee-txn_1"}),
    (keys.rate_window("m1", 1764576000), {"PK": "RATE#m1", "SK": "WINDOW#1764576000"}),
    (keys.platform_settings("op1"), {"PK": "PLATFORM#op1", "SK": "SETTINGS"}),
    (keys.accounting_settings("op1"), {"PK": "ACCOUNTING#op1", "SK": "SETTINGS"}),
    (
        {"PK": keys.einvoices_pk("op1"), "SK": keys.einvoice_sk("inv1")},
        {"PK": "EINVOICE#op1", "SK": "inv1"},
    ),
]

TEXT_FORMATS = [
    (keys.operator_pk("op1"), "OPERATOR#op1"),
    (keys.audit_pk("op1", "2026-12"), "AUDIT#op1#2026-12"),
    (keys.audit_pk(None, "2026-12"), "AUDIT#NETWORK#2026-12"),
    (keys.audit_month_pk("2026-12"), "AUDIT#2026-12"),
    (keys.audit_sk("2026-12-02T07:15:00.000001Z", "au1"), "2026-12-02T07:15:00.000001Z#au1"),
    (keys.periods_pk("op1"), "PERIOD#op1"),
    (keys.entry_numbers_pk("op1", "2026-10"), "FECNUM#op1#2026-10"),
    (keys.siren_pk("732829320"), "SIREN#732829320"),
    (keys.relay_pk("r1"), "RELAY#r1"),
    (keys.resource_sk("res1"), "RESOURCE#res1"),
    (keys.product_pk("p1"), "PRODUCT#p1"),
    (keys.closure_sk("2026-12-02"), "CLOSURE#2026-12-02"),
    (keys.catalogue_sk("relay", "r1"), "relay#r1"),
    (keys.occupancy_pk("r1", "2026-12-02"), "OCC#r1#2026-12-02"),
    (keys.occupancy_sk("res1"), "RES#res1"),
    (keys.member_booking_sk("2026-12-02", "T", "bk1"), "BOOKING#2026-12-02#T#bk1"),
    (keys.member_bookings_between("a", "b"), ("BOOKING#a", "BOOKING#b~")),
    (keys.relay_booking_sk("2026-12-02", "T", "bk1"), "2026-12-02#T#bk1"),
    (keys.member_pk("m1"), "MEMBER#m1"),
    (keys.membership_due_sk("T", "ms1"), "T#ms1"),
    (keys.refund_sk("re_1"), "REFUND#re_1"),
    (keys.by_time_sk("T", "pi_1"), "T#pi_1"),
    (keys.operator_payments_pk("op1"), "PAYMENTS#op1"),
    (keys.operator_refunds_pk("op1"), "REFUNDS#op1"),
    (keys.operator_disputes_pk("op1"), "DISPUTES#op1"),
    (keys.operator_closed_disputes_pk("op1"), "DISPUTES_CLOSED#op1"),
    (keys.member_purchase_sk("T", "pu1"), "PURCHASE#T#pu1"),
    (keys.documents_pk("op1", 2026), "DOC#op1#2026"),
    (keys.document_sk(42), "000042"),
    (keys.operator_documents_pk("op1"), "DOCS#op1"),
    (keys.operator_document_sk("2026-12-02", "RL-2026-000001"), "2026-12-02#RL-2026-000001"),
    (keys.member_invoice_sk("2026-12-02", "RL-2026-000001"), "INVOICE#2026-12-02#RL-2026-000001"),
    (keys.ledger_pk("op1", 2026), "LEDGER#op1#2026"),
    (keys.ledger_sk("2026-12-02", "e1", 7), "2026-12-02#e1#007"),
    (keys.company_bookings_pk("co1", "2026-12"), "COMPANYBOOKINGS#co1#2026-12"),
    (keys.company_booking_sk("2026-12-02", "bk1"), "2026-12-02#bk1"),
    (keys.invoice_payments_pk("inv1"), "INVOICEPAY#inv1"),
    (keys.invoice_payment_sk("VIR-1"), "PAYMENT#VIR-1"),
    (keys.unpaid_pk("op1"), "UNPAID#op1"),
    (keys.company_payments_pk("op1"), "COMPANYPAYMENTS#op1"),
    (keys.dated_sk("2026-12-02", "x"), "2026-12-02#x"),
    (keys.created_sk(1764576000, "txn_1"), "001764576000#txn_1"),
    (keys.payout_bt_sk("txn_1"), "BT#txn_1"),
    (keys.operator_payouts_pk("op1"), "PAYOUTS#op1"),
    (keys.operator_payout_sk("2026-12-02", "po_1"), "2026-12-02#po_1"),
    (keys.outbox_pk("2026-12-02"), "OUTBOX#2026-12-02"),
    (keys.outbox_sk("T", "k"), "T#k"),
    (keys.ereports_pk("op1"), "EREPORT#op1"),
    (keys.ereport_sk("IN", "2026-12-01", 2), "IN#2026-12-01#02"),
    (keys.ereport_prefix("IN", "2026-12-01"), "IN#2026-12-01#"),
    (keys.einvoices_pk("op1"), "EINVOICE#op1"),
    (keys.einvoice_sk("doc1"), "doc1"),
]

CONSTANTS = {
    "CATALOGUE_PK": "CATALOGUE",
    "CLOSURE_MARKER_SK": "CLOSURE",
    "HOURS_MARKER_SK": "HOURS",
    "MEMBERSHIPS_DUE_PK": "MEMBERSHIPS_DUE",
    "MEMBERSHIP_GSI1SK": "MEMBERSHIP",
    "MEMBER_COMPANY_SK": "COMPANY",
    "COMPANIES_PK": "COMPANIES",
    "INVOICE_PAYMENT_STATE_SK": "STATE",
    "STRIPE_BT_PENDING_PK": "STRIPE_BT_PENDING",
    "STRIPE_PAYOUT_OPEN_PK": "STRIPE_PAYOUT_OPEN",
    "PACK_SK_PREFIX": "PACK#",
    "MEMBER_INVOICE_PREFIX": "INVOICE#",
}


@pytest.mark.parametrize(("built", "stored"), KEY_FORMATS)
def test_an_item_key_keeps_its_stored_format(built: keys.Key, stored: keys.Key) -> None:
    assert built == stored


@pytest.mark.parametrize(("built", "stored"), TEXT_FORMATS)
def test_a_key_text_keeps_its_stored_format(built: object, stored: object) -> None:
    assert built == stored


@pytest.mark.parametrize(("name", "stored"), sorted(CONSTANTS.items()))
def test_a_fixed_key_keeps_its_stored_text(name: str, stored: str) -> None:
    assert getattr(keys, name) == stored


def test_a_pack_key_is_the_one_bookings_record_in_their_credit_draws() -> None:
    bought = datetime(2026, 11, 1, 9, 30, tzinfo=PARIS)
    pack = CreditPack(
        purchase_id="pu1",
        product_id="p",
        member_id="m1",
        operator_id="op1",
        credits_total=Decimal(10),
        credits_remaining=Decimal(10),
        price_amount=12000,
        purchased_at=bought,
        expires_at=bought,
    )

    assert (
        keys.pack_sk(bought.isoformat(), "pu1")
        == pack.sort_key
        == ("PACK#2026-11-01T09:30:00+01:00#pu1")
    )
