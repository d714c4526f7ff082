"""E-reporting files (DGFiP flux 10, `ereporting.xsd`): one `<Report>` with no namespace.

`transactions_xml` writes a flux 10.1 / 10.3 file (TransactionsReport with an `Invoice`
per sale to a business of another EU state and the aggregated B2C `Transactions`),
`payments_xml` a flux 10.2 / 10.4 file (PaymentsReport with an `Invoice` per such sale
paid and the aggregated B2C `Transactions/Payment`): one report type per file, as rule
G6.29 wants.

`refusals` reads a file back and answers what the PPF flux 10 schematron (v1.0, rules of
Annexe 7 v1.8) would refuse in it, among the rules the data of these files can break;
a file refused is never stored nor sent (a refused file is rejected whole, 301 Rejetée).
`same_content` compares two files but for their header's id, time and type.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from chalicelib.domain.documents import VAT_ON_DEBITS
from chalicelib.domain.ereporting import (
    DayTotal,
    InternationalPayment,
    InternationalSale,
    Period,
    RateTotal,
)


@dataclass(frozen=True)
class Header:
    """TB-1: the transmission header."""

    id: str
    issued_at: str  # AAAAMMJJHHMMSS
    type_code: str  # IN or RE
    platform_id: str  # the PA's 4-character registration number (scheme 0238)
    platform_name: str
    issuer_siren: str  # the operator (scheme 0002), role SE (seller)
    issuer_name: str


def transactions_xml(
    header: Header,
    period: Period,
    days: list[DayTotal],
    sales: Sequence[InternationalSale] = (),
    on_debits: bool = False,
) -> bytes:
    """Flux 10.1 (each international sale, `Invoice`) and 10.3 (the B2C days,
    `Transactions`), in the order the XSD sets; `on_debits`: the seller opted to pay VAT
    on its debits, which each day says (TT-80, code 5)."""
    root = _report(header)
    report = _period(ET.SubElement(root, "TransactionsReport"), period)
    for sale in sales:
        _invoice(report, sale)
    for day in days:
        block = ET.SubElement(report, "Transactions")
        _text(block, "Date", f"{day.day:%Y%m%d}")
        _text(block, "TransactionsCurrency", day.currency)
        if on_debits:
            _text(block, "TaxDueDateTypeCode", VAT_ON_DEBITS)
        _text(block, "CategoryCode", "TPS1")
        _text(block, "TaxExclusiveAmount", _amount(day.base))
        _text(block, "TaxTotal", _amount(day.vat))
        _text(block, "TransactionsCount", str(day.count))
        for rate in day.rates:
            subtotal = ET.SubElement(block, "TaxSubtotal")
            _text(subtotal, "TaxPercent", _percent(rate.rate))
            _text(subtotal, "TaxableAmount", _amount(rate.base))
            _text(subtotal, "TaxTotal", _amount(rate.vat))
    return _bytes(root)


EREPORTING_PROFILE = "urn.cpro.gouv.fr:1p0:ereporting"  # S1.12
FRANCHISE_REASON = ("VATEX-FR-FRANCHISE", "TVA non applicable, art. 293 B du CGI")


def _invoice(report: ET.Element, sale: InternationalSale) -> None:
    block = ET.SubElement(report, "Invoice")
    _text(block, "ID", sale.number)
    _text(block, "IssueDate", f"{sale.issued_on:%Y%m%d}")
    _text(block, "TypeCode", sale.type_code)
    _text(block, "CurrencyCode", sale.currency)
    if sale.vat_due:  # TT-24: mandatory for a seller on debits (5), as its invoice says
        _text(block, "TaxDueDateTypeCode", sale.vat_due)
    process = ET.SubElement(block, "BusinessProcess")
    _text(process, "ID", sale.business_process)  # the invoice's own BT-23 (S2, S1)
    _text(process, "TypeID", EREPORTING_PROFILE)
    if sale.refers_to:
        referenced = ET.SubElement(block, "ReferencedDocument")
        _text(referenced, "ID", sale.refers_to[0])
        _text(referenced, "IssueDate", f"{sale.refers_to[1]:%Y%m%d}")
    seller = ET.SubElement(block, "Seller")
    _text(seller, "CompanyId", sale.seller_siren, schemeId="0002")
    _text(seller, "TaxRegistrationId", sale.seller_vat, qualifyingId="VAT")
    _text(ET.SubElement(seller, "PostalAddress"), "CountryId", "FR")
    buyer = ET.SubElement(block, "Buyer")
    _text(buyer, "CompanyId", sale.buyer_vat, schemeId="0223")  # EU, outside France
    _text(buyer, "TaxRegistrationId", sale.buyer_vat, qualifyingId="VAT")
    _text(ET.SubElement(buyer, "PostalAddress"), "CountryId", sale.buyer_country)
    totals = ET.SubElement(block, "MonetaryTotal")
    _text(totals, "TaxExclusiveAmount", _amount(sale.base))
    _text(totals, "TaxAmount", _amount(sale.vat), CurrencyCode=sale.currency)
    for rate in sale.rates:
        subtotal = ET.SubElement(block, "TaxSubTotal")
        _text(subtotal, "TaxableAmount", _amount(rate.base))
        _text(subtotal, "TaxAmount", _amount(rate.vat))
        category = ET.SubElement(subtotal, "TaxCategory")
        _text(category, "Code", _category(rate.rate, sale.franchise))
        _text(category, "Percent", _percent(rate.rate))
        if sale.franchise:
            _text(category, "TaxExemptionReason", FRANCHISE_REASON[1])
            _text(category, "TaxExemptionReasonCode", FRANCHISE_REASON[0])


def _category(rate: str, franchise: bool) -> str:
    """As the invoice's CII says it (UNTDID 5305): E under the franchise, S when taxed."""
    if franchise:
        return "E"
    return "S" if Decimal(rate) > 0 else "Z"


def payments_xml(
    header: Header,
    period: Period,
    days: list[DayTotal],
    paid: Sequence[InternationalPayment] = (),
) -> bytes:
    """Flux 10.2 (each international sale paid, `Invoice`) and 10.4 (the B2C days,
    `Transactions`), in the order the XSD sets."""
    root = _report(header)
    report = _period(ET.SubElement(root, "PaymentsReport"), period)
    for sale in paid:
        block = ET.SubElement(report, "Invoice")
        _text(block, "InvoiceID", sale.number)
        _text(block, "IssueDate", f"{sale.issued_on:%Y%m%d}")
        _received(ET.SubElement(block, "Payment"), sale.paid_on, sale.currency, sale.rates)
    for day in days:
        payment = ET.SubElement(ET.SubElement(report, "Transactions"), "Payment")
        _received(payment, day.day, day.currency, day.rates)
    return _bytes(root)


def _received(payment: ET.Element, day: date, currency: str, rates: Sequence[RateTotal]) -> None:
    """A `Payment`: its day and, per VAT rate, the amount received (VAT included)."""
    _text(payment, "Date", f"{day:%Y%m%d}")
    for rate in rates:
        subtotal = ET.SubElement(payment, "SubTotals")
        _text(subtotal, "TaxPercent", _percent(rate.rate))
        _text(subtotal, "CurrencyCode", currency)
        _text(subtotal, "Amount", _amount(rate.base))


def _report(header: Header) -> ET.Element:
    root = ET.Element("Report")
    document = ET.SubElement(root, "ReportDocument")
    _text(document, "Id", header.id)
    _text(ET.SubElement(document, "IssueDateTime"), "DateTimeString", header.issued_at)
    _text(document, "TypeCode", header.type_code)
    sender = ET.SubElement(document, "Sender")
    _text(sender, "Id", header.platform_id, schemeId="0238")
    _text(sender, "Name", header.platform_name)
    _text(sender, "RoleCode", "WK")
    issuer = ET.SubElement(document, "Issuer")
    _text(issuer, "Id", header.issuer_siren, schemeId="0002")
    _text(issuer, "Name", header.issuer_name)
    _text(issuer, "RoleCode", "SE")
    return root


def _period(report: ET.Element, period: Period) -> ET.Element:
    span = ET.SubElement(report, "ReportPeriod")
    _text(span, "StartDate", f"{period.start:%Y%m%d}")
    _text(span, "EndDate", f"{period.end:%Y%m%d}")
    return report


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> None:
    ET.SubElement(parent, tag, attributes).text = text


def _amount(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _percent(rate: str) -> str:
    return f"{Decimal(rate):.2f}"


def _bytes(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


# The schematron's patterns (PPF_Flux10_v1_0.sch), for what these files hold.
_SIGNED_AMOUNT = re.compile(r"^-?\d+(\.\d{1,2})?$")  # G1.14: 10.3 amounts
_RECEIVED_AMOUNT = re.compile(r"^\d+(\.\d{1,6})?$")  # G1.16: 10.4 amounts, never negative
_DATE = re.compile(r"^(20\d\d)\d{4}$")  # G1.09 / G1.36
_RATES = {  # G1.24
    Decimal(rate)
    for rate in (
        *("0", "0.9", "1.05", "1.75", "2.1", "5.5", "7", "8.5"),
        *("9.2", "9.6", "10", "13", "19.6", "20", "20.6"),
    )
}
_TRANSACTIONS = "TransactionsReport/Transactions"
_INVOICES = "TransactionsReport/Invoice"
_INVOICE_ID = re.compile(r"^[a-zA-Z0-9 \-\+_/]{1,35}$")  # G1.05 (and no edge or double space)
_PAYMENTS = "PaymentsReport/Transactions/Payment"
_PAID_INVOICES = "PaymentsReport/Invoice"


def refusals(xml: bytes) -> list[str]:
    """'[rule] path: value' for each thing of the file the flux 10 schematron refuses."""
    root = ET.fromstring(xml)
    found = [
        f"[G8.01] TypeCode: {t}"
        for t in _texts(root, "ReportDocument/TypeCode")
        if t not in ("IN", "RE")
    ]
    for span in root.iterfind("*/ReportPeriod"):
        start, end = span.findtext("StartDate", ""), span.findtext("EndDate", "")
        if not end > start:
            found.append(f"[G6.25] ReportPeriod: {start}-{end}")
    for path in (f"{_TRANSACTIONS}/Date", f"{_PAYMENTS}/Date", "*/ReportPeriod/*"):
        found += [f"[G1.09] {path}: {d}" for d in _texts(root, path) if not _DATE.match(d)]
    for path in (f"{_TRANSACTIONS}/TaxSubtotal/TaxPercent", f"{_PAYMENTS}/SubTotals/TaxPercent"):
        found += [f"[G1.24] {path}: {r}" for r in _texts(root, path) if _number(r) not in _RATES]
    for tag in (tag for sums in _DAY_SUMS for tag in sums):
        found += _misformed(root, f"{_TRANSACTIONS}/{tag}", _SIGNED_AMOUNT, "G1.14")
    found += _misformed(root, f"{_PAYMENTS}/SubTotals/Amount", _RECEIVED_AMOUNT, "G1.16")
    found += [
        f"[G6.27] {_PAYMENTS}/SubTotals/CurrencyCode: {c}"
        for c in _texts(root, f"{_PAYMENTS}/SubTotals/CurrencyCode")
        if c != "EUR"
    ]
    for block in root.iterfind(_TRANSACTIONS):
        found += _unbalanced(block)
    return found + _invoice_refusals(root) + _paid_invoice_refusals(root)


def _paid_invoice_refusals(root: ET.Element) -> list[str]:
    """The flux 10.2 rules an international sale's payment can break."""
    found = [
        f"[G1.05] {_PAID_INVOICES}/InvoiceID: {i}"
        for i in _texts(root, f"{_PAID_INVOICES}/InvoiceID")
        if not _INVOICE_ID.match(i) or i != i.strip() or "  " in i
    ]
    for tag in ("IssueDate", "Payment/Date"):
        path = f"{_PAID_INVOICES}/{tag}"
        found += [f"[G1.09] {path}: {d}" for d in _texts(root, path) if not _DATE.match(d)]
    path = f"{_PAID_INVOICES}/Payment/SubTotals/TaxPercent"
    found += [f"[G1.24] {path}: {r}" for r in _texts(root, path) if _number(r) not in _RATES]
    found += [
        f"[G6.27] {_PAID_INVOICES}/Payment/SubTotals/CurrencyCode: {c}"
        for c in _texts(root, f"{_PAID_INVOICES}/Payment/SubTotals/CurrencyCode")
        if c != "EUR"
    ]
    path = f"{_PAID_INVOICES}/Payment/SubTotals/Amount"
    return found + _misformed(root, path, _RECEIVED_AMOUNT, "G1.16")


def _invoice_refusals(root: ET.Element) -> list[str]:
    """The flux 10.1 rules an international sale's block can break."""
    found = [
        f"[G1.05] {_INVOICES}/ID: {i}"
        for i in _texts(root, f"{_INVOICES}/ID")
        if not _INVOICE_ID.match(i) or i != i.strip() or "  " in i
    ]
    found += [
        f"[G1.09] {path}: {d}"
        for path in (f"{_INVOICES}/IssueDate", f"{_INVOICES}/ReferencedDocument/IssueDate")
        for d in _texts(root, path)
        if not _DATE.match(d)
    ]
    path = f"{_INVOICES}/TaxSubTotal/TaxCategory/Percent"
    found += [f"[G1.24] {path}: {r}" for r in _texts(root, path) if _number(r) not in _RATES]
    found += [
        f"[G1.10] {_INVOICES}/CurrencyCode: {c}"
        for c in _texts(root, f"{_INVOICES}/CurrencyCode")
        if not re.fullmatch(r"[A-Z]{3}", c)
    ]
    found += [
        f"[G6.23] {_INVOICES}/MonetaryTotal/TaxAmount: {e.get('CurrencyCode')}"
        for e in root.iterfind(f"{_INVOICES}/MonetaryTotal/TaxAmount")
        if e.get("CurrencyCode") != "EUR"
    ]
    for tag in (tag for sums in _INVOICE_SUMS for tag in sums):
        found += _misformed(root, f"{_INVOICES}/{tag}", _SIGNED_AMOUNT, "G1.14")
    for block in root.iterfind(_INVOICES):
        number = block.findtext("ID", "")
        if not block.findtext("Buyer/CompanyId"):
            found.append(f"[G6.28] {_INVOICES}/Buyer/CompanyId: missing ({number})")
        buyer_id = block.findtext("Buyer/CompanyId", "")
        if len(buyer_id) > 18:
            found.append(f"[G2.19] {_INVOICES}/Buyer/CompanyId: {buyer_id}")
        for party in ("Seller", "Buyer"):
            if not block.findtext(f"{party}/TaxRegistrationId"):
                found.append(f"[G2.33] {_INVOICES}/{party}/TaxRegistrationId: missing ({number})")
            country = block.findtext(f"{party}/PostalAddress/CountryId", "")
            if not re.fullmatch(r"[A-Z]{2}", country):
                found.append(f"[G2.01] {_INVOICES}/{party}/PostalAddress/CountryId: {country!r}")
        if not re.fullmatch(r"\d{9}", block.findtext("Seller/CompanyId", "")):
            found.append(f"[G2.19] {_INVOICES}/Seller/CompanyId: ({number})")
        if block.findtext("TypeCode") == "381" and not block.findtext(
            "ReferencedDocument/IssueDate"
        ):
            found.append(f"[G1.32] {_INVOICES}/ReferencedDocument: missing ({number})")
        found += _unbalanced(block, _INVOICE_SUMS, f"{_INVOICES} {number}")
    return found


def same_content(xml: bytes, other: bytes) -> bool:
    """Whether two files say the same but for their header's id, time and type."""
    return _content(xml) == _content(other)


def _content(xml: bytes) -> bytes:
    root = ET.fromstring(xml)
    for document in root.iterfind("ReportDocument"):
        for element in [e for e in document if e.tag in ("Id", "IssueDateTime", "TypeCode")]:
            document.remove(element)
    return ET.tostring(root)


def _texts(root: ET.Element, path: str) -> list[str]:
    return [element.text or "" for element in root.iterfind(path)]


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _misformed(root: ET.Element, path: str, pattern: re.Pattern[str], rule: str) -> list[str]:
    return [
        f"[{rule}] {path}: {amount}"
        for amount in _texts(root, path)
        if not pattern.match(amount) or len(amount.replace(".", "")) > 19
    ]


# G1.53: totals are the sums of their subtotals (0.01 a subtotal tolerated): a B2C day's,
# an international sale's.
_DAY_SUMS = (
    ("TaxExclusiveAmount", "TaxSubtotal/TaxableAmount"),
    ("TaxTotal", "TaxSubtotal/TaxTotal"),
)
_INVOICE_SUMS = (
    ("MonetaryTotal/TaxExclusiveAmount", "TaxSubTotal/TaxableAmount"),
    ("MonetaryTotal/TaxAmount", "TaxSubTotal/TaxAmount"),
)


def _unbalanced(
    block: ET.Element, sums: tuple[tuple[str, str], ...] = _DAY_SUMS, where: str = _TRANSACTIONS
) -> list[str]:
    """G1.53 on one block: each of `sums` (total, subtotal) adds up."""
    found = []
    for total, part in sums:
        parts = [_number(t.text or "") for t in block.iterfind(part)]
        whole = _number(block.findtext(total, ""))
        if whole is None or None in parts:
            continue  # a misformed amount, found above
        if abs(whole - sum(p for p in parts if p is not None)) > Decimal("0.01") * len(parts):
            found.append(f"[G1.53] {where}/{total}: {whole}")
    return found
