"""Partial refunds: their credit notes, computed cumulatively against their invoice, negate
it exactly once the refunds add up to it (lines, VAT per rate), and stay valid CII."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.invoice import Sale
from chalicelib.services import invoicing
from chalicelib.services.context import Context
from tests.support.api import Api
from tests.support.einvoicing import cii_failures
from tests.support.fake_stripe import FakeGateway
from tests.support.webhooks import deliver

AMOUNTS = ("excl_vat", "vat", "incl_vat")


def paid_booking(
    api: Api, member: str, network: dict, stripe_fake: FakeGateway, settings: Settings
) -> tuple[dict[str, Any], dict[str, Any]]:
    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": "2026-12-04", "unit": "day", "payment": "card"},
        token=member,
    )
    assert answer.status == 201, answer.json
    intent = stripe_fake.succeed(answer.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    booking = api.get(f"/v1/bookings/{answer.json['booking']['id']}", token=member).json
    return booking, intent


def charge_refunded(intent: dict[str, Any], refunds: list[tuple[str, int]]) -> dict[str, Any]:
    """`charge.refunded` as Stripe sends it: every refund of the charge so far."""
    refunded = sum(amount for _, amount in refunds)
    return {
        "id": intent["latest_charge"],
        "object": "charge",
        "payment_intent": intent["id"],
        "amount": intent["amount"],
        "amount_refunded": refunded,
        "currency": "eur",
        "refunded": refunded >= intent["amount"],
        "status": "succeeded",
        "refunds": {
            "object": "list",
            "data": [
                {
                    "id": refund_id,
                    "object": "refund",
                    "amount": amount,
                    "charge": intent["latest_charge"],
                    "payment_intent": intent["id"],
                    "status": "succeeded",
                }
                for refund_id, amount in refunds
            ],
        },
    }


def credit_notes(api: Api, token: str, operator_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/invoices?operator_id={operator_id}&type=credit_note", token=token)
    assert answer.status == 200, answer.json
    return list(answer.json["items"])


def summed(documents: list[dict[str, Any]]) -> dict[str, int]:
    return {k: sum(d["totals"][k] for d in documents) for k in AMOUNTS}


def per_rate(documents: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    rates: dict[str, tuple[int, int]] = {}
    for document in documents:
        for rate in document["vat_breakdown"]:
            base, vat = rates.get(rate["rate"], (0, 0))
            rates[rate["rate"]] = (base + rate["base"], vat + rate["vat"])
    return rates


def vat_of_month(api: Api, token: str, operator_id: str, month: str) -> int:
    answer = api.get(f"/v1/accounting/vat?operator_id={operator_id}&month={month}", token=token)
    assert answer.status == 200, answer.json
    return int(answer.json["total_vat"])


def test_partial_refunds_refunding_the_whole_invoice_credit_exactly_its_vat(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    # GIVEN a 15,00 € day (VAT 2,50 €) refunded in three refunds of 5,00 € (alone, each
    # would carry round(500 × 20/120) = 0,83 € of VAT: 2,49 € in all)
    booking, intent = paid_booking(api, member, network, stripe_fake, settings)
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=accountant).json
    assert invoice["totals"] == {"excl_vat": 1250, "vat": 250, "incl_vat": 1500}
    refunds: list[tuple[str, int]] = []
    for n in range(3):
        refunds.append((f"re_part_{n}", 500))
        answer = deliver(api, settings, "charge.refunded", charge_refunded(intent, refunds))
        assert answer.status == 200, answer.json

    # THEN the three credit notes negate the invoice exactly, and no VAT stays collected
    notes = credit_notes(api, accountant, network["operator"])
    assert len(notes) == 3
    assert summed(notes) == {"excl_vat": -1250, "vat": -250, "incl_vat": -1500}
    assert sorted(n["totals"]["vat"] for n in notes) == [-84, -83, -83]
    assert vat_of_month(api, accountant, network["operator"], "2026-12") == 0


def test_a_retried_partial_refund_issues_no_second_credit_note(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    # GIVEN two partial refunds of a 15,00 € day, credited
    booking, intent = paid_booking(api, member, network, stripe_fake, settings)
    refunds = [("re_first", 700), ("re_second", 800)]
    for n in (1, 2):
        charge = charge_refunded(intent, refunds[:n])
        assert deliver(api, settings, "charge.refunded", charge).status == 200
    before = credit_notes(api, accountant, network["operator"])

    # WHEN Stripe sends the event again (and an earlier one, late)
    for n in (2, 1):
        charge = charge_refunded(intent, refunds[:n])
        assert deliver(api, settings, "charge.refunded", charge).status == 200

    # THEN nothing new is issued, and the two notes credit the whole invoice
    after = credit_notes(api, accountant, network["operator"])
    assert after == before and len(after) == 2
    assert summed(after) == {"excl_vat": -1250, "vat": -250, "incl_vat": -1500}
    assert {n["refers_to"] for n in after} == {booking["invoice_id"]}


def test_a_partial_credit_note_mirrors_the_invoice_line_and_passes_en16931_and_br_fr(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    # GIVEN a day booked for 2026-12-04, paid, then refunded 5,00 €
    booking, intent = paid_booking(api, member, network, stripe_fake, settings)
    charge = charge_refunded(intent, [("re_part", 500)])
    assert deliver(api, settings, "charge.refunded", charge).status == 200

    # THEN its credit note credits the invoice's line, for the service of that line (the
    # booked day, not the day the invoice was issued), and its CII passes the rules
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=accountant).json
    (note,) = credit_notes(api, accountant, network["operator"])
    (line,) = note["lines"]
    assert line["service_date"] == invoice["lines"][0]["service_date"] == "2026-12-04"
    assert line["description"] == f"Remboursement partiel — {invoice['lines'][0]['description']}"
    assert (line["amount_excl_vat"], line["vat_amount"], line["amount_incl_vat"]) == (
        -417,
        -83,
        -500,
    )
    xml = api.get(f"/v1/invoices/{note['id']}/xml", token=accountant)
    assert xml.status == 200
    assert cii_failures(xml.body) == []


def test_partial_refunds_of_a_multi_rate_invoice_credit_each_line_and_rate_exactly(
    api: Api,
    ctx: Context,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: FakeGateway,
    settings: Settings,
) -> None:
    # GIVEN an invoice of three lines at two rates (20 % and 5,5 %), 100,00 € in all
    booking, _ = paid_booking(api, member, network, stripe_fake, settings)
    buyer = api.get(f"/v1/invoices/{booking['invoice_id']}", token=accountant).json["buyer"]
    day = date(2026, 12, 7)
    invoice = invoicing.issue(
        ctx,
        operator_id=network["operator"],
        source="payment-pi_multi",
        buyer=buyer,
        member_id=None,
        sales=[
            Sale("Journée — Bureau", 3333, Decimal("20.00"), day),
            Sale("Repas", 4444, Decimal("5.50"), day),
            Sale("Demi-journée — Salle", 2223, Decimal("20.00"), date(2026, 12, 8)),
        ],
        payment={"status": "paid", "method": "card", "paid_at": "2026-12-01T10:00:00+01:00"},
    )

    # WHEN it is refunded in three partial refunds that add up to it
    notes = []
    for n, amount in enumerate((3001, 3001, 3998)):
        note = invoicing.credit_note(
            ctx,
            invoice,
            source=f"refund-re_multi_{n}",
            amount=amount,
            payment={"status": "paid", "method": "card", "paid_at": "2026-12-02T10:00:00+01:00"},
        )
        assert note["totals"]["incl_vat"] == -amount
        assert {line["vat_rate"] for line in note["lines"]} == {"20.00", "5.50"}
        notes.append(note)

    # THEN together they negate every rate of the invoice, and every line
    assert summed(notes) == {k: -v for k, v in invoice["totals"].items()}
    assert per_rate(notes) == {r["rate"]: (-r["base"], -r["vat"]) for r in invoice["vat_breakdown"]}
    for index, line in enumerate(invoice["lines"]):
        credited = [note["lines"][index] for note in notes]
        assert {c["service_date"] for c in credited} == {line["service_date"]}
        for key in ("amount_excl_vat", "vat_amount", "amount_incl_vat"):
            assert sum(c[key] for c in credited) == -line[key]
    # a retry of a refund issues nothing new; every note is valid CII
    again = invoicing.credit_note(
        ctx,
        invoice,
        source="refund-re_multi_1",
        amount=3001,
        payment={"status": "paid", "method": "card", "paid_at": "2026-12-02T10:00:00+01:00"},
    )
    assert again == notes[1]
    for note in notes:
        xml = api.get(f"/v1/invoices/{note['id']}/xml", token=accountant)
        assert cii_failures(xml.body) == []
