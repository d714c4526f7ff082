"""E-reporting files (DGFiP flux 10, `ereporting.xsd`): one `<Report>` with no namespace.

`transactions_xml` writes a flux 10.3 file (TransactionsReport with aggregated B2C
`Transactions`), `payments_xml` a flux 10.4 file (PaymentsReport with aggregated
`Transactions/Payment`): one report type per file, as rule G6.29 wants.

`refusals` reads a file back and answers what the PPF flux 10 schematron (v1.0, rules of
Annexe 7 v1.8) would refuse in it, among the rules the data of these files can break;
a file refused is never stored nor sent (a refused file is rejected whole, 301 Rejetée).
`same_content` compares two files but for their header's id, time and type.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from chalicelib.domain.ereporting import DayTotal, Period


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


def transactions_xml(header: Header, period: Period, days: list[DayTotal]) -> bytes:
    root = _report(header)
    report = _period(ET.SubElement(root, "TransactionsReport"), period)
    for day in days:
        block = ET.SubElement(report, "Transactions")
        _text(block, "Date", f"{day.day:%Y%m%d}")
        _text(block, "TransactionsCurrency", day.currency)
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


def payments_xml(header: Header, period: Period, days: list[DayTotal]) -> bytes:
    root = _report(header)
    report = _period(ET.SubElement(root, "PaymentsReport"), period)
    for day in days:
        payment = ET.SubElement(ET.SubElement(report, "Transactions"), "Payment")
        _text(payment, "Date", f"{day.day:%Y%m%d}")
        for rate in day.rates:
            subtotal = ET.SubElement(payment, "SubTotals")
            _text(subtotal, "TaxPercent", _percent(rate.rate))
            _text(subtotal, "CurrencyCode", day.currency)
            _text(subtotal, "Amount", _amount(rate.base))
    return _bytes(root)


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
_PAYMENTS = "PaymentsReport/Transactions/Payment"


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
    for tag in (
        "TaxExclusiveAmount",
        "TaxTotal",
        "TaxSubtotal/TaxableAmount",
        "TaxSubtotal/TaxTotal",
    ):
        found += _misformed(root, f"{_TRANSACTIONS}/{tag}", _SIGNED_AMOUNT, "G1.14")
    found += _misformed(root, f"{_PAYMENTS}/SubTotals/Amount", _RECEIVED_AMOUNT, "G1.16")
    found += [
        f"[G6.27] {_PAYMENTS}/SubTotals/CurrencyCode: {c}"
        for c in _texts(root, f"{_PAYMENTS}/SubTotals/CurrencyCode")
        if c != "EUR"
    ]
    for block in root.iterfind(_TRANSACTIONS):
        found += _unbalanced(block)
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


def _unbalanced(block: ET.Element) -> list[str]:
    """G1.53: a day's totals are the sums of its subtotals (0.01 a subtotal tolerated)."""
    found = []
    for total, part in (("TaxExclusiveAmount", "TaxableAmount"), ("TaxTotal", "TaxTotal")):
        parts = [_number(t.text or "") for t in block.iterfind(f"TaxSubtotal/{part}")]
        whole = _number(block.findtext(total, ""))
        if whole is None or None in parts:
            continue  # a misformed amount, found above
        if abs(whole - sum(p for p in parts if p is not None)) > Decimal("0.01") * len(parts):
            found.append(f"[G1.53] {_TRANSACTIONS}/{total}: {whole}")
    return found
