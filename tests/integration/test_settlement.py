"""Settlement invoices between operators: the host invoices the seller once per month,
with the ledger entries on both sides, in both operators' FEC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from chalicelib.domain.timezones import PARIS
from chalicelib.services.context import Context
from chalicelib.services.settlement import settle_month, settle_operators
from tests.integration.test_companies import company_body
from tests.support.api import Api, another_operators_pool, booked
from tests.support.einvoicing import cii_failures
from tests.support.fake_stripe import FakeGateway
from tests.support.fec_checker import check_fec
from tests.support.webhooks import deliver


@pytest.fixture
def used_elsewhere(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: FakeGateway,
) -> dict[str, str]:
    """A pack of 10 credits for 120 € sold by the network's operator, one credit used at
    another operator's relay on 3 December 2026."""
    other, pool = another_operators_pool(api, admin)
    product = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000},
            "operator_id": network["operator"],
            "credits": 10,
            "validity_days": 180,
        },
        token=admin,
    ).json
    bought = api.post("/v1/purchases", {"product_id": product["id"]}, token=member).json
    deliver(
        api,
        settings,
        "payment_intent.succeeded",
        stripe_fake.succeed(bought["payment"]["payment_intent_id"]),
    )
    answer = api.post(
        "/v1/bookings",
        {"resource_id": pool["id"], "date": "2026-12-03", "unit": "day", "payment": "credits"},
        token=member,
    )
    assert answer.status == 201, answer.json
    return {"seller": network["operator"], "host": other["id"]}


def valid_fec(api: Api, accountant: str, operator: str, year: int) -> str:
    """The operator's FEC of `year`, checked as the DGFiP's tester does: its text."""
    fec = api.get(f"/v1/accounting/fec?operator_id={operator}&year={year}", token=accountant)
    text = fec.body.decode()
    assert check_fec(text, fec.headers["Content-Disposition"].split('"')[1]) == []
    return text


def test_the_host_invoices_the_seller_once_with_entries_on_both_sides(
    ctx: Context,
    api: Api,
    admin: str,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],
) -> None:
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    first = settle_operators(ctx)
    assert (first["month"], first["processed"]) == ("2026-12", 1)
    assert settle_month(ctx, 2026, 12)["invoices"] == []  # idempotent: all settled
    (number,) = first["invoices"]
    host, seller = used_elsewhere["host"], used_elsewhere["seller"]

    items = api.get(f"/v1/invoices?operator_id={host}", token=accountant).json["items"]
    (invoice,) = [d for d in items if d["number"] == number]
    assert invoice["number"].startswith("NG-2027-")  # the host's own numbering
    assert (
        invoice["buyer"]["siren"] == api.get(f"/v1/operators/{seller}", token=admin).json["siren"]
    )
    assert invoice["totals"] == {"excl_vat": 1000, "vat": 200, "incl_vat": 1200}
    assert invoice["payment"]["method"] == "transfer"
    xml = api.get(f"/v1/invoices/{invoice['id']}/xml", token=accountant).body
    assert cii_failures(xml) == []

    host_lines = ctx.invoices.ledger(host, 2027)
    assert {(x.account, x.debit - x.credit) for x in host_lines} == {
        ("411000", 1200),
        ("706000", -1000),
        ("445710", -200),
    }
    seller_lines = ctx.invoices.ledger(seller, 2027)
    assert {(x.journal.value, x.account, x.debit - x.credit) for x in seller_lines} == {
        ("HA", "604000", 1000),
        ("HA", "445660", 200),
        ("HA", "401000", -1200),
    }
    for operator in (host, seller):
        assert number in valid_fec(api, accountant, operator, 2027)


def test_the_sellers_transfer_settles_the_hosts_invoice_and_its_vat(
    ctx: Context,
    api: Api,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],
) -> None:
    """ "Payable by transfer within 30 days": the host's accountant records the transfer
    as a company's, so the invoice leaves the unpaid ones, its customer line is settled
    and its VAT (due on receipt for services) reaches the host's VAT report."""
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    (number,) = settle_operators(ctx)["invoices"]
    host = used_elsewhere["host"]
    items = api.get(f"/v1/invoices?operator_id={host}", token=accountant).json["items"]
    (invoice,) = [d for d in items if d["number"] == number]
    clock.moment = clock.moment.replace(day=6)
    body = {"amount": 1200, "method": "transfer", "paid_at": "2027-01-06", "reference": "VIR-1"}
    answer = api.post(f"/v1/invoices/{invoice['id']}/payments", body, token=accountant)
    assert answer.status == 201, answer.json
    assert answer.json["invoice"]["status"] == "paid"
    vat = api.get(f"/v1/accounting/vat?operator_id={host}&month=2027-01", token=accountant).json
    assert vat["total_vat"] == 200
    report = api.get(
        f"/v1/accounting/reconciliation?operator_id={host}&from=2027-01-01&to=2027-01-31",
        token=accountant,
    ).json
    assert report["unpaid_invoices"] == []
    customer = [x for x in ctx.invoices.ledger(host, 2027) if x.account == "411000"]
    assert sum(x.debit - x.credit for x in customer) == 0


def _two_days_settled_early_one_credited(
    ctx: Context, api: Api, member: str, accountant: str, clock: FixedClock, host: str
) -> dict[str, Any]:
    """A second day at the host (10 December), December settled early on one 24.00 €
    invoice, that day cancelled in time, then settled on 1 January: one credit note of
    12.00. Answers the invoice."""
    (relay,) = [r for r in api.get("/v1/relays").json["items"] if r["operator_id"] == host]
    pool = api.get(f"/v1/relays/{relay['id']}").json["resources"][0]["id"]
    body = {"resource_id": pool, "date": "2026-12-10", "unit": "day", "payment": "credits"}
    tenth = api.post("/v1/bookings", body, token=member).json
    (number,) = settle_operators(ctx, as_of=datetime(2027, 1, 1, 4, tzinfo=PARIS))["invoices"]
    items = api.get(f"/v1/invoices?operator_id={host}", token=accountant).json["items"]
    (invoice,) = [d for d in items if d["number"] == number]
    assert invoice["totals"]["incl_vat"] == 2400
    assert api.post(f"/v1/bookings/{tenth['booking']['id']}/cancel", token=member).status == 200
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    assert len(settle_operators(ctx)["credit_notes"]) == 1
    return invoice


def _accounts(lines: list[Any], account: str) -> dict[str, int]:
    """Balance (debit - credit) per auxiliary account of one account's lines."""
    found: dict[str, int] = {}
    for x in lines:
        if x.account == account:
            found[x.aux_account] = found.get(x.aux_account, 0) + x.debit - x.credit
    return found


def test_the_seller_is_the_hosts_customer_and_its_transfer_settles_its_supplier_account(
    ctx: Context,
    api: Api,
    member: str,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],
) -> None:
    """The host's 411 line names the seller (not a shared `client` account), its credit
    note too; the transfer the host records is the seller's payment: D 401 host / C 512
    on the seller's books, once however often it is recorded (found by review R2)."""
    host, seller = used_elsewhere["host"], used_elsewhere["seller"]
    invoice = _two_days_settled_early_one_credited(ctx, api, member, accountant, clock, host)
    clock.moment = clock.moment.replace(day=6, hour=9)

    def books(operator: str) -> list[Any]:
        return ctx.invoices.ledger(operator, 2026) + ctx.invoices.ledger(operator, 2027)

    assert _accounts(books(host), "411000") == {seller: 1200}  # 24.00 less its 12.00 note

    paid = {"amount": 1200, "method": "transfer", "paid_at": "2027-01-06", "reference": "VIR-9"}
    for _ in range(2):  # recorded twice: the same payment
        answer = api.post(f"/v1/invoices/{invoice['id']}/payments", paid, token=accountant)
        assert answer.status in (200, 201), answer.json
    assert _accounts(books(host), "411000") == {seller: 0}
    assert _accounts(books(seller), "401000") == {host: 0}
    assert _accounts(books(seller), "512000") == {"": -1200}
    for operator in (host, seller):
        valid_fec(api, accountant, operator, 2027)


def test_a_refused_settlement_invoice_is_credited_in_the_sellers_books_too(
    ctx: Context,
    api: Api,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],
) -> None:
    """The seller refuses the host's invoice (210): the refusal's credit note is mirrored
    in the seller's purchases at once, so when the day is invoiced again and paid, its
    401 is settled and it deducted the VAT of one invoice (found by review R3)."""
    from chalicelib.services.einvoice_routing import _credit_refused

    host, seller = used_elsewhere["host"], used_elsewhere["seller"]
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    (first,) = settle_operators(ctx)["invoices"]
    items = api.get(f"/v1/invoices?operator_id={host}", token=accountant).json["items"]
    (refused,) = [d for d in items if d["number"] == first]
    ctx.einvoices.create(host, {"document_id": refused["id"], "history": [{"code": "210"}]})
    assert _credit_refused(ctx, host, ctx.einvoices.get(host, refused["id"]) or {}) == "credited"
    seller_books = ctx.invoices.ledger(seller, 2027)
    assert _accounts(seller_books, "401000") == {host: 0}  # before any other run
    (second,) = settle_operators(ctx)["invoices"]  # the day is invoiced again
    items = api.get(f"/v1/invoices?operator_id={host}", token=accountant).json["items"]
    (again,) = [d for d in items if d["number"] == second]
    paid = {"amount": 1200, "method": "transfer", "paid_at": "2027-01-01", "reference": "VIR-R"}
    answer = api.post(f"/v1/invoices/{again['id']}/payments", paid, token=accountant)
    assert answer.status == 201, answer.json
    settle_operators(ctx)  # a later run books nothing twice
    seller_books = ctx.invoices.ledger(seller, 2027)
    assert _accounts(seller_books, "401000") == {host: 0}
    assert _accounts(seller_books, "445660") == {"": 200}
    assert _accounts(ctx.invoices.ledger(host, 2027), "411000") == {seller: 0}


def test_a_settlement_invoice_asks_for_what_its_credit_notes_left(
    ctx: Context,
    api: Api,
    member: str,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],
) -> None:
    """Two days settled early on one 24.00 € invoice, one cancelled in time since: its
    credit note lowers what the invoice asks for, so the seller's transfer of the 12.00
    left pays it; a transfer on an invoice credited in full would be refused."""
    host = used_elsewhere["host"]
    invoice = _two_days_settled_early_one_credited(ctx, api, member, accountant, clock, host)

    paid = {"amount": 1200, "method": "transfer", "paid_at": "2027-01-01", "reference": "VIR-1"}
    answer = api.post(f"/v1/invoices/{invoice['id']}/payments", paid, token=accountant)
    assert answer.status == 201, answer.json
    assert (answer.json["invoice"]["amount_due"], answer.json["invoice"]["status"]) == (
        1200,
        "paid",
    )
    report = api.get(
        f"/v1/accounting/reconciliation?operator_id={host}&from=2027-01-01&to=2027-01-31",
        token=accountant,
    ).json
    assert report["unpaid_invoices"] == []


def test_a_sellers_credit_note_entry_mirrors_what_its_invoice_deducted(
    ctx: Context,
    api: Api,
    admin: str,
    member: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],
) -> None:
    """The seller deducted the VAT of the host's invoice under the normal regime, then
    entered the franchise; the invoice credited since: the note's entry takes the VAT
    back (445660 and 604000 both back to nothing), whatever the regime of the day."""
    seller = used_elsewhere["seller"]
    settle_operators(ctx, as_of=datetime(2027, 1, 1, 4, tzinfo=PARIS))
    mine = api.get("/v1/bookings", token=member).json["items"]
    (day,) = [b for b in mine if b["date"] == "2026-12-03"]
    assert api.post(f"/v1/bookings/{day['id']}/cancel", token=member).status == 200
    version = api.get(f"/v1/operators/{seller}", token=admin).json["version"]
    changed = api.request(
        "PATCH",
        f"/v1/operators/{seller}",
        {"vat_regime": "franchise", "vat_number": None},
        token=admin,
        headers={"If-Match": f'"{version}"'},
    )
    assert changed.status == 200, changed.json
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    assert len(settle_operators(ctx)["credit_notes"]) == 1
    net: dict[str, int] = {}
    for year in (2026, 2027):
        for line in ctx.invoices.ledger(seller, year):
            if line.journal.value == "HA":
                net[line.account] = net.get(line.account, 0) + line.debit - line.credit
    assert {account: amount for account, amount in net.items() if amount} == {}


def test_a_month_without_usage_elsewhere_issues_nothing(ctx: Context, clock: FixedClock) -> None:
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    assert settle_operators(ctx) == {
        "job": "settle_operators",
        "processed": 0,
        "month": "2026-12",
        "invoices": [],
        "credit_notes": [],
        "late_invoices": [],
        "late_credit_notes": [],
    }


def test_usage_gone_after_an_early_settlement_is_credited_on_both_sides(
    ctx: Context,
    api: Api,
    member: str,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],
) -> None:
    # GIVEN December settled early (a run by hand with as_of 1 January, on 1 December)
    early = settle_operators(ctx, as_of=datetime(2027, 1, 1, 4, tzinfo=PARIS))
    (invoice_number,) = early["invoices"]
    host, seller = used_elsewhere["host"], used_elsewhere["seller"]
    # AND the one booking it settled, cancelled in time since (its credit goes back)
    mine = api.get("/v1/bookings", token=member).json["items"]
    (booking,) = [b for b in mine if b["date"] == "2026-12-03"]
    assert api.post(f"/v1/bookings/{booking['id']}/cancel", token=member).status == 200

    # WHEN the month is settled again (the real run of 1 January), twice
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    again = settle_operators(ctx)
    assert settle_operators(ctx)["processed"] == 0  # idempotent

    # THEN the host credits the whole invoice, in its own numbering, referring to it
    (note_number,) = again["late_credit_notes"] or again["credit_notes"]
    documents = api.get(f"/v1/invoices?operator_id={host}", token=accountant).json["items"]
    (invoice,) = [d for d in documents if d["number"] == invoice_number]
    (note,) = [d for d in documents if d["number"] == note_number]
    assert note["type"] == "credit_note" and note["refers_to"] == invoice["id"]
    assert note["totals"] == {"excl_vat": -1000, "vat": -200, "incl_vat": -1200}
    assert note["credited_bookings"] == 1
    xml = api.get(f"/v1/invoices/{note['id']}/xml", token=accountant).body
    assert cii_failures(xml) == []
    # AND both operators' books net to nothing, each in a valid FEC
    balance = {
        operator: _balances(
            ctx.invoices.ledger(operator, 2026) + ctx.invoices.ledger(operator, 2027)
        )
        for operator in (host, seller)
    }
    assert balance[host] == {"411000": 0, "706000": 0, "445710": 0}
    assert balance[seller]["604000"] == balance[seller]["445660"] == 0
    assert balance[seller]["401000"] == 0
    for operator in (host, seller):  # the invoice in 2026's FEC, its credit note in 2027's
        for year, number in ((2026, invoice_number), (2027, note_number)):
            fec = api.get(
                f"/v1/accounting/fec?operator_id={operator}&year={year}", token=accountant
            )
            name = fec.headers["Content-Disposition"].split('"')[1]
            assert check_fec(fec.body.decode(), name) == []
            assert number in fec.body.decode()


def test_a_partly_shrunk_settlement_is_credited_in_part_and_regrowth_invoiced_again(
    ctx: Context,
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],
) -> None:
    # GIVEN two days used at the host (3 and 10 December), settled early on one invoice
    relays = api.get("/v1/relays", token=admin).json["items"]
    (nangis,) = [r for r in relays if r["operator_id"] == used_elsewhere["host"]]
    pool = api.get(f"/v1/relays/{nangis['id']}").json["resources"][0]["id"]
    tenth = booked(api, member, pool, date="2026-12-10", payment="credits")
    early = settle_operators(ctx, as_of=datetime(2027, 1, 1, 4, tzinfo=PARIS))
    assert len(early["invoices"]) == 1

    # WHEN the 10th is cancelled in time, the month settled again; then another day is
    # used (the 17th) and it is settled again
    assert api.post(f"/v1/bookings/{tenth['id']}/cancel", token=member).status == 200
    shrunk = settle_operators(ctx, as_of=datetime(2027, 1, 1, 4, tzinfo=PARIS))
    booked(api, member, pool, date="2026-12-17", payment="credits")
    grown = settle_operators(ctx, as_of=datetime(2027, 1, 1, 4, tzinfo=PARIS))

    # THEN one credit note of one day, then one more invoice of one day: two days settled
    host = used_elsewhere["host"]
    documents = {
        d["number"]: d
        for d in api.get(f"/v1/invoices?operator_id={host}", token=accountant).json["items"]
    }
    (note,) = [documents[n] for n in shrunk["credit_notes"]]
    (again,) = [documents[n] for n in grown["invoices"]]
    assert (note["totals"]["incl_vat"], note["credited_bookings"]) == (-1200, 1)
    assert note["lines"][0]["description"].startswith("Avoir partiel — ")  # no refund
    assert (again["totals"]["incl_vat"], again["settled_bookings"]) == (1200, 1)
    assert sum(d["totals"]["incl_vat"] for d in documents.values()) == 2 * 1200
    assert settle_operators(ctx, as_of=datetime(2027, 1, 1, 4, tzinfo=PARIS))["processed"] == 0


def _balances(lines: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in lines:
        found[line.account] = found.get(line.account, 0) + line.debit - line.credit
    return found


def test_the_job_is_scheduled_and_runs_by_hand(api: Api, admin: str) -> None:
    answer = api.post(
        "/v1/admin/jobs/settle_operators", {"as_of": "2027-01-01T03:00:00Z"}, token=admin
    )
    assert (answer.status, answer.json["month"]) == (200, "2026-12")


def test_company_bookings_at_another_operators_relay_are_settled_with_its_host(
    ctx: Context, api: Api, admin: str, accountant: str, clock: FixedClock, network: dict
) -> None:
    # GIVEN a company invoiced by the network's operator, and another operator's relay
    other, away = another_operators_pool(api, admin)
    company = api.post("/v1/companies", company_body(network["operator"]), token=admin).json
    added = api.post(
        f"/v1/companies/{company['id']}/members", {"member_id": "emp-alice"}, token=admin
    )
    assert added.status == 201, added.json
    alice = api.token("emp-alice", name="Alice Martin")
    # WHEN an employee books a day at the other relay, a half day at home, and a day at the
    # other relay she cancels in time
    used = booked(api, alice, away["id"], date="2026-12-03", payment="company")
    booked(api, alice, network["pool"], date="2026-12-04", unit="half_day_am", payment="company")
    gone = booked(api, alice, away["id"], date="2026-12-10", payment="company")
    assert api.post(f"/v1/bookings/{gone['id']}/cancel", {}, token=alice).status == 200
    # THEN the company's operator, which invoices the company, owes the host that day
    report = api.get("/v1/accounting/clearing?month=2026-12", token=accountant).json
    owed = used["price"]["amount"]
    assert report["flows"] == [
        {
            "seller_operator_id": network["operator"],
            "host_operator_id": other["id"],
            "amount": owed,
            "currency": "EUR",
            "bookings": 1,
        }
    ]
    # AND the host invoices it at the start of the next month, as for credits
    clock.moment = clock.moment.replace(year=2027, month=1, day=1, hour=4)
    (number,) = settle_operators(ctx)["invoices"]
    items = api.get(f"/v1/invoices?operator_id={other['id']}", token=accountant).json["items"]
    (invoice,) = [d for d in items if d["number"] == number]
    assert invoice["totals"]["incl_vat"] == owed
