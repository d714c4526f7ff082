"""Factur-X PDFs of issued documents: EN 16931 CII XML, readable French PDF, XML embedded."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import facturx
import pypdf
import pytest
from lxml import etree

from chalicelib.adapters.invoice_cii import NS, cii_xml
from chalicelib.adapters.invoice_pdf import render_invoice_pdf
from chalicelib.domain.invoice import (
    FRANCHISE_MENTION,
    GENESIS_HASH,
    VAT_ON_DEBITS_MENTION,
    Sale,
    chain_hash,
    document_line,
    legal_mentions,
    negated_line,
    totals,
    vat_breakdown,
)
from tests.support.library_clock import set_pdf_libraries_clock

Document = dict[str, Any]

MELUN = {
    "line1": "2 place Praslin",
    "line2": None,
    "postcode": "77000",
    "city": "Melun",
    "country": "FR",
}
SCIC = {
    "name": "SCIC Relais 77",
    "legal_form": "SCIC SAS",
    "siren": "732829320",
    "siret": "73282932000074",
    "vat_number": "FR44732829320",
    "vat_regime": "normal",
    "address": MELUN,
    "email": "compta@relais77.fr",
}
MICRO = {
    "name": "Élise Durand — Relais de Fontainebleau",
    "legal_form": "Entreprise individuelle",
    "siren": "443061841",
    "siret": None,
    "vat_number": None,
    "vat_regime": "franchise",
    "address": {
        "line1": "12 rue Grande",
        "line2": "Bâtiment B",
        "postcode": "77300",
        "city": "Fontainebleau",
        "country": "FR",
    },
    "email": "elise@relais-fontainebleau.fr",
}
MEMBER = {
    "name": "Camille Martin",
    "email": "c@example.org",
    "address": None,
    "company_name": None,
    "siren": None,
    "vat_number": None,
}
COMPANY = {
    "name": "Ştefan Lefèvre",  # Ş is not in the font: drawn as S
    "email": "compta@atelier-x.fr",
    "address": {
        "line1": "8 quai Hippolyte Rossignol",
        "line2": None,
        "postcode": "77000",
        "city": "Melun",
        "country": "FR",
    },
    "company_name": "Atelier X",
    "siren": "552100554",
    "vat_number": "FR96552100554",
}
PAID_BY_CARD = {
    "status": "paid",
    "method": "card",
    "paid_at": "2026-12-02T10:15:00+01:00",
    "provider_ref": "pi_123",
    "due_date": None,
}
DUE_BY_TRANSFER = {
    "status": "due",
    "method": "transfer",
    "paid_at": None,
    "provider_ref": None,
    "due_date": "2027-01-31",
}
DAY_PASS = Sale(
    "Pass journée — Open space, Gare de Melun", 1500, Decimal("20.00"), date(2026, 12, 2)
)


def build(
    doc_type: str,
    seller: dict[str, Any],
    buyer: dict[str, Any],
    sales: list[Sale],
    payment: dict[str, Any],
    number: str,
    refers: tuple[str, str] | None = None,
) -> Document:
    """A document as the invoicing service freezes it."""
    franchise = seller["vat_regime"] == "franchise"
    lines = [document_line(sale, franchise) for sale in sales]
    if doc_type == "credit_note":
        lines = [negated_line(line) for line in lines]
    document: Document = {
        "id": f"inv-op_x-2026-{number[-6:]}",
        "number": number,
        "type": doc_type,
        "operator_id": "op_x",
        "issued_at": "2026-12-02T10:15:00+01:00",
        "seller": seller,
        "buyer": buyer,
        "lines": lines,
        "totals": totals(lines),
        "vat_breakdown": vat_breakdown(lines),
        "currency": "EUR",
        "payment": payment,
        "refers_to": "inv-op_x-2026-000001" if refers else None,
        "refers_to_number": refers[0] if refers else None,
        "refers_to_date": refers[1] if refers else None,
        "legal_mentions": legal_mentions(seller, buyer, payment, refers),
        "previous_hash": GENESIS_HASH,
    }
    document["hash"] = chain_hash(document, GENESIS_HASH)
    return document


def invoice() -> Document:
    return build("invoice", SCIC, MEMBER, [DAY_PASS], PAID_BY_CARD, "RL-2026-000001")


def credit_note() -> Document:
    return build(
        "credit_note",
        SCIC,
        MEMBER,
        [DAY_PASS],
        PAID_BY_CARD,
        "RL-2026-000002",
        refers=("RL-2026-000001", "2026-12-02"),
    )


def franchise_invoice() -> Document:
    half_day = Sale("Bureau fermé — demi-journée", 2400, Decimal("20.00"), date(2026, 12, 3))
    return build("invoice", MICRO, MEMBER, [half_day], PAID_BY_CARD, "EF-2026-000001")


def b2b_invoice() -> Document:
    sales = [
        Sale("Salle de réunion Seine — 3 h", 9000, Decimal("20.00"), date(2026, 12, 4), Decimal(3)),
        Sale("Café d'accueil", 1000, Decimal("10.00"), date(2026, 12, 4)),
        Sale("Forfait 3 pass journée", 1000, Decimal("20.00"), date(2026, 12, 5), Decimal(3)),
        Sale("Domiciliation — décembre", 123456, Decimal("20.00"), date(2026, 12, 5)),
    ]
    return build("invoice", SCIC, COMPANY, sales, DUE_BY_TRANSFER, "RL-2026-000003")


def debits_invoice() -> Document:
    """A B2B invoice of a seller that opted to pay VAT on its debits."""
    on_debits = {**SCIC, "vat_on_debits": True}
    sales = [Sale("Domiciliation — décembre", 6000, Decimal("20.00"), date(2026, 12, 5))]
    return build("invoice", on_debits, COMPANY, sales, DUE_BY_TRANSFER, "RL-2026-000004")


SAMPLES: dict[str, Callable[[], Document]] = {
    "invoice": invoice,
    "credit_note": credit_note,
    "franchise": franchise_invoice,
    "b2b": b2b_invoice,
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    return {name: render_invoice_pdf(make()) for name, make in SAMPLES.items()}


def pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text.replace("\u00a0", " ")


def find(xml: bytes, path: str) -> list[ET.Element]:
    return ET.fromstring(xml).findall(path, NS)


def texts(xml: bytes, path: str) -> list[str]:
    return [element.text or "" for element in find(xml, path)]


SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
SUMMATION = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
AGREEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"


# --- CII XML --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_xml_is_valid_against_the_en16931_xsd(name: str) -> None:
    xml = cii_xml(SAMPLES[name]())

    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert facturx.get_level(etree.fromstring(xml), "factur-x") == "en16931"


def test_invoice_xml_carries_the_en16931_header_and_totals() -> None:
    xml = cii_xml(invoice())

    assert texts(
        xml, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    ) == ["urn:cen.eu:en16931:2017"]
    assert texts(xml, "rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert texts(xml, "rsm:ExchangedDocument/ram:ID") == ["RL-2026-000001"]
    assert texts(xml, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == ["20261202"]
    seller = f"{AGREEMENT}/ram:SellerTradeParty"
    assert find(xml, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID")[0].attrib == {
        "schemeID": "0002"
    }
    assert texts(xml, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID") == ["732829320"]
    assert texts(xml, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID") == ["FR44732829320"]
    assert find(xml, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID")[0].get("schemeID") == "VA"
    assert texts(xml, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:CategoryCode") == ["S"]
    assert texts(xml, f"{SUMMATION}/ram:LineTotalAmount") == ["12.50"]
    assert texts(xml, f"{SUMMATION}/ram:TaxBasisTotalAmount") == ["12.50"]
    assert texts(xml, f"{SUMMATION}/ram:TaxTotalAmount") == ["2.50"]
    assert find(xml, f"{SUMMATION}/ram:TaxTotalAmount")[0].get("currencyID") == "EUR"
    assert texts(xml, f"{SUMMATION}/ram:GrandTotalAmount") == ["15.00"]
    assert texts(xml, f"{SUMMATION}/ram:TotalPrepaidAmount") == ["15.00"]
    assert texts(xml, f"{SUMMATION}/ram:DuePayableAmount") == ["0.00"]


def test_credit_note_xml_is_a_381_with_positive_amounts_and_the_credited_invoice() -> None:
    document = credit_note()
    assert document["totals"]["incl_vat"] == -1500  # negative in the books

    xml = cii_xml(document)

    assert texts(xml, "rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert texts(xml, f"{SUMMATION}/ram:GrandTotalAmount") == ["15.00"]
    assert texts(xml, f"{SUMMATION}/ram:TaxTotalAmount") == ["2.50"]
    line = "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
    assert texts(xml, f"{line}/ram:SpecifiedLineTradeDelivery/ram:BilledQuantity") == ["1"]
    assert texts(
        xml,
        f"{line}/ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount",
    ) == ["12.50"]
    referenced = f"{SETTLEMENT}/ram:InvoiceReferencedDocument"
    assert texts(xml, f"{referenced}/ram:IssuerAssignedID") == ["RL-2026-000001"]
    assert texts(xml, f"{referenced}/ram:FormattedIssueDateTime/qdt:DateTimeString") == ["20261202"]


def test_franchise_xml_is_exempt_with_the_293b_reason() -> None:
    xml = cii_xml(franchise_invoice())

    tax = f"{SETTLEMENT}/ram:ApplicableTradeTax"
    assert texts(xml, f"{tax}/ram:CategoryCode") == ["E"]
    assert texts(xml, f"{tax}/ram:ExemptionReason") == [FRANCHISE_MENTION]
    assert texts(xml, f"{tax}/ram:ExemptionReasonCode") == ["VATEX-FR-FRANCHISE"]
    assert texts(xml, f"{tax}/ram:RateApplicablePercent") == ["0.00"]
    assert texts(xml, f"{tax}/ram:CalculatedAmount") == ["0.00"]
    # BR-E-02: no VAT number, so the tax registration identifier (FC) stands in.
    registration = find(
        xml, f"{AGREEMENT}/ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID"
    )
    assert [(r.get("schemeID"), r.text) for r in registration] == [("FC", "443061841")]
    assert texts(xml, f"{SUMMATION}/ram:GrandTotalAmount") == ["24.00"]


def test_b2b_xml_names_the_company_and_breaks_vat_down_per_rate() -> None:
    xml = cii_xml(b2b_invoice())

    buyer = f"{AGREEMENT}/ram:BuyerTradeParty"
    assert texts(xml, f"{buyer}/ram:Name") == ["Atelier X"]
    assert texts(xml, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID") == ["552100554"]
    assert texts(xml, f"{buyer}/ram:SpecifiedTaxRegistration/ram:ID") == ["FR96552100554"]
    tax = f"{SETTLEMENT}/ram:ApplicableTradeTax"
    assert texts(xml, f"{tax}/ram:RateApplicablePercent") == ["20.00", "10.00"]
    assert texts(xml, f"{tax}/ram:BasisAmount") == ["1112.13", "9.09"]
    assert texts(xml, f"{tax}/ram:CalculatedAmount") == ["222.43", "0.91"]
    assert texts(xml, f"{SUMMATION}/ram:DuePayableAmount") == ["1344.56"]
    terms = f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
    assert texts(xml, terms) == ["20270131"]
    subjects = texts(xml, "rsm:ExchangedDocument/ram:IncludedNote/ram:SubjectCode")
    assert sorted(subjects) == ["AAB", "BAR", "PMD", "PMT"]


def test_documents_whose_totals_do_not_add_up_are_refused() -> None:
    document = invoice()
    document["totals"] = {**document["totals"], "incl_vat": 1600}

    with pytest.raises(ValueError, match="do not add up"):
        cii_xml(document)


# --- PDF ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_pdf_embeds_the_same_xml(name: str, rendered: dict[str, bytes]) -> None:
    pdf = rendered[name]

    assert pdf.startswith(b"%PDF")
    filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    assert xml == cii_xml(SAMPLES[name]())


@pytest.mark.parametrize("name", SAMPLES)
def test_pdf_is_pdfa3_with_embedded_fonts(name: str, rendered: dict[str, bytes]) -> None:
    reader = pypdf.PdfReader(io.BytesIO(rendered[name]))
    root: Any = reader.trailer["/Root"]

    xmp = root["/Metadata"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp
    assert b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert "/OutputIntents" in root
    for page in reader.pages:
        resources: Any = page["/Resources"]
        fonts: Any = resources["/Font"]  # PDF/A: every font embedded
        for font in fonts.values():
            for descendant in font.get_object()["/DescendantFonts"]:
                assert "/FontFile2" in descendant.get_object()["/FontDescriptor"]


def test_invoice_pdf_shows_number_parties_totals_and_mentions(rendered: dict[str, bytes]) -> None:
    document = invoice()
    text = pdf_text(rendered["invoice"])

    for expected in (
        "FACTURE",
        "N° RL-2026-000001",
        "Date d'émission : 02/12/2026",
        "SCIC Relais 77",
        "SCIC SAS",
        "SIREN : 732829320",
        "SIRET : 73282932000074",
        "FR44732829320",
        "Camille Martin",
        "02/12/2026",
        "12,50 €",
        "20,00 %",
        "Total HT 12,50 €",
        "Total TVA 2,50 €",
        "Total TTC 15,00 €",
        "Payée le 02/12/2026 par carte bancaire",
        document["hash"],
        *document["legal_mentions"],
    ):
        assert expected in text


def test_credit_note_pdf_refers_to_the_invoice(rendered: dict[str, bytes]) -> None:
    document = credit_note()
    text = pdf_text(rendered["credit_note"])

    assert "AVOIR" in text
    assert "N° RL-2026-000002" in text
    assert "Avoir se rapportant à la facture n° RL-2026-000001" in text
    assert "Total de l'avoir TTC 15,00 €" in text
    for mention in document["legal_mentions"]:
        assert " ".join(mention.split()) in " ".join(text.split())


def test_franchise_pdf_shows_no_vat(rendered: dict[str, bytes]) -> None:
    text = pdf_text(rendered["franchise"])

    assert "Élise Durand" in text
    assert "TVA non applicable, art. 293 B du CGI" in text
    assert "Total (TVA non applicable) 24,00 €" in text
    assert "Total TVA" not in text
    assert "N° TVA" not in text


def test_b2b_pdf_shows_the_company_the_rates_and_the_due_date(rendered: dict[str, bytes]) -> None:
    document = b2b_invoice()
    text = pdf_text(rendered["b2b"])

    for expected in (
        "Atelier X",
        "À l'attention de Stefan Lefèvre",
        "SIREN : 552100554",
        "FR96552100554",
        "1 234,56 €",  # thousands grouped, decimal comma
        "10,00 %",
        "Total HT 1 121,22 €",
        "Total TTC 1 344,56 €",
        "À régler au plus tard le 31/01/2027",
        *document["legal_mentions"],
    ):
        assert expected in text


def test_a_seller_taxed_on_debits_says_so_on_the_pdf() -> None:
    text = pdf_text(render_invoice_pdf(debits_invoice()))

    assert VAT_ON_DEBITS_MENTION in text


# --- The same document, the same file ------------------------------------------------------

ISSUED_AT = "2026-12-02T10:15:00+01:00"  # the samples' issued_at
DATE_LIKE = re.compile(rb"D:\d{8,14}[^)>\s]*|\d{4}-\d\d-\d\dT\d\d:\d\d[^<\"\s]*")


def every_text(pdf: bytes) -> bytes:
    """Every string and every (decoded) stream of every object of the file."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    found: list[bytes] = []

    def walk(value: Any) -> None:
        if isinstance(value, pypdf.generic.StreamObject):
            found.append(value.get_data())
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, (pypdf.generic.TextStringObject, pypdf.generic.ByteStringObject)):
            found.append(value.original_bytes)

    size: Any = reader.trailer["/Size"]
    for number in range(1, int(size)):
        walk(reader.get_object(number))
    return b"\n".join(found)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_date_in_the_pdf_is_the_document_s_issue_time(
    name: str, rendered: dict[str, bytes]
) -> None:
    pdf = rendered[name]
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    root: Any = reader.trailer["/Root"]
    (attached,) = root["/AF"]
    params = attached.get_object()["/EF"]["/F"].get_object()["/Params"]

    assert reader.metadata is not None
    assert reader.metadata["/CreationDate"] == "D:20261202101500+01'00'"
    assert reader.metadata["/ModDate"] == "D:20261202101500+01'00'"
    assert params["/ModDate"] == "D:20261202101500+01'00'"
    xmp = root["/Metadata"].get_object().get_data()
    assert re.findall(rb"<xmp:\w+Date>([^<]*)<", xmp) == [ISSUED_AT.encode()] * 2
    assert set(DATE_LIKE.findall(every_text(pdf))) == {
        b"D:20261202101500+01'00'",
        ISSUED_AT.encode(),
    }


def test_a_document_rendered_again_later_is_the_same_file(
    monkeypatch: pytest.MonkeyPatch, rendered: dict[str, bytes]
) -> None:
    # GIVEN the PDF libraries reading another time than when the samples were rendered
    set_pdf_libraries_clock(monkeypatch, datetime.fromisoformat("2031-06-30T23:59:59+02:00"))

    # WHEN the invoice is rendered again
    again = render_invoice_pdf(invoice())

    # THEN it is the same file, byte for byte (its strong ETag holds)
    assert again == rendered["invoice"]


def test_the_file_identifier_is_the_document_s_not_the_render_s(
    monkeypatch: pytest.MonkeyPatch, rendered: dict[str, bytes]
) -> None:
    identifiers = {name: file_id(pdf) for name, pdf in rendered.items()}
    assert len(set(identifiers.values())) == len(SAMPLES)  # one per document
    first, second = identifiers["invoice"]
    assert first == second  # as in a file written once

    set_pdf_libraries_clock(monkeypatch, datetime.fromisoformat("2031-06-30T23:59:59+02:00"))

    assert file_id(render_invoice_pdf(invoice())) == identifiers["invoice"]


def file_id(pdf: bytes) -> tuple[Any, ...]:
    identifier: Any = pypdf.PdfReader(io.BytesIO(pdf)).trailer["/ID"]
    return tuple(identifier)
