"""Every B2B invoice is validated (XSD, EN 16931, BR-FR) before it is sent: an invalid one
is never sent, is shown with its failed rules and counted, and never holds the others."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.invoice_cii import cii_xml
from chalicelib.domain.documents import Document
from chalicelib.services import einvoice_routing
from chalicelib.services.context import Context
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_einvoice_routing import lifecycle, route
from tests.integration.test_ereport_transmission import fake_pa  # noqa: F401
from tests.integration.test_invoicing_flow import paid_booking
from tests.support.api import Api
from tests.support.fake_pa import FakePlatform

FREELANCE_SIREN = "732829320"


def business_card_invoice(
    api: Api, member: str, network: dict, stripe_fake: Any, settings: Any, day: str = "2027-01-05"
) -> dict[str, Any]:
    """A freelancer who gave a SIREN pays a day by card: a second B2B document."""
    profile = {"name": "Claire Martin", "email": "claire@example.org", "siren": FREELANCE_SIREN}
    assert api.request("PUT", "/v1/me", profile, token=member).status == 200
    booking = paid_booking(api, member, network, stripe_fake, settings, day=day)
    invoice = api.get(f"/v1/invoices/{booking['invoice_id']}", token=member).json
    assert invoice["buyer"]["siren"] == FREELANCE_SIREN
    return dict(invoice)


@pytest.fixture
def broken_company_invoice(
    monkeypatch: pytest.MonkeyPatch,
    invoiced: dict[str, Any],  # noqa: F811
) -> dict[str, Any]:
    """The CII generator has a bug for one document: its seller SIREN loses a digit."""

    def buggy(document: Document) -> bytes:
        xml = cii_xml(document)
        if document.id == invoiced["id"] and document.seller.siren:
            siren = document.seller.siren.encode()
            xml = xml.replace(siren, siren[:8])
        return xml

    monkeypatch.setattr(einvoice_routing, "cii_xml", buggy)
    return invoiced


def test_an_invalid_invoice_is_not_sent_and_the_others_are(
    api: Api,
    admin: str,
    member: str,
    network: dict,
    stripe_fake: Any,
    settings: Any,
    broken_company_invoice: dict[str, Any],
    fake_pa: FakePlatform,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = business_card_invoice(api, member, network, stripe_fake, settings)

    counts = route(api, admin)

    assert (counts["invalid"], counts["deposited"]) == (1, 1)
    assert (counts["job"], counts["processed"]) == ("route_einvoices", 2)
    assert list(fake_pa.flows) == [other["id"]]
    state = lifecycle(api, admin, broken_company_invoice["id"])
    assert (state["status"], state["flow_id"], state["history"]) == (None, None, [])
    assert state["error"]["code"] == "validation_failed"
    assert state["error"]["failed_count"] >= 1
    assert any(rule.startswith("[BR-FR-") for rule in state["error"]["failed_rules"])
    logged = capsys.readouterr().out
    assert '"einvoice_invalid"' in logged and broken_company_invoice["number"] in logged
    assert '"EInvoiceInvalid"' in logged  # the EMF metric an alarm watches
    assert lifecycle(api, admin, other["id"])["status"] == "200"


def test_an_invalid_invoice_is_validated_again_only_after_a_new_release(
    api: Api,
    admin: str,
    ctx: Context,
    broken_company_invoice: dict[str, Any],
    fake_pa: FakePlatform,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert route(api, admin)["invalid"] == 1
    assert route(api, admin)["invalid"] == 0  # same release: not validated again

    monkeypatch.setattr(einvoice_routing, "cii_xml", cii_xml)  # the fix ...
    monkeypatch.setattr(ctx.settings, "version", "9.9.9")  # ... deployed

    assert route(api, admin)["deposited"] == 1
    state = lifecycle(api, admin, broken_company_invoice["id"])
    assert (state["status"], state["error"]) == ("200", None)
    assert list(fake_pa.flows) == [broken_company_invoice["id"]]


class _Crashing:
    def failures(self, xml: bytes) -> list[str]:
        raise RuntimeError("saxon fell over")


def test_a_validator_crash_sends_nothing_and_is_retried_next_run(
    ctx: Context,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    counts = einvoice_routing.route_einvoices(ctx, validator=_Crashing())

    assert counts["waiting"] == 1 and fake_pa.flows == {}
    assert einvoice_routing.route_einvoices(ctx)["deposited"] == 1


def test_a_backlog_beyond_one_runs_budget_is_sent_by_the_next_run(
    api: Api,
    admin: str,
    member: str,
    network: dict,
    stripe_fake: Any,
    settings: Any,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    business_card_invoice(api, member, network, stripe_fake, settings)
    monkeypatch.setattr(einvoice_routing, "MAX_DEPOSITS_PER_RUN", 1)

    first = route(api, admin)
    second = route(api, admin)

    assert (first["deposited"], first["deferred"]) == (1, 1)
    assert (second["deposited"], second["deferred"]) == (1, 0)
    assert len(fake_pa.flows) == 2
