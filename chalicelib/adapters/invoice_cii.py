"""An issued invoice or credit note as Factur-X / EN 16931 CII XML (UN/CEFACT D16B).

`cii_xml(document)` turns an issued document (`chalicelib.domain.documents.Document`, or
its stored dict; amounts in cents, negative on a credit note) into the XML that
`invoice_pdf` embeds in the PDF.
Only the standard library is used here, so building the XML costs no import of lxml.

Choices, with the rule that drives each one:

* Profile: `urn:cen.eu:en16931:2017` (Factur-X EN 16931 / "COMFORT").
* Credit note: TypeCode 381 with every amount positive, since the type code already says
  "money back" (the EN 16931 convention; UBL even has a separate CreditNote document).
  So all amounts are multiplied by -1. A line that would still be negative gets a negative
  quantity, never a negative price (BR-27: the item net price shall not be negative). The
  invoice credited is BG-3 (InvoiceReferencedDocument: number BT-25, date BT-26).
* VAT categories: S above 0 %, Z at 0 % under the normal regime, and E for the "franchise
  en base" (art. 293 B CGI), with exemption code VATEX-FR-FRANCHISE and the text
  "TVA non applicable, art. 293 B du CGI" (BR-E-10). Not O ("not subject to VAT"): a
  franchise business is liable to VAT but exempted from paying it, and BR-O-02 would
  forbid the VAT identifiers that BR-E-02 asks for. BR-E-02 wants the seller VAT
  identifier (BT-31, scheme VA) or a tax registration identifier (BT-32, scheme FC); a
  franchise business usually has no VAT number, so then its SIREN is given as BT-32.
* Identifiers: SIREN as legal registration identifier (BT-30/BT-47, ICD scheme 0002),
  SIRET as seller identifier (BT-29, ICD scheme 0009). Electronic addresses (BT-34/BT-49),
  the BAR treatment note, the notes every document needs and the VAT point (BT-8) follow
  the French rules: see `cii_france`. The seller's e-mail is its contact's (BT-43).
* Business process (BT-23): S2 ("services, already paid": BT-113 = BT-112, BT-115 = 0
  and the due date BT-9 is the payment date) for a paid document, S1 otherwise: the
  invoicing frameworks of the French e-invoicing rules (BR-FR-08, BR-FR-CO-09).
* Legal mentions become notes (BG-1), tagged with the subject codes of the French CTC
  rules where one applies (AAB discount, PMD late penalties, PMT recovery fee, TXD tax).
* A buyer without an address gets the seller's country only (BR-10/BR-11 want BG-8 with a
  country code): members are domestic consumers unless they give an address.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.adapters import cii_france
from chalicelib.domain.documents import (
    Document,
    DocumentLine,
    Party,
    PostalAddress,
    business_process,
    vat_point,
)
from chalicelib.domain.invoice import buyer_country

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

EN16931_GUIDELINE = "urn:cen.eu:en16931:2017"
TYPE_CODES = {"invoice": "380", "credit_note": "381"}
FRANCHISE_REASON = "TVA non applicable, art. 293 B du CGI"
FRANCHISE_REASON_CODE = "VATEX-FR-FRANCHISE"
UNIT_CODE = "C62"  # "one": a unit of service (UN/ECE Recommendation 20)
# UNTDID 4461. A transfer without the seller's IBAN cannot be 30/58 (BR-61 wants BT-84);
# with it (the document's `seller.iban`), it is a SEPA credit transfer, 58.
SEPA_TRANSFER = ("58", "Virement SEPA")
PAYMENT_MEANS = {
    "card": ("48", "Carte bancaire"),
    "sepa_debit": ("59", "Prélèvement SEPA"),
    "transfer": ("42", "Virement"),
    "credits": ("ZZZ", "Crédits prépayés"),
}
# UNTDID 4451 subject codes that the French CTC rules (BR-FR-05/06) expect, each at most
# once, recognised from the wording of `chalicelib.domain.invoice` mentions.
NOTE_SUBJECTS = (
    ("AAB", ("escompte",)),
    ("PMD", ("pénalités de retard",)),
    ("PMT", ("frais de recouvrement",)),
    ("TXD", ("293 b", "tva non applicable")),
)


def cii_xml(document: Document | dict[str, Any]) -> bytes:
    """The EN 16931 CII XML of an issued document, UTF-8 encoded."""
    invoice = document if isinstance(document, Document) else Document.of(document)
    doc_type = invoice.type
    sign = -1 if invoice.is_credit_note else 1
    seller = invoice.seller
    franchise = seller.vat_regime == "franchise"
    currency = invoice.currency or "EUR"

    root = _el("rsm:CrossIndustryInvoice")
    context = _sub(root, "rsm:ExchangedDocumentContext")
    _sub(
        _sub(context, "ram:BusinessProcessSpecifiedDocumentContextParameter"), "ram:ID"
    ).text = business_process(invoice)
    _sub(
        _sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID"
    ).text = EN16931_GUIDELINE

    header = _sub(root, "rsm:ExchangedDocument")
    _text(header, "ram:ID", invoice.number)
    _text(header, "ram:TypeCode", TYPE_CODES[doc_type])
    _date(_sub(header, "ram:IssueDateTime"), "udt:DateTimeString", invoice.issued_at)
    notes = _notes(invoice.legal_mentions)
    notes += cii_france.missing_notes(invoice, {subject for _, subject in notes if subject})
    notes.append((cii_france.treatment(invoice), "BAR"))
    for content, subject in notes:
        note = _sub(header, "ram:IncludedNote")
        _text(note, "ram:Content", content)
        if subject:
            _text(note, "ram:SubjectCode", subject)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    lines = invoice.lines
    for number, line in enumerate(lines, start=1):
        _line(transaction, number, line, sign, franchise)

    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    buyer = invoice.buyer
    if buyer.service_code:  # BT-10: a public buyer's Chorus Pro service code
        _text(agreement, "ram:BuyerReference", buyer.service_code)
    _seller(_sub(agreement, "ram:SellerTradeParty"), seller, franchise)
    _buyer(_sub(agreement, "ram:BuyerTradeParty"), buyer, seller)
    if buyer.engagement_number:  # BT-13: a public buyer's commitment number
        order = _sub(agreement, "ram:BuyerOrderReferencedDocument")
        _text(order, "ram:IssuerAssignedID", buyer.engagement_number)

    delivery = _sub(transaction, "ram:ApplicableHeaderTradeDelivery")
    _deliver_to(delivery, invoice)
    service_dates = sorted({line.service_date for line in lines if line.service_date})
    if len(service_dates) == 1:
        event = _sub(delivery, "ram:ActualDeliverySupplyChainEvent")
        _date(_sub(event, "ram:OccurrenceDateTime"), "udt:DateTimeString", service_dates[0])

    _settlement(transaction, invoice, sign, franchise, currency, service_dates)

    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _line(parent: ET.Element, number: int, line: DocumentLine, sign: int, franchise: bool) -> None:
    item = _sub(parent, "ram:IncludedSupplyChainTradeLineItem")
    _text(_sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(number))
    _text(_sub(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)

    net = sign * line.amount_excl_vat
    quantity = Decimal(line.quantity)
    if quantity == 0:
        raise ValueError(f"line {number}: zero quantity")
    # BR-27: the price is never negative, so the quantity carries the sign of the amount.
    quantity = -abs(quantity) if net < 0 else abs(quantity)
    price, basis = _unit_price(abs(net), abs(quantity), sign * line.unit_price_excl_vat)
    trade_price = _sub(
        _sub(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice"
    )
    _text(trade_price, "ram:ChargeAmount", price)
    if basis is not None:
        _text(trade_price, "ram:BasisQuantity", _decimal(basis), unitCode=UNIT_CODE)
    delivery = _sub(item, "ram:SpecifiedLineTradeDelivery")
    _text(delivery, "ram:BilledQuantity", _decimal(quantity), unitCode=UNIT_CODE)

    settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
    rate = Decimal(line.vat_rate)
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _text(tax, "ram:TypeCode", "VAT")
    _text(tax, "ram:CategoryCode", _category(rate, franchise))
    _text(tax, "ram:RateApplicablePercent", _rate(rate))
    if line.service_date:
        period = _sub(settlement, "ram:BillingSpecifiedPeriod")
        _date(_sub(period, "ram:StartDateTime"), "udt:DateTimeString", line.service_date)
        _date(_sub(period, "ram:EndDateTime"), "udt:DateTimeString", line.service_date)
    summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _text(summation, "ram:LineTotalAmount", _amount(net))


def _unit_price(net: int, quantity: Decimal, unit_cents: int) -> tuple[str, Decimal | None]:
    """BT-146 (and BT-149 if needed) so that quantity x price / basis is the line amount."""
    if Decimal(abs(unit_cents)) * quantity == net:
        return _amount(abs(unit_cents)), None
    exact = Decimal(net) / 100 / quantity
    if exact == exact.quantize(Decimal("0.0001")):
        return _decimal(exact), None
    # e.g. 10.00 for 3 units: price 10.00 for a base quantity of 3.
    return _amount(net), quantity


def _seller(party: ET.Element, seller: Party, franchise: bool) -> None:
    siren = _siren(seller)
    if seller.siret:
        _text(party, "ram:GlobalID", seller.siret, schemeID="0009")
    _text(party, "ram:Name", seller.name)
    if seller.legal_form:
        _text(party, "ram:Description", seller.legal_form)
    _text(_sub(party, "ram:SpecifiedLegalOrganization"), "ram:ID", siren, schemeID="0002")
    if seller.email:
        contact = _sub(party, "ram:DefinedTradeContact")
        _text(_sub(contact, "ram:EmailURIUniversalCommunication"), "ram:URIID", seller.email)
    _address(party, seller.address, "FR")
    _electronic_address(party, cii_france.seller_address(seller))
    if seller.vat_number:
        _tax_registration(party, seller.vat_number, "VA")
    elif franchise:
        _tax_registration(party, siren, "FC")


def _siren(seller: Party) -> str:
    """The seller's SIREN, which every issued document has (BT-30)."""
    if seller.siren is None:
        raise ValueError("the seller has no SIREN")
    return seller.siren


def _buyer(party: ET.Element, buyer: Party, seller: Party) -> None:
    company = buyer.company_name
    if buyer.siret:  # BT-46: Chorus Pro finds a public buyer by its SIRET
        _text(party, "ram:GlobalID", buyer.siret, schemeID="0009")
    _text(party, "ram:Name", company or buyer.name)
    if buyer.siren:
        _text(_sub(party, "ram:SpecifiedLegalOrganization"), "ram:ID", buyer.siren, schemeID="0002")
    if company and buyer.name:
        _text(_sub(party, "ram:DefinedTradeContact"), "ram:PersonName", buyer.name)
    seller_country = (seller.address.country if seller.address else None) or "FR"
    _address(party, buyer.address, buyer_country(buyer.canonical()) or seller_country)
    _electronic_address(party, cii_france.buyer_address(buyer))
    if buyer.vat_number:
        _tax_registration(party, buyer.vat_number, "VA")


def _settlement(
    transaction: ET.Element,
    invoice: Document,
    sign: int,
    franchise: bool,
    currency: str,
    service_dates: list[str],
) -> None:
    payment = invoice.payment
    paid = payment.status == "paid"
    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    _text(settlement, "ram:InvoiceCurrencyCode", currency)
    means = PAYMENT_MEANS.get(payment.method or "")
    seller = invoice.seller
    iban = (seller.iban or "").replace(" ", "")
    if payment.method == "transfer" and iban:
        means = SEPA_TRANSFER
    if means:
        payment_means = _sub(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _text(payment_means, "ram:TypeCode", means[0])
        _text(payment_means, "ram:Information", means[1])
        if means is SEPA_TRANSFER:  # BT-84 the account, BT-86 its bank
            account = _sub(payment_means, "ram:PayeePartyCreditorFinancialAccount")
            _text(account, "ram:IBANID", iban)
            if seller.bic:
                bank = _sub(payment_means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
                _text(bank, "ram:BICID", seller.bic)

    line_total = sum(sign * line.amount_excl_vat for line in invoice.lines)
    tax_total = 0
    base_total = 0
    vat_due = vat_point(seller)
    for row in invoice.vat_breakdown:
        rate = Decimal(row.rate)
        base, vat = sign * row.base, sign * row.vat
        category = _category(rate, franchise)
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _text(tax, "ram:CalculatedAmount", _amount(vat))
        _text(tax, "ram:TypeCode", "VAT")
        if category == "E":
            _text(tax, "ram:ExemptionReason", FRANCHISE_REASON)
        _text(tax, "ram:BasisAmount", _amount(base))
        _text(tax, "ram:CategoryCode", category)
        if category == "E":
            _text(tax, "ram:ExemptionReasonCode", FRANCHISE_REASON_CODE)
        if vat_due:
            _text(tax, "ram:DueDateTypeCode", vat_due)
        _text(tax, "ram:RateApplicablePercent", _rate(rate))
        tax_total += vat
        base_total += base
    grand_total = line_total + tax_total
    _check_totals(invoice, sign, line_total, base_total, tax_total, grand_total)

    if len(service_dates) > 1:
        period = _sub(settlement, "ram:BillingSpecifiedPeriod")
        _date(_sub(period, "ram:StartDateTime"), "udt:DateTimeString", service_dates[0])
        _date(_sub(period, "ram:EndDateTime"), "udt:DateTimeString", service_dates[-1])

    due = 0 if paid else grand_total
    if paid and payment.paid_at:  # French CTC (BR-FR-CO-09): paid on its due date
        terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
        _date(_sub(terms, "ram:DueDateDateTime"), "udt:DateTimeString", payment.paid_at)
    elif due > 0:  # BR-CO-25: an amount due needs a due date or payment terms
        terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
        if payment.due_date:
            _date(_sub(terms, "ram:DueDateDateTime"), "udt:DateTimeString", payment.due_date)
        else:
            _text(terms, "ram:Description", "Paiement à réception")

    summation = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _text(summation, "ram:LineTotalAmount", _amount(line_total))
    _text(summation, "ram:TaxBasisTotalAmount", _amount(line_total))
    _text(summation, "ram:TaxTotalAmount", _amount(tax_total), currencyID=currency)
    _text(summation, "ram:GrandTotalAmount", _amount(grand_total))
    if paid:
        _text(summation, "ram:TotalPrepaidAmount", _amount(grand_total))
    _text(summation, "ram:DuePayableAmount", _amount(due))

    if invoice.refers_to_number:
        referenced = _sub(settlement, "ram:InvoiceReferencedDocument")
        _text(referenced, "ram:IssuerAssignedID", invoice.refers_to_number)
        if invoice.refers_to_date:
            formatted = _sub(referenced, "ram:FormattedIssueDateTime")
            _date(formatted, "qdt:DateTimeString", invoice.refers_to_date)


def _check_totals(
    invoice: Document, sign: int, lines: int, bases: int, vat: int, grand: int
) -> None:
    """An issued document adds up (BR-CO-10/13/14/15); one that does not is no e-invoice."""
    totals = invoice.totals
    excl, tax, incl = (sign * amount for amount in (totals.excl_vat, totals.vat, totals.incl_vat))
    if not (lines == bases == excl and vat == tax and grand == incl):
        raise ValueError(
            f"{invoice.number}: totals do not add up (lines {lines}, VAT bases {bases}, "
            f"VAT {vat}, total {grand}; document totals {excl}, {tax}, {incl})"
        )


def _notes(mentions: Iterable[str]) -> list[tuple[str, str | None]]:
    used: set[str] = set()
    notes: list[tuple[str, str | None]] = []
    for mention in mentions:
        lowered = mention.lower()
        subject = next(
            (
                code
                for code, words in NOTE_SUBJECTS
                if code not in used and any(word in lowered for word in words)
            ),
            None,
        )
        if subject:
            used.add(subject)
        notes.append((mention, subject))
    return notes


def _category(rate: Decimal, franchise: bool) -> str:
    if franchise:
        if rate != 0:
            raise ValueError(f"VAT rate {rate} on a franchise (art. 293 B CGI) document")
        return "E"
    return "S" if rate > 0 else "Z"


def _address(party: ET.Element, address: PostalAddress | None, default_country: str) -> None:
    postal = _sub(party, "ram:PostalTradeAddress")
    address = address or PostalAddress()
    if address.postcode:
        _text(postal, "ram:PostcodeCode", address.postcode)
    if address.line1:
        _text(postal, "ram:LineOne", address.line1)
    if address.line2:
        _text(postal, "ram:LineTwo", address.line2)
    if address.city:
        _text(postal, "ram:CityName", address.city)
    _text(postal, "ram:CountryID", address.country or default_country)


def _electronic_address(party: ET.Element, address: tuple[str, str] | None) -> None:
    if address:
        uri = _sub(party, "ram:URIUniversalCommunication")
        _text(uri, "ram:URIID", address[0], schemeID=address[1])


def _deliver_to(delivery: ET.Element, invoice: Document) -> None:
    """BG-13/BG-15: where the service was delivered, when the document names a place that
    is not the buyer's address."""
    place, home = invoice.delivery_address, invoice.buyer.address
    if place is None or not place.canonical():
        return
    if home is not None and place.canonical() == home.canonical():
        return  # the same keys and values as issued
    party = _sub(delivery, "ram:ShipToTradeParty")
    if place.name:
        _text(party, "ram:Name", place.name)
    _address(party, place, "FR")


def _tax_registration(party: ET.Element, identifier: str, scheme: str) -> None:
    _text(_sub(party, "ram:SpecifiedTaxRegistration"), "ram:ID", identifier, schemeID=scheme)


def _amount(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _rate(rate: Decimal) -> str:
    return f"{rate:.2f}"


def _date(parent: ET.Element, tag: str, text: str) -> None:
    """A date (the local date of an RFC 3339 timestamp) as CII format 102, YYYYMMDD."""
    day = date.fromisoformat(str(text)[:10])
    _text(parent, tag, day.strftime("%Y%m%d"), format="102")


def _qname(tag: str) -> str:
    prefix, local = tag.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _el(tag: str) -> ET.Element:
    return ET.Element(_qname(tag))


def _sub(parent: ET.Element, tag: str) -> ET.Element:
    return ET.SubElement(parent, _qname(tag))


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, _qname(tag), attributes)
    element.text = text
    return element
