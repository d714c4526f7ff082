"""Invoices, credit notes, ledger and exports from real flows (moto, fake Stripe)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from chalicelib.config import Settings
from chalicelib.services.context import Context
from tests.support.api import Api, operator_body, relay_body, resource_body
from tests.support.fake_stripe import FakeGateway
from tests.support.fec_checker import check_fec
from tests.support.webhooks import deliver


def paid_booking(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
    day: str = "2026-12-04",
) -> dict[str, Any]:
    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": day, "unit": "day", "payment": "card"},
        token=member,
    )
    assert answer.status == 201, answer.json
    intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    return api.get(f"/v1/bookings/{answer.json['booking']['id']}", token=member).json


def test_paid_booking_gets_a_numbered_chained_invoice(
    api: Api, member: str, network: dict, stripe_fake: FakeGateway, settings: Settings
) -> None:
    booking = paid_booking(api, member, network, stripe_fake, settings)
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=member).json
    assert invoice["number"] == "RL-2026-000001"
    assert invoice["type"] == "invoice"
    assert invoice["previous_hash"] == "0" * 64
    assert invoice["totals"] == {"excl_vat": 1250, "vat": 250, "incl_vat": 1500}
    assert invoice["vat_breakdown"] == [{"rate": "20.00", "base": 1250, "vat": 250}]
    assert invoice["seller"]["siren"] == "732829320"
    assert invoice["payment"]["status"] == "paid"
    assert any("acquittée" in m for m in invoice["legal_mentions"])


def test_an_operator_taxed_on_debits_says_so_on_its_invoices(
    api: Api, admin: str, member: str, stripe_fake: FakeGateway, settings: Settings
) -> None:
    # GIVEN an operator that opted to pay VAT on its debits
    operator = api.post("/v1/operators", operator_body(vat_on_debits=True), token=admin)
    assert operator.status == 201, operator.json
    relay = api.post("/v1/relays", relay_body(operator.json["id"]), token=admin).json
    pool = api.post(f"/v1/relays/{relay['id']}/resources", resource_body(), token=admin).json

    # WHEN a booking of its relay is paid
    booking = paid_booking(api, member, {"pool": pool["id"]}, stripe_fake, settings)

    # THEN the invoice carries the mention (CGI annexe II, art. 242 nonies A, I-13°)
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=member).json
    assert invoice["seller"]["vat_on_debits"] is True
    assert "Option pour le paiement de la taxe d'après les débits" in invoice["legal_mentions"]


def test_refund_issues_a_credit_note_and_books_balance_back_to_zero(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    booking = paid_booking(api, member, network, stripe_fake, settings)
    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member).json
    assert cancelled["refund"] == {"amount": 1500, "status": "succeeded"}
    note = api.get(f"/v1/invoices/{cancelled['credit_note_id']}", token=member).json
    assert note["type"] == "credit_note" and note["number"] == "RL-2026-000002"
    assert note["refers_to"] == booking["invoice_id"]
    assert note["totals"] == {"excl_vat": -1250, "vat": -250, "incl_vat": -1500}
    fec = api.get(
        f"/v1/accounting/fec?operator_id={network['operator']}&year=2026", token=accountant
    )
    assert fec.status == 200
    filename = fec.headers["Content-Disposition"].split('filename="')[1].rstrip('"')
    assert filename == "732829320FEC20261231.txt"
    text = fec.body.decode()
    assert check_fec(text, filename) == []
    balance: dict[str, int] = defaultdict(int)
    for row in text.splitlines()[1:]:
        cols = row.split("|")
        balance[cols[4]] += int(cols[11].replace(",", "")) - int(cols[12].replace(",", ""))
    assert balance["411000"] == 0
    assert balance["467000"] == 0


def test_vat_report_nets_refunds_of_the_month(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    first = paid_booking(api, member, network, stripe_fake, settings, "2026-12-04")
    paid_booking(api, member, network, stripe_fake, settings, "2026-12-07")
    api.post(f"/v1/bookings/{first['id']}/cancel", token=member)
    report = api.get(
        f"/v1/accounting/vat?operator_id={network['operator']}&month=2026-12", token=accountant
    ).json
    assert report["lines"] == [{"rate": "20.00", "base": 1250, "vat": 250}]
    assert report["total_vat"] == 250


def test_tampering_with_a_stored_document_is_detected_and_named(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    for day in ("2026-12-04", "2026-12-07", "2026-12-08"):
        paid_booking(api, member, network, stripe_fake, settings, day)
    url = f"/v1/accounting/integrity?operator_id={network['operator']}"
    assert api.get(url, token=accountant).json == {
        "ok": True,
        "documents_checked": 3,
        "first_broken_number": None,
    }
    key = {"PK": f"DOC#{network['operator']}#2026", "SK": "000002"}
    item = ctx.table.table.get_item(Key=key)["Item"]
    document = json.loads(item["body"])
    document["totals"]["incl_vat"] = 150
    ctx.table.table.update_item(
        Key=key,
        UpdateExpression="SET body = :b",
        ExpressionAttributeValues={":b": json.dumps(document)},
    )
    assert api.get(url, token=accountant).json == {
        "ok": False,
        "documents_checked": 2,
        "first_broken_number": "RL-2026-000002",
    }


def test_member_sees_own_invoices_only(
    api: Api, member: str, network: dict, stripe_fake: FakeGateway, settings: Settings
) -> None:
    booking = paid_booking(api, member, network, stripe_fake, settings)
    other = api.token("member-2")
    assert api.get(f"/v1/invoices/{booking['invoice_id']}", token=other).status == 404
    assert api.get("/v1/invoices", token=other).json["items"] == []
    assert len(api.get("/v1/invoices", token=member).json["items"]) == 1
