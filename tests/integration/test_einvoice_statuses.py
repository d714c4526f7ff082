"""Relais sends 212 Encaissée itself, once, when a routed B2B invoice is paid in full (VAT
on receipts): a company invoice when transfers cover it, a card invoice at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from chalicelib.adapters import cii_validation
from chalicelib.adapters.cdar_status import RAM, referenced_status
from chalicelib.adapters.clock import FixedClock
from chalicelib.domain.timezones import PARIS
from chalicelib.services import company_payments, einvoice_routing
from chalicelib.services.context import Context
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
    pay,
    two_rates_invoiced_early,
)
from tests.integration.test_einvoice_routing import deposited, lifecycle, route  # noqa: F401
from tests.integration.test_einvoice_validation import business_card_invoice
from tests.integration.test_ereport_transmission import fake_pa  # noqa: F401
from tests.integration.test_invoicing_flow import paid_booking
from tests.integration.test_partial_credit_notes import charge_refunded
from tests.integration.test_partial_credit_notes import paid_booking as partly_paid_booking
from tests.support.api import Api
from tests.support.fake_pa import FakePlatform
from tests.support.webhooks import deliver


def codes(api: Api, admin: str, invoice_id: str) -> list[str]:
    return [h["code"] for h in lifecycle(api, admin, invoice_id)["history"]]


def test_a_company_invoice_gets_a_212_per_transfer_the_last_one_final(
    api: Api,
    admin: str,
    clock: FixedClock,
    deposited: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    total = deposited["totals"]["incl_vat"]
    clock.moment = datetime(2027, 1, 20, 10, tzinfo=PARIS)
    assert pay(api, admin, deposited["id"], amount=total - 100).status == 201
    assert route(api, admin)["paid_sent"] == 1  # the first transfer, partial
    assert route(api, admin)["paid_sent"] == 0  # once
    state = lifecycle(api, admin, deposited["id"])
    assert (state["status"], state["history"][-1]["detail"]["partial"]) == ("212", True)

    assert pay(api, admin, deposited["id"], amount=100, reference="VIR-2").status == 201
    assert route(api, admin)["paid_sent"] == 1  # the second: paid in full, final
    assert route(api, admin)["paid_sent"] == 0

    history = lifecycle(api, admin, deposited["id"])["history"]
    assert [h["code"] for h in history] == ["200", "212", "212"]
    assert "partial" not in history[-1]["detail"]
    assert history[1]["detail"]["payment"] != history[2]["detail"]["payment"]
    per_rate: dict[str, int] = {}
    for entry in history[1:]:
        for line in entry["detail"]["amounts"]:
            per_rate[line["rate"]] = per_rate.get(line["rate"], 0) + line["base"] + line["vat"]
    assert per_rate == {  # the two add up to the invoice, rate by rate
        line["rate"]: line["base"] + line["vat"] for line in deposited["vat_breakdown"]
    }
    assert [(n, c) for n, c, _ in fake_pa.statuses] == [(deposited["number"], "212")] * 2
    first, last = (xml for _, _, xml in fake_pa.statuses)
    assert referenced_status(last) == (deposited["number"], "212")
    received = [
        (c.findtext(f"{{{RAM}}}ValuePercent"), c.findtext(f"{{{RAM}}}ValueAmount"))
        for c in ET.fromstring(last).iter(f"{{{RAM}}}SpecifiedDocumentCharacteristic")
    ]
    assert received == [
        (line["rate"], f"{(line['base'] + line['vat']) / 100:.2f}")
        for line in history[2]["detail"]["amounts"]
    ]
    assert first != last
    assert sum(1 for t in fake_pa.flows if t.startswith(f"{deposited['id']}-212-")) == 2


def test_a_card_invoice_is_marked_paid_on_the_run_after_its_deposit(
    api: Api,
    admin: str,
    member: str,
    network: dict,
    stripe_fake: Any,
    settings: Any,
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    invoice = business_card_invoice(api, member, network, stripe_fake, settings, "2026-12-04")
    assert route(api, admin)["deposited"] == 1
    assert route(api, admin)["paid_sent"] == 1
    assert codes(api, admin, invoice["id"]) == ["200", "212"]


def test_a_lost_answer_sends_the_same_status_flow_again(
    api: Api,
    admin: str,
    member: str,
    network: dict,
    stripe_fake: Any,
    settings: Any,
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    invoice = business_card_invoice(api, member, network, stripe_fake, settings, "2026-12-04")
    route(api, admin)
    fake_pa.failures = [503]
    assert route(api, admin)["paid_sent"] == 0
    assert route(api, admin)["paid_sent"] == 1
    assert [s[:2] for s in fake_pa.statuses] == [(invoice["number"], "212")]
    assert f"{invoice['id']}-212" in fake_pa.flows


def test_a_refused_invoice_is_never_marked_paid(
    api: Api,
    admin: str,
    member: str,
    network: dict,
    stripe_fake: Any,
    settings: Any,
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    invoice = business_card_invoice(api, member, network, stripe_fake, settings, "2026-12-04")
    route(api, admin)
    fake_pa.report(invoice["id"], "210")
    counts = route(api, admin)
    assert (counts["updated"], counts["paid_sent"]) == (1, 0)
    assert route(api, admin)["paid_sent"] == 0
    assert codes(api, admin, invoice["id"]) == ["200", "210"]


def test_a_rejected_invoice_is_deposited_again_same_number_as_a_new_flow(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    fake_pa.failures = [400]
    assert route(api, admin)["rejected"] == 1
    assert route(api, admin)["deposited"] == 0  # a rejection is never resent on its own

    path = f"/v1/invoices/{invoiced['id']}/lifecycle/resend"
    answer = api.post(path, {}, token=admin, headers={"Idempotency-Key": "resend-1"})

    assert answer.status == 200, answer.json
    assert (answer.json["status"], answer.json["attempt"], answer.json["error"]) == ("200", 2, None)
    assert [(h["code"], h.get("attempt")) for h in answer.json["history"]] == [
        ("213", None),
        ("200", 2),
    ]
    (flow,) = fake_pa.flows.values()
    assert (flow["trackingId"], flow["name"]) == (
        f"{invoiced['id']}.2",
        f"{invoiced['number']}.xml",
    )
    again = api.post(path, {}, token=admin, headers={"Idempotency-Key": "resend-1"})
    assert again.json == answer.json  # a replay, not a third deposit
    assert api.post(path, {}, token=admin).json["code"] == "invalid_state"
    trail = api.get("/v1/audit?entity=einvoice", token=admin).json["items"]
    assert [(e["action"], e["entity_id"]) for e in trail] == [("resend", invoiced["id"])]


def test_a_resend_during_an_outage_is_made_by_a_later_run_however_old_the_invoice(
    api: Api,
    admin: str,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    fake_pa.failures = [400]
    route(api, admin)
    fake_pa.failures = [503]
    answer = api.post(f"/v1/invoices/{invoiced['id']}/lifecycle/resend", {}, token=admin)
    assert (answer.json["status"], answer.json["resend_pending"]) == ("213", True)
    clock.moment = datetime(2027, 3, 1, 10, tzinfo=PARIS)  # beyond the job's 31 days

    assert route(api, admin)["deposited"] == 1
    state = lifecycle(api, admin, invoiced["id"])
    assert (state["status"], state["resend_pending"], state["attempt"]) == ("200", False, 2)


def test_where_saxon_is_missing_a_resend_waits_for_the_scheduled_run_which_validates_it(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Deployed, the API has no validator: Saxon is in the route_einvoices layer only."""
    fake_pa.failures = [400]
    route(api, admin)
    with monkeypatch.context() as api_function:
        api_function.setattr(cii_validation, "available", lambda: False)

        answer = api.post(f"/v1/invoices/{invoiced['id']}/lifecycle/resend", {}, token=admin)

        assert answer.status == 200, answer.json
        assert (answer.json["status"], answer.json["resend_pending"]) == ("213", True)
        assert fake_pa.flows == {}  # nothing left unvalidated
        # AND the job run from the API defers it too, the scheduled run (Saxon) deposits it
        assert (route(api, admin)["deferred"], fake_pa.flows) == (1, {})
    assert route(api, admin)["deposited"] == 1
    state = lifecycle(api, admin, invoiced["id"])
    assert (state["status"], state["resend_pending"], state["attempt"]) == ("200", False, 2)
    (flow,) = fake_pa.flows.values()
    assert flow["trackingId"] == f"{invoiced['id']}.2"


class FakeTrigger:
    """Stands in for the asynchronous invoke of the route_einvoices function."""

    def __init__(self, fails: bool = False) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []
        self.fails = fails

    def start(self, reason: str, now: datetime, detail: dict[str, Any]) -> None:
        if self.fails:
            raise RuntimeError("TooManyRequestsException")
        self.started.append((reason, detail))


@pytest.mark.parametrize("fails", [False, True])
def test_where_saxon_is_missing_a_resend_starts_the_function_that_has_it(
    api: Api,
    admin: str,
    ctx: Context,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    fails: bool,
) -> None:
    """Deployed, the API knows the route_einvoices function's name and may invoke it."""
    fake_pa.failures = [400]
    route(api, admin)
    trigger = FakeTrigger(fails)
    asked: list[tuple[str, str]] = []

    def function_trigger(name: str, region: str) -> FakeTrigger:
        asked.append((name, region))
        return trigger

    monkeypatch.setattr(einvoice_routing, "function_trigger", function_trigger)
    monkeypatch.setattr(ctx.settings, "einvoice_router_function", "relais-dev-RouteEinvoices")
    with monkeypatch.context() as api_function:
        api_function.setattr(cii_validation, "available", lambda: False)

        answer = api.post(f"/v1/invoices/{invoiced['id']}/lifecycle/resend", {}, token=admin)

    # AND a function that cannot be started leaves it to the hourly run: still 200
    assert answer.status == 200, answer.json
    assert (answer.json["status"], answer.json["resend_pending"]) == ("213", True)
    assert asked == [("relais-dev-RouteEinvoices", ctx.settings.aws_region)]
    expected = [] if fails else [(f"resend-{invoiced['id']}", {"resend": invoiced["id"]})]
    assert trigger.started == expected
    assert fake_pa.flows == {}
    assert route(api, admin)["deposited"] == 1  # what the started function does


def test_a_job_run_without_saxon_does_all_but_the_deposits(
    api: Api,
    admin: str,
    member: str,
    network: dict,
    stripe_fake: Any,
    settings: Any,
    fake_pa: FakePlatform,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = business_card_invoice(api, member, network, stripe_fake, settings, "2026-12-04")
    assert route(api, admin)["deposited"] == 1
    fake_pa.report(first["id"], "205")
    second = business_card_invoice(api, member, network, stripe_fake, settings, "2026-12-07")
    with monkeypatch.context() as api_function:
        api_function.setattr(cii_validation, "available", lambda: False)

        counts = route(api, admin)

    assert (counts["deposited"], counts["deferred"], counts["updated"]) == (0, 1, 1)
    assert "205" in codes(api, admin, first["id"])  # statuses are still read
    assert second["id"] not in fake_pa.flows
    assert route(api, admin)["deposited"] == 1
    assert second["id"] in fake_pa.flows


def test_a_refused_invoice_is_cancelled_by_one_credit_note_which_is_routed_too(
    api: Api,
    admin: str,
    deposited: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    fake_pa.report(deposited["id"], "210")
    route(api, admin)  # learns the refusal
    assert route(api, admin)["credited"] == 1
    assert route(api, admin)["credited"] == 0

    state = lifecycle(api, admin, deposited["id"])
    note = api.get(f"/v1/invoices/{state['credit_note_id']}", token=admin).json
    assert (note["type"], note["refers_to"]) == ("credit_note", deposited["id"])
    assert note["totals"]["incl_vat"] == -deposited["totals"]["incl_vat"]
    assert note["id"] in fake_pa.flows  # validated and deposited like the invoice
    assert lifecycle(api, admin, note["id"])["status"] == "200"


BUSINESS_MEMBER = {
    "name": "Camille Martin",
    "email": "camille@example.org",
    "company_name": "Danone",
    "siren": "552100554",
    "billing_address": {
        "line1": "17 boulevard Haussmann",
        "postcode": "75009",
        "city": "Paris",
        "country": "FR",
    },
}


def credited(api: Api, token: str, operator_id: str, invoice_id: str) -> int:
    """What the invoice's credit notes credit in all (VAT included, positive)."""
    items = api.get(f"/v1/invoices?operator_id={operator_id}", token=token).json["items"]
    return sum(
        -int(d["totals"]["incl_vat"])
        for d in items
        if d["type"] == "credit_note" and d.get("refers_to") == invoice_id
    )


def test_a_refused_invoice_already_credited_in_full_is_not_credited_again(
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: Any,
    settings: Any,
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    """A business member's card invoice, refunded in full (cancelled in time), then
    refused by its buyer's platform (210): nothing is left to credit."""
    assert api.request("PUT", "/v1/me", BUSINESS_MEMBER, token=member).status == 200
    booking = paid_booking(api, member, network, stripe_fake, settings)
    invoice_id = booking["invoice_id"]
    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)
    assert cancelled.status == 200 and cancelled.json["credit_note_id"], cancelled.json
    assert route(api, admin)["deposited"] == 2  # the invoice and its credit note
    assert credited(api, accountant, network["operator"], invoice_id) == 1500

    fake_pa.report(invoice_id, "210")
    route(api, admin)  # reads the 210
    assert route(api, admin)["credited"] == 0  # acts on it: nothing left
    route(api, admin)

    assert credited(api, accountant, network["operator"], invoice_id) == 1500
    state = lifecycle(api, admin, invoice_id)
    assert (state["status"], state["credit_note_id"]) == ("210", None)


def test_a_refused_invoice_one_line_of_which_was_credited_is_credited_for_the_others(
    api: Api,
    admin: str,
    accountant: str,
    alice: str,  # noqa: F811
    bob: str,  # noqa: F811
    company: dict[str, Any],  # noqa: F811
    network: dict,
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    """The desk's line (20 %) credited when its booking was cancelled in time, then the
    invoice refused (210): its credit note is the office's line (10 %), so the invoice and
    its notes cancel line by line and rate by rate (not a share of each line, as if the
    earlier note had been a pro-rata refund)."""
    invoice, desk = two_rates_invoiced_early(api, admin, alice, bob, network, company["id"])
    assert api.post(f"/v1/bookings/{desk['id']}/cancel", token=alice).json["credit_note_id"]
    route(api, admin)
    fake_pa.report(invoice["id"], "210")
    route(api, admin)  # reads the 210
    route(api, admin)  # credits what is left
    state = lifecycle(api, admin, invoice["id"])
    assert state["status"] == "210" and state["credit_note_id"], state

    note = api.get(f"/v1/invoices/{state['credit_note_id']}", token=accountant).json
    office = next(line for line in invoice["lines"] if line["vat_rate"] == "10.00")
    (line,) = note["lines"]
    assert (line["description"], line["vat_rate"], line["amount_incl_vat"]) == (
        office["description"],
        "10.00",
        -4400,
    )
    assert note["vat_breakdown"] == [{"rate": "10.00", "base": -4000, "vat": -400}]
    assert credited(api, accountant, network["operator"], invoice["id"]) == 5900
    # AND it is a valid CII the platform takes (EN 16931, BR-FR)
    route(api, admin)
    assert lifecycle(api, admin, note["id"])["status"] == "200"


def test_a_refused_invoice_partly_refunded_is_credited_the_balance_of_its_line(
    api: Api,
    admin: str,
    accountant: str,
    member: str,
    network: dict,
    stripe_fake: Any,
    settings: Any,
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    """A business member's card invoice (15.00) refunded 5.00, then refused (210): its
    credit note is the balance of the line, 10.00, whose CII the platform takes."""
    assert api.request("PUT", "/v1/me", BUSINESS_MEMBER, token=member).status == 200
    booking, intent = partly_paid_booking(api, member, network, stripe_fake, settings)
    refund = charge_refunded(intent, [("re_part", 500)])
    assert deliver(api, settings, "charge.refunded", refund).status == 200
    invoice_id = booking["invoice_id"]
    route(api, admin)
    fake_pa.report(invoice_id, "210")
    route(api, admin)  # reads the 210
    route(api, admin)  # credits the rest
    state = lifecycle(api, admin, invoice_id)
    note = api.get(f"/v1/invoices/{state['credit_note_id']}", token=accountant).json
    (line,) = note["lines"]
    assert line["description"].startswith("Solde — ")
    assert (line["amount_excl_vat"], line["vat_amount"], line["amount_incl_vat"]) == (
        -833,
        -167,
        -1000,
    )
    assert credited(api, accountant, network["operator"], invoice_id) == 1500
    route(api, admin)
    assert lifecycle(api, admin, note["id"])["status"] == "200"


def test_a_refused_company_invoice_leaves_the_unpaid_list_once_credited(
    api: Api,
    admin: str,
    accountant: str,
    ctx: Any,
    deposited: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    operator_id = deposited["operator_id"]
    unpaid = company_payments.unpaid_company_invoices(ctx, operator_id)
    assert [u["invoice_id"] for u in unpaid] == [deposited["id"]]
    fake_pa.report(deposited["id"], "210")
    route(api, admin)
    route(api, admin)  # the credit note
    route(api, admin)  # again: the credit note counts once

    assert company_payments.unpaid_company_invoices(ctx, operator_id) == []
    state = ctx.companies.payment_state(deposited["id"])
    assert (state["amount_due"], state["status"]) == (0, "paid")
    issued = deposited["issued_at"][:10]
    report = api.get(
        f"/v1/accounting/reconciliation?operator_id={operator_id}&from={issued}&to={issued}",
        token=accountant,
    ).json
    assert deposited["id"] not in [u["id"] for u in report["unpaid_invoices"]]
    assert codes(api, admin, deposited["id"]) == ["200", "210"]  # never marked 212
    # The credit note goes to the company's customer account, not to a shared `client`
    # one: the company owes nothing (found by review R2's cause).
    year = int(issued[:4])
    customer: dict[str, int] = {}
    for line in ctx.invoices.ledger(operator_id, year):
        if line.account == "411000":
            customer[line.aux_account] = (
                customer.get(line.aux_account, 0) + line.debit - line.credit
            )
    assert customer == {deposited["company_id"]: 0}
