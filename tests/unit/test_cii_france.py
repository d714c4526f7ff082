"""The French CIUS parts of the CII XML (BR-FR), checked element by element and with the
official EN 16931 and BR-FR schematrons (tests/data/einvoicing/)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.invoice_cii import cii_xml
from tests.support.einvoicing import cii_failures
from tests.unit.test_invoice import EU_BUSINESS
from tests.unit.test_invoice_pdf import (
    COMPANY,
    SAMPLES,
    SCIC,
    b2b_invoice,
    credit_note,
    debits_invoice,
    find,
    franchise_invoice,
    invoice,
    texts,
)

AGREEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
HEADER_TAX = (
    "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
)
NOTE = "rsm:ExchangedDocument/ram:IncludedNote"


def notes(xml: bytes) -> dict[str, str]:
    """Content of each note that has a subject code, by code."""
    return {
        note.findtext("{*}SubjectCode") or "": note.findtext("{*}Content") or ""
        for note in find(xml, NOTE)
        if note.findtext("{*}SubjectCode")
    }


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_documents_pass_en16931_and_br_fr(name: str) -> None:
    assert cii_failures(cii_xml(SAMPLES[name]())) == []


def test_a_consumer_invoice_says_why_discount_penalties_and_fee_do_not_apply() -> None:
    found = notes(cii_xml(invoice()))
    assert found["AAB"] == "Escompte pour paiement anticipé : néant"
    assert found["PMD"] == "Pénalités de retard : sans objet, facture acquittée"
    assert found["PMT"].startswith("Indemnité forfaitaire pour frais de recouvrement : non")
    assert found["BAR"] == "B2C"


def test_a_document_issued_before_the_consumer_notes_still_gets_them_in_its_xml() -> None:
    old = invoice()
    old["legal_mentions"] = old["legal_mentions"][:1]
    assert cii_failures(cii_xml(old)) == []


def test_a_business_buyer_is_routed_b2b_at_its_siren_in_the_directory() -> None:
    xml = cii_xml(b2b_invoice())
    assert notes(xml)["BAR"] == "B2B"
    uri = f"{AGREEMENT}/ram:BuyerTradeParty/ram:URIUniversalCommunication/ram:URIID"
    assert texts(xml, uri) == [COMPANY["siren"]]
    assert find(xml, uri)[0].get("schemeID") == "0225"


def test_a_business_of_another_eu_state_is_e_reported_b2bint_with_its_vat_number() -> None:
    document = invoice()
    document["buyer"] = EU_BUSINESS
    xml = cii_xml(document)
    assert notes(xml)["BAR"] == "B2BINT"
    buyer = f"{AGREEMENT}/ram:BuyerTradeParty"
    assert texts(xml, f"{buyer}/ram:SpecifiedTaxRegistration/ram:ID") == ["DE136695976"]
    assert cii_failures(xml) == []


def test_a_known_directory_address_of_the_buyer_is_used() -> None:
    document = b2b_invoice()
    document["buyer"] = {**COMPANY, "electronic_address": "552100554_COMPTA"}
    xml = cii_xml(document)
    uri = f"{AGREEMENT}/ram:BuyerTradeParty/ram:URIUniversalCommunication/ram:URIID"
    assert texts(xml, uri) == ["552100554_COMPTA"]
    assert cii_failures(xml) == []


def test_the_seller_address_is_its_siren_and_its_email_a_contact() -> None:
    xml = cii_xml(invoice())
    seller = f"{AGREEMENT}/ram:SellerTradeParty"
    assert texts(xml, f"{seller}/ram:URIUniversalCommunication/ram:URIID") == [SCIC["siren"]]
    email = f"{seller}/ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/ram:URIID"
    assert texts(xml, email) == [SCIC["email"]]


def test_a_consumer_buyer_is_reached_by_email() -> None:
    xml = cii_xml(credit_note())
    uri = f"{AGREEMENT}/ram:BuyerTradeParty/ram:URIUniversalCommunication/ram:URIID"
    assert texts(xml, uri) == ["c@example.org"]


def test_vat_on_services_is_due_on_receipts_by_default() -> None:
    assert texts(cii_xml(b2b_invoice()), f"{HEADER_TAX}/ram:DueDateTypeCode") == ["72", "72"]


def test_an_operator_opting_for_debits_says_so_on_every_rate() -> None:
    document = b2b_invoice()
    document["seller"] = {**SCIC, "vat_on_debits": True}
    xml = cii_xml(document)
    assert texts(xml, f"{HEADER_TAX}/ram:DueDateTypeCode") == ["5", "5"]
    assert cii_failures(xml) == []


def test_an_operator_opting_for_debits_gives_the_option_s_mention_as_a_note() -> None:
    xml = cii_xml(debits_invoice())

    contents = texts(xml, f"{NOTE}/ram:Content")
    assert "Option pour le paiement de la taxe d'après les débits" in contents
    assert texts(xml, f"{HEADER_TAX}/ram:DueDateTypeCode") == ["5"]
    assert cii_failures(xml) == []


def test_a_franchise_document_names_no_vat_point() -> None:
    assert texts(cii_xml(franchise_invoice()), f"{HEADER_TAX}/ram:DueDateTypeCode") == []


def test_a_delivery_place_other_than_the_buyer_address_is_given() -> None:
    document: dict[str, Any] = b2b_invoice()
    document["delivery_address"] = {
        "name": "Relais Gare de Melun",
        "line1": "Place Gallieni",
        "postcode": "77000",
        "city": "Melun",
        "country": "FR",
    }
    xml = cii_xml(document)
    ship_to = (
        "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty"
    )
    assert texts(xml, f"{ship_to}/ram:PostalTradeAddress/ram:LineOne") == ["Place Gallieni"]
    assert cii_failures(xml) == []


def test_a_delivery_place_equal_to_the_buyer_address_is_left_out() -> None:
    document = b2b_invoice()
    document["delivery_address"] = COMPANY["address"]
    ship_to = (
        "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty"
    )
    assert texts(cii_xml(document), ship_to) == []
