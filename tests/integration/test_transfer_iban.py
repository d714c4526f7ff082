"""A B2B invoice payable by transfer says where to pay: the operator's IBAN and BIC,
payment means 58 (SEPA credit transfer) in its CII XML, printed on its PDF; it still
passes the EN 16931 and BR-FR rules."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.clock import FixedClock
from tests.integration.test_catalogue_edits_api import patch
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    NEW_YEAR,
    alice,
    bob,
    company,
    company_hooks,
    december,
    run_job,
    statement,
)
from tests.support.api import Api
from tests.support.einvoicing import cii_failures
from tests.unit.test_invoice_pdf import pdf_text

IBAN = "FR7630006000011234567890189"
BIC = "AGRIFRPP"


def december_invoice(
    api: Api,
    admin: str,
    clock: FixedClock,
    company: dict[str, Any],  # noqa: F811
) -> dict[str, Any]:
    clock.moment = NEW_YEAR
    assert run_job(api, admin)["processed"] == 1
    document = statement(api, admin, company["id"], "2026-12").json["invoice"]
    assert document is not None
    return dict(document)


def test_a_transfer_invoice_carries_the_operator_s_iban_and_bic(
    api: Api,
    admin: str,
    clock: FixedClock,
    network: dict[str, str],
    company: dict[str, Any],  # noqa: F811
    december: dict[str, dict[str, Any]],  # noqa: F811
) -> None:
    path = f"/v1/operators/{network['operator']}"
    assert patch(api, path, {"iban": IBAN, "bic": BIC}, admin, 1).status == 200
    document = december_invoice(api, admin, clock, company)
    assert (document["seller"]["iban"], document["seller"]["bic"]) == (IBAN, BIC)

    xml = api.get(f"/v1/invoices/{document['id']}/xml", token=admin).body
    assert b"<ram:TypeCode>58</ram:TypeCode>" in xml
    assert f"<ram:IBANID>{IBAN}</ram:IBANID>".encode() in xml
    assert f"<ram:BICID>{BIC}</ram:BICID>".encode() in xml
    assert cii_failures(xml) == []

    pdf = api.get(f"/v1/invoices/{document['id']}/pdf", token=admin).body
    text = " ".join(pdf_text(pdf).split())
    assert "FR76 3000 6000 0112 3456 7890 189" in text and f"BIC : {BIC}" in text


def test_without_an_iban_a_transfer_stays_code_42_and_prints_none(
    api: Api,
    admin: str,
    clock: FixedClock,
    company: dict[str, Any],  # noqa: F811
    december: dict[str, dict[str, Any]],  # noqa: F811
) -> None:
    document = december_invoice(api, admin, clock, company)
    assert "iban" not in document["seller"]
    xml = api.get(f"/v1/invoices/{document['id']}/xml", token=admin).body
    assert b"<ram:TypeCode>42</ram:TypeCode>" in xml and b"IBANID" not in xml
    assert cii_failures(xml) == []
