"""Run the official e-invoicing validation artefacts (tests/data/einvoicing/) on a document.

The stylesheets are XSLT 2.0 compiled schematrons, so they run on saxonche (SaxonC-HE);
lxml checks the flux 10 XSD. Each stylesheet is compiled once per test process.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree
from saxonche import PySaxonProcessor, PyXsltExecutable

DATA = Path(__file__).resolve().parent.parent / "data" / "einvoicing"
EN16931_CII = DATA / "en16931-cii" / "EN16931-CII-validation-1.3.16.xslt"
CIUS_FR_CII = DATA / "cius-fr" / "20260804_BR-FR-Flux2-Schematron-CII_V1.4.0.03.xslt"
FLUX10_SCHEMATRON = DATA / "flux10" / "schematron" / "PPF_Flux10_v1_0.xslt"
FLUX10_XSD = DATA / "flux10" / "xsd" / "ereporting.xsd"
SVRL = "{http://purl.oclc.org/dsdl/svrl}"


@cache
def _processor() -> PySaxonProcessor:
    return PySaxonProcessor(license=False)


@cache
def _stylesheet(path: Path) -> PyXsltExecutable:
    return _processor().new_xslt30_processor().compile_stylesheet(stylesheet_file=str(path))


def failed_asserts(xml: bytes, stylesheet: Path) -> list[str]:
    """'[rule id] location: message' for each failed assert of the schematron on `xml`."""
    node = _processor().parse_xml(xml_text=xml.decode("utf-8"))
    svrl = etree.fromstring(_stylesheet(stylesheet).transform_to_string(xdm_node=node).encode())
    fired = svrl.findall(f".//{SVRL}fired-rule")
    if not fired:
        raise AssertionError(f"{stylesheet.name}: no rule fired, wrong document kind?")
    return [
        f"[{fail.get('id')}] {fail.get('location')}: "
        + " ".join((fail.findtext(f"{SVRL}text") or "").split())
        for fail in svrl.iter(f"{SVRL}failed-assert")
    ]


def cii_failures(xml: bytes) -> list[str]:
    """Failed EN 16931 and CIUS FR (BR-FR) asserts of a CII invoice."""
    return failed_asserts(xml, EN16931_CII) + failed_asserts(xml, CIUS_FR_CII)


@cache
def _flux10_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(FLUX10_XSD)))


def flux10_failures(xml: bytes) -> list[str]:
    """XSD errors and failed flux 10 schematron asserts of an e-reporting file."""
    schema = _flux10_schema()
    if not schema.validate(etree.fromstring(xml)):
        return [f"XSD: {error.message}" for error in schema.error_log]
    return failed_asserts(xml, FLUX10_SCHEMATRON)
