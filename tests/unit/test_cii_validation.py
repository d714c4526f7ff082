"""The validator run before an invoice is sent: the shipped official artefacts, the same
verdicts as the test copies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chalicelib.adapters import cii_validation
from chalicelib.adapters.cii_validation import STYLESHEETS, CiiValidator
from chalicelib.adapters.invoice_cii import cii_xml
from tests.support.einvoicing import DATA
from tests.unit.test_invoice_pdf import SAMPLES, b2b_invoice


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_shipped_stylesheets_are_the_official_ones_unmodified() -> None:
    copies = {p.name: _sha256(p) for p in DATA.rglob("*.xslt")}
    assert {p.name: _sha256(p) for p in STYLESHEETS} == {
        p.name: copies[p.name] for p in STYLESHEETS
    }


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_kind_of_document_relais_makes_is_valid(name: str) -> None:
    assert CiiValidator().failures(cii_xml(SAMPLES[name]())) == []


def test_a_document_breaking_a_french_rule_fails_with_the_rule_named() -> None:
    broken = b2b_invoice()
    broken["seller"] = {**broken["seller"], "siren": "12345678"}  # 8 digits
    failed = CiiValidator().failures(cii_xml(broken))
    assert any(rule.startswith("[BR-FR-") for rule in failed), failed


def test_a_document_breaking_the_schema_fails_on_the_xsd() -> None:
    xml = cii_xml(b2b_invoice()).replace(b"<ram:TypeCode>380", b"<ram:Typecode>380", 1)
    xml = xml.replace(b"380</ram:TypeCode>", b"380</ram:Typecode>", 1)
    failed = CiiValidator().failures(xml)
    assert failed and failed[0].startswith("XSD:"), failed


def test_text_that_is_not_xml_fails_without_raising() -> None:
    assert CiiValidator().failures(b"<rsm:CrossIndustryInvoice")[0].startswith("XML:")


def test_saxon_is_available_here_and_a_validator_without_it_refuses_to_be_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert cii_validation.available()  # the venv installs requirements-validation.txt
    monkeypatch.setattr(cii_validation, "find_spec", lambda name: None)
    cii_validation.available.cache_clear()
    try:
        assert not cii_validation.available()
        with pytest.raises(cii_validation.ValidatorMissing, match="validation layer"):
            CiiValidator()
    finally:
        cii_validation.available.cache_clear()
