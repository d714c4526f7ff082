"""A lifecycle status message sent by the issuer (CDAR, UN/CEFACT Cross Domain
Acknowledgement And Response D22B, the syntax of the French lifecycle flows).

Relais sends one status itself: 212 "Encaissée" (paid), with the amounts received per VAT
rate, which a business under VAT on receipts must transmit. The message names the
invoice (number, issue date, seller SIREN), the status, its date and, per VAT rate, the
taxable base and the VAT received. The official CDAR schematron is not part of the
validation material in `einvoicing/`, so this shape follows the specification's
structure but is not checked against the official rules here (see README).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from chalicelib.domain.documents import Document, VatLine

RSM = "urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
ET.register_namespace("rsm", RSM)
ET.register_namespace("ram", RAM)
ET.register_namespace("udt", UDT)


def _sub(
    parent: ET.Element, ns: str, tag: str, text: str | None = None, **attrs: str
) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _datetime(parent: ET.Element, tag: str, moment: str) -> None:
    holder = _sub(parent, RAM, tag)
    digits = moment[:19].replace("-", "").replace(":", "").replace("T", "")
    _sub(holder, UDT, "DateTimeString", digits.ljust(14, "0")[:14], format="204")


def _cents(amount: int) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100}.{abs(amount) % 100:02d}"


def status_message(
    document: Document,
    code: str,
    at: str,
    amounts: Sequence[VatLine],
    message_id: str | None = None,
) -> bytes:
    """The CDAR message saying that `document` reached status `code` at `at`; `amounts`
    are in cents, per VAT rate (for 212: what was received, by that payment); its id is
    `message_id` (default `{document id}-{code}`)."""
    root = ET.Element(f"{{{RSM}}}CrossDomainAcknowledgementAndResponse")
    context = _sub(root, RSM, "ExchangedDocumentContext")
    process = _sub(context, RAM, "BusinessProcessSpecifiedDocumentContextParameter")
    _sub(process, RAM, "ID", "REGULATED")
    guideline = _sub(context, RAM, "GuidelineSpecifiedDocumentContextParameter")
    _sub(guideline, RAM, "ID", "urn.cpro.gouv.fr:1p0:CDV:invoice")
    exchanged = _sub(root, RSM, "ExchangedDocument")
    _sub(exchanged, RAM, "ID", message_id or f"{document.id}-{code}")
    _sub(exchanged, RAM, "Name", "Statut de facture")
    _datetime(exchanged, "IssueDateTime", at)
    sender = _sub(exchanged, RAM, "SenderTradeParty")
    _sub(sender, RAM, "RoleCode", "SE")
    legal = _sub(_sub(sender, RAM, "SpecifiedLegalOrganization"), RAM, "ID", document.seller.siren)
    legal.set("schemeID", "0002")
    ack = _sub(root, RSM, "AcknowledgementDocument")
    _sub(ack, RAM, "MultipleReferencesIndicator").text = "false"
    _sub(ack, RAM, "TypeCode", "305")
    _datetime(ack, "IssueDateTime", at)
    referenced = _sub(ack, RAM, "ReferenceReferencedDocument")
    _sub(referenced, RAM, "IssuerAssignedID", document.number)
    _sub(referenced, RAM, "StatusCode", "10")
    _sub(referenced, RAM, "TypeCode", "381" if document.is_credit_note else "380")
    _datetime(referenced, "FormattedIssueDateTime", document.issued_at)
    _sub(referenced, RAM, "ProcessConditionCode", code)
    for line in amounts:
        characteristic = _sub(referenced, RAM, "SpecifiedDocumentCharacteristic")
        _sub(characteristic, RAM, "TypeCode", "MEN")  # montant encaissé, per VAT rate
        _sub(
            characteristic,
            RAM,
            "ValueAmount",
            _cents(line.base + line.vat),
            currencyID="EUR",
        )
        _sub(characteristic, RAM, "ValuePercent", line.rate)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def referenced_status(xml: bytes) -> tuple[str, str]:
    """(invoice number, status code) of a status message: what a platform reads of it."""
    root = ET.fromstring(xml)
    referenced = root.find(f"{{{RSM}}}AcknowledgementDocument/{{{RAM}}}ReferenceReferencedDocument")
    if referenced is None:
        raise ValueError("no referenced document")
    number = referenced.findtext(f"{{{RAM}}}IssuerAssignedID") or ""
    code = referenced.findtext(f"{{{RAM}}}ProcessConditionCode") or ""
    return number, code
