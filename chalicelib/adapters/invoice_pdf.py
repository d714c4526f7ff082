"""An issued invoice or credit note as a Factur-X PDF (EN 16931 profile), in French.

`render_invoice_pdf(document)` draws the A4 page(s) with fpdf2, then factur-x embeds the CII
XML of `invoice_cii` as `factur-x.xml` and writes the PDF/A-3 metadata. Everything is pure
Python (plus the manylinux wheels of lxml, Pillow and fontTools), so it fits the Lambda zip.

Text is set in Lato 1.104 (SIL OFL 1.1; the two faces and the licence are in `fonts/`,
packaged with chalicelib) and embedded: PDF/A
forbids the 14 standard PDF fonts, which are not embedded, and fpdf2 refuses them when
asked for PDF/A compliance. Lato covers Western European languages and Polish; a
character it lacks is replaced by its unaccented letter, or "?", rather than a blank box.

A credit note shows its amounts without the minus sign, as its XML does (EN 16931: type
code 381 already means money back): the title AVOIR gives the direction.

An issued document never changes, and its PDF is served under a strong ETag: rendering it
again gives the same bytes. Every date in the file is the document's `issued_at` (fpdf's
creation date; the Info, XMP and attachment dates, which factur-x stamps with the time of
the call and takes no parameter for, are set once it is done) and the file identifier
(/ID) is derived from the document's hash.

fpdf and facturx are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.invoice_cii import cii_xml
from chalicelib.domain.documents import Document, DocumentLine, PostalAddress
from chalicelib.domain.timezones import PARIS

if TYPE_CHECKING:
    from fpdf import FPDF

FONT = "Lato"
FONTS = Path(__file__).parent / "fonts"
NBSP = "\u00a0"
# Characters Lato lacks that have a plain equivalent.
SUBSTITUTES = {"\u202f": NBSP, "\u2009": " ", "\u2212": "-", "\u2011": "-", "\u2010": "-"}
METHODS = {
    "card": "carte bancaire",
    "credits": "crédits prépayés",
    "sepa_debit": "prélèvement SEPA",
    "transfer": "virement",
}
GREY = 110
LIGHT = 235
XMP_DATES = re.compile(rb"<xmp:(CreateDate|ModifyDate|MetadataDate)>[^<]*</xmp:\1>")


def render_invoice_pdf(document: Document | dict[str, Any]) -> bytes:
    """The Factur-X PDF of an issued document: what `GET /v1/invoices/{id}/pdf` returns."""
    from facturx import generate_from_binary

    invoice = _typed(document)
    xml = cii_xml(invoice)
    pdf = draw_invoice_pdf(invoice)
    label = "Avoir" if invoice.is_credit_note else "Facture"
    seller = invoice.seller.name
    metadata = {
        "author": seller,
        "keywords": f"{label}, Factur-X",
        "title": f"{seller} : {label} {invoice.number}",
        "subject": f"{label} {invoice.number} du {_date(invoice.issued_at)}, {seller}",
    }
    result: bytes = generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        pdf_metadata=metadata,
        lang="fr-FR",
    )
    return _dated(result, _issued_at(invoice))


def draw_invoice_pdf(document: Document | dict[str, Any]) -> bytes:
    """The printable PDF alone, before the XML is attached."""
    invoice = _typed(document)
    credit_note = invoice.is_credit_note
    sign = -1 if credit_note else 1
    seller = invoice.seller
    franchise = seller.vat_regime == "franchise"

    footer = " — ".join(
        part for part in (seller.name, seller.legal_form, f"SIREN {seller.siren}") if part
    )
    pdf = _new_document(_clean(footer), _file_id(invoice))
    pdf.set_creation_date(_issued_at(invoice))
    regular, bold = _font_files()
    pdf.add_font(FONT, "", regular)
    pdf.add_font(FONT, "B", bold)
    pdf.set_lang("fr-FR")
    pdf.set_title(_clean(f"{'Avoir' if credit_note else 'Facture'} {invoice.number}"))
    pdf.set_author(_clean(seller.name))
    pdf.set_creator("Relais")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()

    _header(pdf, invoice, credit_note)
    _parties(pdf, invoice)
    _lines(pdf, invoice.lines, sign, franchise)
    _totals(pdf, invoice, sign, franchise)
    _payment(pdf, invoice, credit_note)
    _mentions(pdf, invoice)
    _fingerprint(pdf, invoice)
    return bytes(pdf.output())


def _typed(document: Document | dict[str, Any]) -> Document:
    return document if isinstance(document, Document) else Document.of(document)


def _header(pdf: FPDF, invoice: Document, credit_note: bool) -> None:
    seller = invoice.seller
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(95, 6, _clean(seller.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    details = [
        seller.legal_form,
        *_address_lines(seller.address),
        f"SIREN : {seller.siren}",
        f"SIRET : {seller.siret}" if seller.siret else None,
        f"N° TVA intracommunautaire : {seller.vat_number}" if seller.vat_number else None,
        seller.email,
    ]
    for detail in details:
        if detail:
            pdf.multi_cell(95, 4.5, _clean(detail), new_x="LMARGIN", new_y="NEXT")
    left_bottom = pdf.get_y()

    pdf.set_xy(115, top)
    pdf.set_font(FONT, "B", 22)
    pdf.cell(80, 10, "AVOIR" if credit_note else "FACTURE", align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "B", 11)
    pdf.cell(80, 6, _clean(f"N° {invoice.number}"), align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    pdf.cell(
        80,
        5,
        f"Date d'émission : {_date(invoice.issued_at)}",
        align="R",
        new_x="LEFT",
        new_y="NEXT",
    )
    reference = _reference(invoice)
    if reference:
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(80, 4.5, _clean(reference), align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.l_margin, max(left_bottom, pdf.get_y()) + 6)


def _parties(pdf: FPDF, invoice: Document) -> None:
    buyer = invoice.buyer
    x = 115.0
    top = pdf.get_y()
    pdf.set_fill_color(LIGHT)
    pdf.set_xy(x, top)
    pdf.set_font(FONT, "B", 8)
    pdf.set_text_color(GREY)
    pdf.cell(80, 5, "CLIENT", new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(80, 5, _clean(buyer.company_name or buyer.name), new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    details = [
        f"À l'attention de {buyer.name}" if buyer.company_name else None,
        *_address_lines(buyer.address),
        f"SIREN : {buyer.siren}" if buyer.siren else None,
        f"N° TVA intracommunautaire : {buyer.vat_number}" if buyer.vat_number else None,
        buyer.email,
    ]
    for detail in details:
        if detail:
            pdf.multi_cell(80, 4.5, _clean(detail), new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.l_margin, pdf.get_y() + 8)


def _lines(pdf: FPDF, lines: tuple[DocumentLine, ...], sign: int, franchise: bool) -> None:
    from fpdf.fonts import FontFace

    if franchise:
        headings: tuple[str, ...] = ("Désignation", "Date", "Qté", "Prix unitaire", "Montant")
        widths: tuple[float, ...] = (80, 22, 14, 32, 32)
    else:
        headings = (
            "Désignation",
            "Date",
            "Qté",
            "PU HT",
            "TVA",
            "Montant HT",
            "TVA",
            "Montant TTC",
        )
        widths = (52, 19, 10, 20, 14, 22, 20, 23)
    aligns = ("LEFT", "CENTER", *("RIGHT",) * (len(headings) - 2))
    pdf.set_font(FONT, "", 8.5)
    pdf.set_draw_color(180)
    pdf.set_fill_color(255)  # tables take the current fill colour for every cell
    with pdf.table(
        col_widths=widths,
        width=sum(widths),
        align="LEFT",
        borders_layout="HORIZONTAL_LINES",
        headings_style=FontFace(emphasis="BOLD", fill_color=LIGHT),
        line_height=5,
        padding=(1, 1.2),
        first_row_as_headings=True,
    ) as table:
        row = table.row()
        for heading, align in zip(headings, aligns, strict=True):
            row.cell(heading, align=align)
        for line in lines:
            quantity = Decimal(line.quantity)
            cells = [
                _clean(line.description),
                _date(line.service_date) if line.service_date else "",
                _number(quantity),
                _eur(sign * line.unit_price_excl_vat),
            ]
            if franchise:
                cells.append(_eur(sign * line.amount_excl_vat))
            else:
                cells += [
                    _rate(line.vat_rate),
                    _eur(sign * line.amount_excl_vat),
                    _eur(sign * line.vat_amount),
                    _eur(sign * line.amount_incl_vat),
                ]
            row = table.row()
            for text, align in zip(cells, aligns, strict=True):
                row.cell(text, align=align)
    pdf.ln(5)


def _totals(pdf: FPDF, invoice: Document, sign: int, franchise: bool) -> None:
    from fpdf.fonts import FontFace

    totals = invoice.totals
    label_width, amount_width = 50.0, 30.0
    if pdf.will_page_break(40):
        pdf.add_page()
    top = pdf.get_y()

    if not franchise:
        pdf.set_font(FONT, "", 8.5)
        pdf.set_fill_color(255)
        with pdf.table(
            col_widths=(22, 30, 30),
            width=82,
            align="LEFT",
            borders_layout="HORIZONTAL_LINES",
            headings_style=FontFace(emphasis="BOLD", fill_color=LIGHT),
            line_height=5,
            padding=(1, 1.2),
        ) as table:
            row = table.row()
            for heading in ("Taux de TVA", "Base HT", "Montant TVA"):
                row.cell(heading, align="RIGHT")
            for entry in invoice.vat_breakdown:
                row = table.row()
                row.cell(_rate(entry.rate), align="RIGHT")
                row.cell(_eur(sign * entry.base), align="RIGHT")
                row.cell(_eur(sign * entry.vat), align="RIGHT")
    left_bottom = pdf.get_y()

    total_label = "Total de l'avoir" if sign < 0 else "Total"
    if franchise:
        rows = [(f"{total_label} (TVA non applicable)", totals.incl_vat, True)]
    else:
        rows = [
            ("Total HT", totals.excl_vat, False),
            ("Total TVA", totals.vat, False),
            (f"{total_label} TTC", totals.incl_vat, True),
        ]
    x = pdf.w - pdf.r_margin - label_width - amount_width
    pdf.set_xy(x, top)
    for label, amount, strong in rows:
        pdf.set_font(FONT, "B" if strong else "", 10 if strong else 9)
        pdf.set_x(x)
        fill = strong
        if strong:
            pdf.set_fill_color(LIGHT)
        pdf.cell(label_width, 6.5, label, fill=fill)
        pdf.cell(amount_width, 6.5, _eur(sign * amount), align="R", fill=fill)
        pdf.ln(6.5)
    pdf.set_xy(pdf.l_margin, max(left_bottom, pdf.get_y()) + 6)


def _payment(pdf: FPDF, invoice: Document, credit_note: bool) -> None:
    payment = invoice.payment
    method = METHODS.get(payment.method or "", payment.method or "")
    if payment.status == "paid":
        when = f" le {_date(payment.paid_at)}" if payment.paid_at else ""
        how = f" par {method}" if method else ""
        text = f"{'Remboursement effectué' if credit_note else 'Payée'}{when}{how}"
        if payment.provider_ref:
            text += f" (référence {payment.provider_ref})"
    else:
        amount = _eur(abs(invoice.totals.incl_vat))
        if credit_note:
            text = f"Montant de {amount} à rembourser"
        elif payment.due_date:
            text = f"À régler au plus tard le {_date(payment.due_date)} : {amount}"
        else:
            text = f"À régler à réception : {amount}"
        if method:
            text += f", par {method}"
        seller = invoice.seller
        if seller.iban and not credit_note:
            from stdnum import iban as stdnum_iban

            text += f"\nVirement SEPA à l'ordre de {seller.name} - IBAN : "
            text += stdnum_iban.format(seller.iban)
            if seller.bic:
                text += f" - BIC : {seller.bic}"
            text += f" - référence : {invoice.number}"
    _section(pdf, "Paiement")
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(0, 4.8, _clean(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _mentions(pdf: FPDF, invoice: Document) -> None:
    shown = _reference(invoice)  # already under the title
    mentions = [m for m in invoice.legal_mentions if m and m != shown]
    if not mentions:
        return
    _section(pdf, "Mentions légales")
    pdf.set_font(FONT, "", 8)
    for mention in mentions:
        pdf.multi_cell(0, 4.2, _clean(mention), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _fingerprint(pdf: FPDF, invoice: Document) -> None:
    pdf.set_font(FONT, "", 6.5)
    pdf.set_text_color(GREY)
    lines = [f"Empreinte SHA-256 du document : {invoice.hash}"]
    if invoice.previous_hash:
        lines.append(f"Empreinte du document précédent : {invoice.previous_hash}")
    for line in lines:
        pdf.multi_cell(0, 3.2, line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)


def _section(pdf: FPDF, title: str) -> None:
    if pdf.will_page_break(14):
        pdf.add_page()
    pdf.set_font(FONT, "B", 8)
    pdf.set_text_color(GREY)
    pdf.cell(0, 5, title.upper(), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)


def _reference(invoice: Document) -> str | None:
    """The credit note's mention of the invoice it credits."""
    if not invoice.is_credit_note or not invoice.refers_to_number:
        return None
    reference = f"Avoir se rapportant à la facture n° {invoice.refers_to_number}"
    if invoice.refers_to_date:
        reference += f" du {_date(invoice.refers_to_date)}"
    return reference


def _new_document(footer_text: str, file_id: str) -> FPDF:
    """An A4 PDF/A-3B document whose pages end with `footer_text` and the page number,
    identified (/ID) by `file_id`."""
    from fpdf import FPDF

    class InvoiceDocument(FPDF):
        def file_id(self) -> str:
            return file_id

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FONT, "", 7)
            self.set_text_color(GREY)
            self.cell(0, 4, f"{footer_text} — Page {self.page_no()}/{{nb}}", align="C")
            self.set_text_color(0)

    return InvoiceDocument(format="A4", enforce_compliance="PDFA_3B")


def _issued_at(invoice: Document) -> datetime:
    issued = datetime.fromisoformat(invoice.issued_at)
    return issued if issued.tzinfo else issued.replace(tzinfo=PARIS)


def _file_id(invoice: Document) -> str:
    """The PDF file identifier (both halves, as at a first write): from the document's
    hash, which names the issued document, rather than from the render time."""
    digest = hashlib.md5(invoice.hash.encode(), usedforsecurity=False).hexdigest().upper()
    return f"<{digest}><{digest}>"


def _dated(pdf: bytes, issued: datetime) -> bytes:
    """The Factur-X PDF with the dates factur-x wrote (the time of the call: Info
    CreationDate and ModDate, XMP CreateDate and ModifyDate, the embedded files' ModDate)
    set to `issued`, its /ID and header kept."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    offset = issued.strftime("%z")
    pdf_date = f"D:{issued:%Y%m%d%H%M%S}{offset[:3]}'{offset[3:]}'"
    xmp_date = issued.isoformat(timespec="seconds").encode()
    writer = PdfWriter(clone_from=io.BytesIO(pdf), keep_initial_header=True)
    writer.add_metadata({"/CreationDate": pdf_date, "/ModDate": pdf_date})
    root = writer.root_object
    xmp: Any = root["/Metadata"].get_object()
    xmp.set_data(XMP_DATES.sub(rb"<xmp:\1>" + xmp_date + rb"</xmp:\1>", xmp.get_data()))
    for reference in root.get("/AF") or []:
        params: Any = reference.get_object()["/EF"]["/F"].get_object().get("/Params", {})
        for key in ("/CreationDate", "/ModDate"):
            if key in params:
                params[NameObject(key)] = TextStringObject(pdf_date)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@cache
def _font_files() -> tuple[str, str]:
    return str(FONTS / "Lato-Regular.ttf"), str(FONTS / "Lato-Bold.ttf")


@cache
def _charset() -> frozenset[int]:
    """The code points that both Lato faces can draw."""
    from fontTools.ttLib import TTFont

    points: frozenset[int] | None = None
    for path in _font_files():
        font = TTFont(path, lazy=True)
        mapped = frozenset(font.getBestCmap())
        font.close()
        points = mapped if points is None else points & mapped
    return points or frozenset()


def _clean(text: str) -> str:
    """The text, with each character the font cannot draw replaced by a close one."""
    charset = _charset()
    out = []
    for char in unicodedata.normalize("NFC", str(text)):
        char = SUBSTITUTES.get(char, char)
        if ord(char) in charset or char == "\n":
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and all(ord(c) in charset for c in base) else "?")
    return "".join(out)


def _address_lines(address: PostalAddress | None) -> list[str]:
    if not address:
        return []
    city = " ".join(part for part in (address.postcode, address.city) if part)
    country = address.country
    lines = [address.line1, address.line2, city]
    if country and country != "FR":
        lines.append(country)
    return [line for line in lines if line]


def _eur(cents: int) -> str:
    """French style: 1 250,00 € (non-breaking spaces)."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    grouped = f"{euros:,}".replace(",", NBSP)
    return f"{sign}{grouped},{rest:02d}{NBSP}€"


def _rate(rate: str | Decimal) -> str:
    return f"{Decimal(str(rate)):.2f}".replace(".", ",") + f"{NBSP}%"


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f").replace(".", ",")


def _date(text: str) -> str:
    """DD/MM/YYYY of an ISO date or of the local date of an RFC 3339 timestamp."""
    year, month, day = str(text)[:10].split("-")
    return f"{day}/{month}/{year}"
