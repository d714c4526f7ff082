"""Every kind of document Relais issues passes the EN 16931 and French (BR-FR) rules.

The documents are issued by the real flows (HTTP API, fake Stripe, the jobs) and their
CII XML is read back from `GET /v1/invoices/{id}/xml`, then validated with the official
compiled schematrons of tests/data/einvoicing/ (see its README).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.adapters.cii_validation import CiiValidator
from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from chalicelib.domain.invoice import Sale
from chalicelib.services import invoicing
from chalicelib.services.context import Context
from chalicelib.services.settlement import settle_operators
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_invoicing_flow import paid_booking
from tests.integration.test_memberships import (  # noqa: F401 (fixture)
    invoices,
    paris,
    product,
    run_renewals,
    start_membership,
    stripe_fake,
)
from tests.integration.test_settlement import used_elsewhere  # noqa: F401 (fixture)
from tests.support.api import Api
from tests.support.einvoicing import cii_failures
from tests.support.fake_stripe_memberships import MembershipFakeGateway
from tests.support.webhooks import deliver


def cii_of(api: Api, token: str, invoice_id: str) -> bytes:
    answer = api.get(f"/v1/invoices/{invoice_id}/xml", token=token)
    assert answer.status == 200, answer.json
    return answer.body


def test_a_card_day_pass_invoice_passes_en16931_and_br_fr(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: MembershipFakeGateway,  # noqa: F811
    settings: Settings,
) -> None:
    booking = paid_booking(api, member, network, stripe_fake, settings)
    assert cii_failures(cii_of(api, member, booking["invoice_id"])) == []


def test_a_refund_credit_note_passes_en16931_and_br_fr(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: MembershipFakeGateway,  # noqa: F811
    settings: Settings,
) -> None:
    booking = paid_booking(api, member, network, stripe_fake, settings)
    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member).json
    assert cii_failures(cii_of(api, member, cancelled["credit_note_id"])) == []


def test_a_credit_pack_invoice_passes_en16931_and_br_fr(
    api: Api,
    admin: str,
    member: str,
    network: dict,
    stripe_fake: MembershipFakeGateway,  # noqa: F811
    settings: Settings,
) -> None:
    pack = {
        "kind": "credit_pack",
        "name": "10 jours",
        "price": {"amount": 12000, "vat_rate": "20.00"},
        "operator_id": network["operator"],
        "credits": 10,
        "validity_days": 180,
    }
    product_id = api.post("/v1/products", pack, token=admin).json["id"]
    bought = api.post("/v1/purchases", {"product_id": product_id}, token=member)
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    (invoice,) = invoices(api, member)
    assert cii_failures(cii_of(api, member, invoice["id"])) == []


def test_a_membership_renewal_invoice_passes_en16931_and_br_fr(
    api: Api,
    admin: str,
    member: str,
    product: str,  # noqa: F811
    settings: Settings,
    stripe_fake: MembershipFakeGateway,  # noqa: F811
    clock: FixedClock,
) -> None:
    clock.moment = paris(2027, 1, 31, 10, 0)
    start_membership(api, settings, stripe_fake, member, product)
    clock.moment = paris(2027, 2, 28, 0, 5)
    assert run_renewals(api, admin, clock.moment)["paid"] == 1
    renewal = max(invoices(api, member), key=lambda item: item["number"])
    assert renewal["number"].endswith("000002")
    assert cii_failures(cii_of(api, member, renewal["id"])) == []


def test_a_company_monthly_b2b_invoice_passes_en16931_and_br_fr(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
) -> None:
    xml = cii_of(api, admin, invoiced["id"])
    assert b'schemeID="0225">552100554<' in xml
    assert cii_failures(xml) == []


@pytest.mark.parametrize("host_regime", ["normal", "franchise"])
def test_a_settlement_invoice_between_operators_passes_en16931_and_br_fr(
    ctx: Context,
    api: Api,
    admin: str,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],  # noqa: F811
    host_regime: str,
) -> None:
    """The host's monthly invoice to the seller (services/settlement.py): a B2B invoice
    between two operators, both with a SIREN; a host under franchise invoices without VAT."""
    host, seller = used_elsewhere["host"], used_elsewhere["seller"]
    if host_regime == "franchise":
        version = api.get(f"/v1/operators/{host}", token=admin).headers["ETag"]
        patched = api.request(
            "PATCH",
            f"/v1/operators/{host}",
            {"vat_regime": "franchise"},
            token=admin,
            headers={"If-Match": version},
        )
        assert patched.status == 200, patched.json
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    (number,) = settle_operators(ctx)["invoices"]
    items = api.get(f"/v1/invoices?operator_id={host}", token=accountant).json["items"]
    (invoice,) = [d for d in items if d["number"] == number]
    seller_siren = api.get(f"/v1/operators/{seller}", token=admin).json["siren"]

    xml = cii_of(api, accountant, invoice["id"])

    assert f'schemeID="0225">{seller_siren}<'.encode() in xml  # BT-49, the buyer operator
    assert b"<ram:Content>B2B</ram:Content>" in xml
    if host_regime == "franchise":
        assert b"VATEX-FR-FRANCHISE" in xml and invoice["totals"]["vat"] == 0
    assert cii_failures(xml) == []
    assert CiiValidator().failures(xml) == []  # what route_einvoices checks before sending


def test_a_long_invoice_of_identical_lines_passes_en16931_and_br_fr(
    ctx: Context, api: Api, accountant: str, network: dict[str, str]
) -> None:
    """301 hours at 4,00 € on one invoice (a company's busy month): its VAT per rate is
    its base x 20 % (BR-CO-17), not the sum of 301 roundings (201,67 € on 1 002,33 €)."""
    hours = [
        Sale(f"Heure {n} — Open space, Gare de Melun", 400, Decimal("20.00"), date(2026, 11, 2))
        for n in range(301)
    ]
    document = invoicing.issue(
        ctx,
        operator_id=network["operator"],
        source="long-invoice",
        buyer={"name": "Camille Martin", "email": "camille@example.org", "address": None},
        member_id="member-1",
        sales=hours,
        payment={
            "status": "paid",
            "method": "card",
            "paid_at": "2026-12-01T07:00:00+01:00",
            "provider_ref": "pi_long",
        },
    )
    assert document["vat_breakdown"] == [{"rate": "20.00", "base": 100333, "vat": 20067}]

    xml = cii_of(api, accountant, document["id"])

    assert cii_failures(xml) == []
    assert CiiValidator().failures(xml) == []  # what route_einvoices checks before sending


FOREIGN_BUSINESS = {
    "name": "Jonas Weber",
    "email": "jonas.weber@example.de",
    "company_name": "Weber Consulting GmbH",
    "vat_number": "DE136695976",
    "billing_address": {
        "line1": "Friedrichstraße 10",
        "postcode": "10117",
        "city": "Berlin",
        "country": "DE",
    },
}


def test_an_invoice_to_a_business_of_another_eu_state_is_b2bint_not_b2c(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: MembershipFakeGateway,  # noqa: F811
    settings: Settings,
) -> None:
    """A member buying for a German company (DE VAT number, Berlin, no SIREN): BR-FR-20's
    `B2BINT`, with the business mentions, not a consumer's."""
    assert api.request("PUT", "/v1/me", FOREIGN_BUSINESS, token=member).status == 200
    booking = paid_booking(api, member, network, stripe_fake, settings)
    xml = api.get(f"/v1/invoices/{booking['invoice_id']}/xml", token=member).body
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=member).json

    assert b"<ram:Content>B2BINT</ram:Content>" in xml
    assert b"<ram:Content>B2C</ram:Content>" not in xml
    assert not any("client non professionnel" in m for m in invoice["legal_mentions"])
    assert cii_failures(xml) == []


def test_a_french_business_known_by_its_vat_number_alone_is_b2b_with_its_siren(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: MembershipFakeGateway,  # noqa: F811
    settings: Settings,
) -> None:
    """FR + key + SIREN: the profile takes the SIREN from the VAT number, so the invoice
    is a French business's (e-invoiced, `B2B`), never e-reported as a consumer's (found
    by review R4)."""
    profile = {
        "name": "Claire Martin",
        "email": "claire@atelier-brie.fr",
        "company_name": "Atelier Brie SAS",
        "vat_number": "FR 96 552 100 554",
        "billing_address": {"line1": "2 rue du Moulin", "postcode": "77000", "city": "Melun"},
    }
    answer = api.request("PUT", "/v1/me", profile, token=member)
    assert answer.status == 200, answer.json
    assert (answer.json["siren"], answer.json["vat_number"]) == ("552100554", "FR96552100554")
    booking = paid_booking(api, member, network, stripe_fake, settings)
    xml = api.get(f"/v1/invoices/{booking['invoice_id']}/xml", token=member).body
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=member).json

    assert invoice["buyer"]["siren"] == "552100554"
    assert b"<ram:Content>B2C</ram:Content>" not in xml
    assert cii_failures(xml) == []


def test_a_profile_stored_with_a_french_vat_number_alone_is_invoiced_as_a_business(
    api: Api,
    ctx: Context,
    member: str,
    network: dict,
    stripe_fake: MembershipFakeGateway,  # noqa: F811
    settings: Settings,
) -> None:
    """Saved before `PUT /v1/me` took the SIREN from it (found by review R5): the invoice's
    buyer takes it from the VAT number all the same."""
    ctx.profiles.put(
        "member-1",  # the `member` token's
        {
            "name": "Claire Martin",
            "email": "claire@atelier-brie.fr",
            "company_name": "Atelier Brie SAS",
            "vat_number": "FR96552100554",
        },
    )
    booking = paid_booking(api, member, network, stripe_fake, settings)
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=member).json
    xml = api.get(f"/v1/invoices/{booking['invoice_id']}/xml", token=member).body
    assert invoice["buyer"]["siren"] == "552100554"
    assert b"<ram:Content>B2C</ram:Content>" not in xml
