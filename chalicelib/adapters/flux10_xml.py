"""E-reporting files (DGFiP flux 10, `ereporting.xsd`): one `<Report>` with no namespace.

`transactions_xml` writes a flux 10.3 file (TransactionsReport with aggregated B2C
`Transactions`), `payments_xml` a flux 10.4 file (PaymentsReport with aggregated
`Transactions/Payment`): one report type per file, as rule G6.29 wants.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal

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
