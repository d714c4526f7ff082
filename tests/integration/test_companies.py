"""Company accounts through the API (moto, fake Stripe): employees book with
`payment: "company"`, `invoice_companies` issues one B2B invoice per company and month,
accountants record the transfer that pays it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app import app
from chalicelib.adapters.booking_store import BookingStore
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.company_store import CompanyStore
from chalicelib.api import companies as companies_api
from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.identifiers import fr_vat_number
from chalicelib.jobs import JOBS
from chalicelib.jobs import run_job as run_scheduled
from chalicelib.services import bookings as bookings_service
from chalicelib.services import (
    companies,
    company_invoicing,
    company_payments,
    invoicing,
    periods,
)
from chalicelib.services.context import Context
from tests.support.api import (
    Answer,
    Api,
    assert_problem,
    book,
    booked,
    operator_body,
    relay_body,
    resource_body,
)
from tests.support.fec_checker import check_fec

PARIS = ZoneInfo("Europe/Paris")
COMPANY_SIREN = "552100554"  # Luhn-valid
NEW_YEAR = datetime(2027, 1, 1, 3, 0, tzinfo=PARIS)  # after the cron of 1 Jan (02:00 UTC)


# -- wiring, until app.py, jobs/__init__.py and services/bookings.py carry the hooks ----------


def _register_blueprint() -> None:
    # At import (collection) time, so the app and the route table (OpenAPI) always agree.
    if "/v1/companies" not in app.routes:
        app.register_blueprint(companies_api.bp)


_register_blueprint()


@pytest.fixture(autouse=True)
def company_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apply the booking hooks the way services/bookings.py is to carry them, unless it
    already does (it then imports `companies`)."""
    if "invoice_companies" not in JOBS:
        monkeypatch.setitem(JOBS, "invoice_companies", companies.invoice_companies)
    if hasattr(bookings_service, "companies"):
        return

    check = bookings_service._check_payment_method
    new_booking = bookings_service._new_booking
    create = BookingStore.create
    release = BookingStore.release

    def check_payment_method(principal: Any, request: Any, plan: Any) -> None:
        if request.payment != "company":  # hook: the Forbidden branch is removed
            check(principal, request, plan)

    def _new_booking(ctx: Context, principal: Any, request: Any, *args: Any) -> Booking:
        booking = new_booking(ctx, principal, request, *args)
        if request.payment == "company":  # hook: company_id=... in Booking(...)
            company = companies.company_for_booking(ctx, principal)
            booking = booking.model_copy(update={"company_id": company.id})
        return booking

    def create_with_index(
        self: BookingStore, booking: Booking, capacity: int, now: datetime, extra: Any = None
    ) -> None:
        items = [*(extra or []), *CompanyStore(self._table).company_booking_items(booking)]
        create(self, booking, capacity, now, extra=items)

    def release_with_index(
        self: BookingStore, booking: Booking, to: BookingStatus, now: datetime, **kw: Any
    ) -> Booking:
        extra = [*(kw.pop("extra", None) or [])]
        extra += CompanyStore(self._table).company_release_items(booking, to)
        return release(self, booking, to, now, extra=extra, **kw)

    monkeypatch.setattr(bookings_service, "_check_payment_method", check_payment_method)
    monkeypatch.setattr(bookings_service, "_new_booking", _new_booking)
    monkeypatch.setattr(BookingStore, "create", create_with_index)
    monkeypatch.setattr(BookingStore, "release", release_with_index)


# -- helpers ------------------------------------------------------------------------------


def company_body(operator_id: str, **overrides: Any) -> dict[str, Any]:
    siren = overrides.get("siren", COMPANY_SIREN)
    return {
        "name": "Atelier Brie SAS",
        "siren": siren,
        "vat_number": fr_vat_number(siren),  # an FR VAT number is its SIREN's
        "billing_address": {
            "line1": "12 rue de la Gare",
            "postcode": "77300",
            "city": "Fontainebleau",
            "country": "FR",
        },
        "billing_email": "compta@atelier-brie.fr",
        "operator_id": operator_id,
        **overrides,
    }


def run_job(api: Api, admin: str, as_of: str | None = None) -> dict[str, Any]:
    body = {"as_of": as_of} if as_of else {}
    answer = api.post("/v1/admin/jobs/invoice_companies", body, token=admin)
    assert answer.status == 200, answer.json
    return dict(answer.json)


def statement(api: Api, token: str, company_id: str, month: str) -> Answer:
    return api.get(f"/v1/companies/{company_id}/statement?month={month}", token=token)


@pytest.fixture
def company(api: Api, admin: str, network: dict[str, str]) -> dict[str, Any]:
    answer = api.post("/v1/companies", company_body(network["operator"]), token=admin)
    assert answer.status == 201, answer.json
    return dict(answer.json)


@pytest.fixture
def alice(api: Api, admin: str, company: dict[str, Any]) -> str:
    added = api.post(
        f"/v1/companies/{company['id']}/members", {"member_id": "emp-alice"}, token=admin
    )
    assert added.status == 201, added.json
    return api.token("emp-alice", name="Alice Martin")


@pytest.fixture
def bob(api: Api, admin: str, company: dict[str, Any]) -> str:
    added = api.post(
        f"/v1/companies/{company['id']}/members", {"member_id": "emp-bob"}, token=admin
    )
    assert added.status == 201, added.json
    return api.token("emp-bob", name="Bob Durand")


@pytest.fixture
def december(api: Api, alice: str, bob: str, network: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Alice: a hot-desk day on 2 Dec; Bob: the meeting room 10:00–12:00 on 3 Dec."""
    desk = booked(api, alice, network["pool"], date="2026-12-02", payment="company")
    room = booked(
        api,
        bob,
        network["room"],
        date="2026-12-03",
        unit="hour",
        start="10:00",
        end="12:00",
        payment="company",
    )
    return {"desk": desk, "room": room}


@pytest.fixture
def invoiced(
    api: Api,
    admin: str,
    clock: FixedClock,
    company: dict[str, Any],
    december: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The December invoice, issued by the run of 1 January 2027."""
    clock.moment = NEW_YEAR
    result = run_job(api, admin)
    assert result["processed"] == 1, result
    document = statement(api, admin, company["id"], "2026-12").json["invoice"]
    assert document is not None
    return dict(document)


# -- accounts -------------------------------------------------------------------------------


def test_admin_creates_a_company_account(
    api: Api, admin: str, network: dict[str, str], company: dict[str, Any]
) -> None:
    assert company["id"].startswith("cmp_")
    assert company["siren"] == COMPANY_SIREN
    assert company["operator_id"] == network["operator"]
    assert company["billing_address"]["city"] == "Fontainebleau"
    read = api.get(f"/v1/companies/{company['id']}", token=admin)
    assert read.status == 200 and read.json["members"] == []


def test_company_creation_is_checked(
    api: Api, admin: str, member: str, network: dict[str, str], company: dict[str, Any]
) -> None:
    body = company_body(network["operator"])
    assert_problem(api.post("/v1/companies", body, token=member), 403, "forbidden")
    assert_problem(
        api.post("/v1/companies", {**body, "siren": "552100555"}, token=admin),
        422,
        "validation_error",
    )
    assert_problem(
        api.post("/v1/companies", {**body, "operator_id": "op_nope"}, token=admin),
        404,
        "not_found",
    )
    # One account per SIREN and invoicing operator.
    assert_problem(api.post("/v1/companies", body, token=admin), 409, "already_exists")


def test_a_member_belongs_to_one_company_at_most(
    api: Api, admin: str, network: dict[str, str], company: dict[str, Any], alice: str
) -> None:
    again = api.post(
        f"/v1/companies/{company['id']}/members", {"member_id": "emp-alice"}, token=admin
    )
    assert again.status == 201  # the same company again: nothing changes
    other = api.post(
        "/v1/companies", company_body(network["operator"], siren="732829320"), token=admin
    ).json
    assert_problem(
        api.post(f"/v1/companies/{other['id']}/members", {"member_id": "emp-alice"}, token=admin),
        409,
        "already_exists",
    )
    assert_problem(
        api.post("/v1/companies/cmp_nope/members", {"member_id": "x"}, token=admin),
        404,
        "not_found",
    )
    members = api.get(f"/v1/companies/{company['id']}", token=admin).json["members"]
    assert [m["member_id"] for m in members] == ["emp-alice"]


# -- booking ------------------------------------------------------------------------------


def test_company_booking_is_confirmed_at_once(
    api: Api, alice: str, company: dict[str, Any], network: dict[str, str]
) -> None:
    answer = book(api, alice, network["pool"], payment="company")
    assert answer.status == 201, answer.json
    assert answer.json["payment"] is None
    booking = answer.json["booking"]
    assert booking["status"] == "confirmed"
    assert booking["payment_method"] == "company"
    assert booking["company_id"] == company["id"]
    assert booking["price"]["amount"] == 1500


def test_member_outside_any_company_cannot_book_with_company(
    api: Api, member: str, network: dict[str, str], company: dict[str, Any]
) -> None:
    assert_problem(book(api, member, network["pool"], payment="company"), 403, "forbidden")


# -- the monthly invoice ------------------------------------------------------------------


def test_company_month_two_employees_one_invoice(
    api: Api,
    admin: str,
    company: dict[str, Any],
    network: dict[str, str],
    december: dict[str, dict[str, Any]],
    invoiced: dict[str, Any],
) -> None:
    invoice = invoiced
    assert invoice["type"] == "invoice"
    assert invoice["number"] == "RL-2027-000001"
    assert invoice["issued_at"].startswith("2027-01-01")
    assert invoice["company_id"] == company["id"]
    assert invoice["member_id"] is None
    assert invoice["billing_month"] == "2026-12"

    # One line per booking, in date order, each matching its booking.
    desk, room = december["desk"], december["room"]
    assert [line["booking_id"] for line in invoice["lines"]] == [desk["id"], room["id"]]
    for line, booking in zip(invoice["lines"], (desk, room), strict=True):
        assert line["service_date"] == booking["date"]
        assert line["amount_incl_vat"] == booking["price"]["amount"]
        assert line["amount_excl_vat"] == booking["price"]["amount_excl_vat"]
        assert line["vat_amount"] == booking["price"]["vat_amount"]
        assert line["vat_rate"] == booking["price"]["vat_rate"]
        assert "Gare de Melun" in line["description"]
    assert "02/12/2026" in invoice["lines"][0]["description"]
    assert "Open space" in invoice["lines"][0]["description"]
    assert "Alice Martin" in invoice["lines"][0]["description"]
    assert "Salle Seine" in invoice["lines"][1]["description"]
    assert "10:00–12:00" in invoice["lines"][1]["description"]
    assert "Bob Durand" in invoice["lines"][1]["description"]
    assert invoice["totals"] == {"excl_vat": 1250 + 3333, "vat": 250 + 667, "incl_vat": 5500}
    assert invoice["vat_breakdown"] == [{"rate": "20.00", "base": 4583, "vat": 917}]

    # The buyer is the company, frozen; the B2B mentions are there.
    buyer = invoice["buyer"]
    assert buyer["company_name"] == "Atelier Brie SAS"
    assert buyer["siren"] == COMPANY_SIREN
    assert buyer["vat_number"] == "FR96552100554"
    assert buyer["address"]["city"] == "Fontainebleau"
    assert buyer["email"] == "compta@atelier-brie.fr"
    mentions = " | ".join(invoice["legal_mentions"])
    assert "prestations de services" in mentions
    assert "Pénalités de retard" in mentions
    assert "40 €" in mentions
    assert "au plus tard le 31/01/2027" in mentions
    assert invoice["payment"] == {
        "status": "due",
        "method": "transfer",
        "paid_at": None,
        "provider_ref": None,
        "due_date": "2027-01-31",
    }

    # Each booking now points at its invoice.
    got = api.get(f"/v1/bookings/{desk['id']}", token=admin).json
    assert got["invoice_id"] == invoice["id"]

    # The document is chained like any other, and renders as Factur-X.
    integrity = api.get(f"/v1/accounting/integrity?operator_id={network['operator']}", token=admin)
    assert integrity.json == {"ok": True, "documents_checked": 1, "first_broken_number": None}
    pdf = api.get(
        f"/v1/invoices/{invoice['id']}/pdf", token=admin, headers={"Accept": "application/pdf"}
    )
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")


def test_running_the_job_twice_issues_one_invoice(
    api: Api, admin: str, network: dict[str, str], invoiced: dict[str, Any]
) -> None:
    again = run_job(api, admin)
    assert again["processed"] == 0
    assert again["already_invoiced"] == 1
    assert again["month"] == "2026-12"
    listed = api.get(f"/v1/invoices?operator_id={network['operator']}", token=admin).json
    assert [d["id"] for d in listed["items"]] == [invoiced["id"]]


def test_a_run_out_of_time_defers_the_companies_to_the_next_run(
    api: Api,
    admin: str,
    ctx: Context,
    clock: FixedClock,
    company: dict[str, Any],
    december: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a month to invoice, and a scheduled run left with less than its margin
    clock.moment = NEW_YEAR
    monkeypatch.setattr(company_invoicing, "RUN_SECONDS", -1.0)
    late = run_scheduled(ctx, "invoice_companies", time_left=3.0)
    # THEN it starts nothing and says so; the next run, with its 15 minutes, invoices it
    assert (late["processed"], late["deferred"]) == (0, 1)
    assert statement(api, admin, company["id"], "2026-12").json["invoice"] is None
    done = run_scheduled(ctx, "invoice_companies", time_left=840.0)
    assert (done["processed"], done["deferred"]) == (1, 0)
    assert statement(api, admin, company["id"], "2026-12").json["invoice"] is not None


def test_cancelled_booking_is_not_invoiced(
    api: Api,
    admin: str,
    alice: str,
    clock: FixedClock,
    company: dict[str, Any],
    network: dict[str, str],
) -> None:
    kept = booked(api, alice, network["pool"], date="2026-12-07", payment="company")
    dropped = booked(api, alice, network["pool"], date="2026-12-08", payment="company")
    cancelled = api.post(f"/v1/bookings/{dropped['id']}/cancel", token=alice)
    assert cancelled.status == 200, cancelled.json
    assert cancelled.json["refund"] is None and cancelled.json["credit_note_id"] is None
    listed = statement(api, admin, company["id"], "2026-12").json["bookings"]
    assert [b["id"] for b in listed] == [kept["id"]]

    clock.moment = NEW_YEAR
    assert run_job(api, admin)["processed"] == 1
    invoice = statement(api, admin, company["id"], "2026-12").json["invoice"]
    assert [line["booking_id"] for line in invoice["lines"]] == [kept["id"]]
    assert invoice["totals"]["incl_vat"] == 1500


def test_a_month_of_hours_states_the_vat_of_what_was_sold_spread_over_its_lines(
    api: Api,
    admin: str,
    alice: str,
    clock: FixedClock,
    company: dict[str, Any],
    network: dict[str, str],
) -> None:
    # GIVEN three hot-desk hours at 4,00 € (0,6667 € of VAT in each)
    for start, end in (("09:00", "10:00"), ("10:00", "11:00"), ("11:00", "12:00")):
        booked(
            api,
            alice,
            network["pool"],
            date="2026-12-02",
            unit="hour",
            start=start,
            end=end,
            payment="company",
        )

    # WHEN the month is invoiced
    clock.moment = NEW_YEAR
    assert run_job(api, admin)["processed"] == 1
    invoice = statement(api, admin, company["id"], "2026-12").json["invoice"]

    # THEN the rate's VAT is that of the 12,00 € sold, 2,00 € (not 3 x 0,67 €: drifting by
    # a third of a cent an hour, a long month breaks EN 16931 BR-CO-17), spread over the
    # lines, each of which still adds up
    assert invoice["vat_breakdown"] == [{"rate": "20.00", "base": 1000, "vat": 200}]
    assert invoice["totals"] == {"excl_vat": 1000, "vat": 200, "incl_vat": 1200}
    assert [(ln["amount_excl_vat"], ln["vat_amount"]) for ln in invoice["lines"]] == [
        (333, 67),
        (333, 67),
        (334, 66),
    ]


def test_a_booking_at_a_relay_under_the_franchise_is_sold_at_the_company_operators_vat(
    api: Api,
    admin: str,
    alice: str,
    clock: FixedClock,
    company: dict[str, Any],
    network: dict[str, str],
) -> None:
    # GIVEN a relay of another operator, under the VAT franchise (its own sales: no VAT)
    host = api.post(
        "/v1/operators",
        operator_body(siren="404833048", invoice_prefix="AG", vat_regime="franchise"),
        token=admin,
    ).json
    relay = api.post("/v1/relays", relay_body(host["id"], name="Nangis"), token=admin).json
    pool = api.post(f"/v1/relays/{relay['id']}/resources", resource_body(), token=admin).json
    # WHEN an employee books a day there, paid by the company
    made = booked(api, alice, pool["id"], date="2026-12-02", payment="company")
    # THEN the company's operator (VAT regime normal) sells it, with its VAT: 20 %
    price = made["price"]
    assert (price["amount"], price["amount_excl_vat"], price["vat_rate"]) == (1500, 1250, "20.00")
    clock.moment = NEW_YEAR
    assert run_job(api, admin)["processed"] == 1
    invoice = statement(api, admin, company["id"], "2026-12").json["invoice"]
    assert invoice["operator_id"] == network["operator"]
    assert invoice["totals"] == {"excl_vat": 1250, "vat": 250, "incl_vat": 1500}
    assert invoice["vat_breakdown"] == [{"rate": "20.00", "base": 1250, "vat": 250}]


def two_rates_invoiced_early(
    api: Api, admin: str, alice: str, bob: str, network: dict[str, str], company_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """December invoiced early (a run by hand with a future `as_of`) with two rates:
    Alice's desk day (15.00 at 20 %), Bob's office day (44.00 at 10 %). Answers (the
    invoice, the desk booking), the desk still cancellable in time."""
    office = api.post(
        f"/v1/relays/{network['relay']}/resources",
        resource_body(
            name="Bureau 10", kind="office", capacity=1, rates={"day": 4400}, vat_rate="10.00"
        ),
        token=admin,
    ).json
    desk = booked(api, alice, network["pool"], date="2026-12-03", payment="company")
    booked(api, bob, office["id"], date="2026-12-04", payment="company")
    assert run_job(api, admin, as_of="2027-01-01T03:00:00+01:00")["processed"] == 1
    invoice = statement(api, admin, company_id, "2026-12").json["invoice"]
    assert invoice["vat_breakdown"] == [
        {"rate": "20.00", "base": 1250, "vat": 250},
        {"rate": "10.00", "base": 4000, "vat": 400},
    ]
    return dict(invoice), desk


def test_a_transfer_paying_what_a_credit_note_left_carries_the_vat_of_the_lines_left(
    api: Api,
    admin: str,
    accountant: str,
    alice: str,
    bob: str,
    company: dict[str, Any],
    network: dict[str, str],
) -> None:
    # GIVEN the desk's line credited (cancelled in time) on a two-rate invoice
    invoice, desk = two_rates_invoiced_early(api, admin, alice, bob, network, company["id"])
    assert api.post(f"/v1/bookings/{desk['id']}/cancel", token=alice).json["credit_note_id"]
    # WHEN the company pays the 44.00 left
    body = {"amount": 4400, "method": "transfer", "paid_at": "2026-12-01", "reference": "VIR-1"}
    paid = pay(api, accountant, invoice["id"], **body)
    assert paid.status == 201 and paid.json["invoice"]["status"] == "paid", paid.json
    # THEN it paid the office: the month's VAT is 4.00 at 10 %, none at 20 %
    vat = api.get(
        f"/v1/accounting/vat?operator_id={network['operator']}&month=2026-12", token=accountant
    ).json
    assert [(ln["rate"], ln["base"], ln["vat"]) for ln in vat["lines"]] == [("10.00", 4000, 400)]
    assert vat["total_vat"] == 400


def test_payments_before_and_after_a_credit_note_add_up_to_what_was_due_per_rate(
    api: Api,
    admin: str,
    accountant: str,
    alice: str,
    bob: str,
    company: dict[str, Any],
    ctx: Context,
    network: dict[str, str],
) -> None:
    invoice, desk = two_rates_invoiced_early(api, admin, alice, bob, network, company["id"])
    # a first payment, pro rata of both rates; then the desk credited; then the rest
    first = {"amount": 2000, "method": "transfer", "paid_at": "2026-12-01", "reference": "V1"}
    assert pay(api, accountant, invoice["id"], **first).status == 201
    assert api.post(f"/v1/bookings/{desk['id']}/cancel", token=alice).json["credit_note_id"]
    rest = {"amount": 2400, "method": "transfer", "paid_at": "2026-12-01", "reference": "V2"}
    assert pay(api, accountant, invoice["id"], **rest).json["invoice"]["status"] == "paid"
    sums: dict[str, list[int]] = {}
    for payment in ctx.companies.payments_of(invoice["id"]):
        for share in payment["vat"]:
            pair = sums.setdefault(share["rate"], [0, 0])
            pair[0] += share["base"]
            pair[1] += share["vat"]
    assert {rate: pair for rate, pair in sums.items() if pair != [0, 0]} == {"10.00": [4000, 400]}


def test_a_month_without_company_bookings_gets_no_invoice(
    api: Api,
    admin: str,
    clock: FixedClock,
    company: dict[str, Any],
    december: dict[str, dict[str, Any]],
) -> None:
    # As of 1 December, the billed month is November: nothing was booked then.
    result = run_job(api, admin, as_of="2026-12-01T03:00:00+01:00")
    assert result["processed"] == 0 and result["month"] == "2026-11"
    assert statement(api, admin, company["id"], "2026-11").json["invoice"] is None


def test_catch_up_run_bills_the_month_before_as_of(
    api: Api,
    admin: str,
    clock: FixedClock,
    company: dict[str, Any],
    december: dict[str, dict[str, Any]],
) -> None:
    clock.moment = datetime(2027, 3, 10, 9, 0, tzinfo=PARIS)  # the January run was missed
    result = run_job(api, admin, as_of="2027-01-01T02:00:00+00:00")
    assert result["processed"] == 1 and result["month"] == "2026-12"
    invoice = statement(api, admin, company["id"], "2026-12").json["invoice"]
    assert invoice["issued_at"].startswith("2027-03-10")  # numbered today, never backdated
    assert invoice["payment"]["due_date"] == "2027-04-09"  # 30 days to pay a late invoice
    assert run_job(api, admin, as_of="2027-01-01T02:00:00+00:00")["processed"] == 0


def test_statement_shows_bookings_then_the_invoice(
    api: Api,
    admin: str,
    accountant: str,
    alice: str,
    clock: FixedClock,
    company: dict[str, Any],
    december: dict[str, dict[str, Any]],
) -> None:
    before = statement(api, accountant, company["id"], "2026-12")
    assert before.status == 200, before.json
    assert before.json["company_id"] == company["id"]
    assert before.json["month"] == "2026-12"
    assert [b["id"] for b in before.json["bookings"]] == [
        december["desk"]["id"],
        december["room"]["id"],
    ]
    assert before.json["invoice"] is None

    clock.moment = NEW_YEAR
    run_job(api, admin)
    after = statement(api, accountant, company["id"], "2026-12").json
    assert after["invoice"]["number"] == "RL-2027-000001"
    assert after["invoice_payment"]["status"] == "due"
    assert after["invoice_payment"]["amount_remaining"] == 5500
    assert all(b["invoice_id"] == after["invoice"]["id"] for b in after["bookings"])
    assert statement(api, accountant, company["id"], "2027-01").json["bookings"] == []


def test_statement_access_and_validation(
    api: Api, admin: str, alice: str, company: dict[str, Any]
) -> None:
    assert_problem(statement(api, alice, company["id"], "2026-12"), 403, "forbidden")
    assert_problem(statement(api, admin, "cmp_nope", "2026-12"), 404, "not_found")
    assert_problem(statement(api, admin, company["id"], "2026-13"), 422, "validation_error")
    assert_problem(
        api.get(f"/v1/companies/{company['id']}/statement", token=admin), 422, "validation_error"
    )


# -- payments -------------------------------------------------------------------------------


def pay(api: Api, token: str, invoice_id: str, **fields: Any) -> Answer:
    body = {"amount": 5500, "method": "transfer", "paid_at": "2027-01-15", "reference": "VIR-1"}
    return api.post(f"/v1/invoices/{invoice_id}/payments", {**body, **fields}, token=token)


def test_recorded_transfer_pays_the_invoice_and_books_the_bank(
    api: Api,
    accountant: str,
    clock: FixedClock,
    ctx: Context,
    network: dict[str, str],
    invoiced: dict[str, Any],
) -> None:
    clock.moment = datetime(2027, 1, 20, 10, 0, tzinfo=PARIS)
    operator = network["operator"]
    unpaid = company_payments.unpaid_company_invoices(ctx, operator)
    assert [u["invoice_id"] for u in unpaid] == [invoiced["id"]]
    assert not company_payments.company_invoice_paid(ctx, invoiced["id"])

    answer = pay(api, accountant, invoiced["id"])
    assert answer.status == 201, answer.json
    payment = answer.json["payment"]
    assert payment["amount"] == 5500 and payment["method"] == "transfer"
    assert payment["paid_on"] == "2027-01-15" and payment["reference"] == "VIR-1"
    assert answer.json["invoice"]["status"] == "paid"
    assert answer.json["invoice"]["amount_remaining"] == 0
    assert company_payments.company_invoice_paid(ctx, invoiced["id"])
    assert company_payments.unpaid_company_invoices(ctx, operator) == []

    # The invoice itself never changes.
    assert api.get(f"/v1/invoices/{invoiced['id']}", token=accountant).json == invoiced

    # Same reference, same figures: the same payment; other figures: refused.
    replay = pay(api, accountant, invoiced["id"])
    assert replay.status == 201 and replay.json["payment"]["id"] == payment["id"]
    assert_problem(pay(api, accountant, invoiced["id"], amount=100), 409, "already_exists")
    assert_problem(pay(api, accountant, invoiced["id"], reference="VIR-2"), 409, "invalid_state")

    # Bank journal: D 512 / C 411 on the company's account; the FEC stays valid.
    fec = api.get(f"/v1/accounting/fec?operator_id={operator}&year=2027", token=accountant)
    assert fec.status == 200, fec.body[:300]
    filename = fec.headers["Content-Disposition"].split('filename="')[1].rstrip('"')
    text = fec.body.decode()
    assert check_fec(text, filename) == []
    rows = [row.split("|") for row in text.splitlines()[1:]]
    bank = [r for r in rows if r[0] == "BQ"]
    assert sorted((r[4], r[11], r[12]) for r in bank) == [
        ("411000", "0,00", "55,00"),
        ("512000", "55,00", "0,00"),
    ]
    assert all(r[3] == "20270115" for r in bank)
    assert next(r for r in bank if r[4] == "411000")[6] == invoiced["company_id"]
    balance: dict[str, int] = defaultdict(int)
    for r in rows:
        balance[r[4]] += int(r[11].replace(",", "")) - int(r[12].replace(",", ""))
    assert balance["411000"] == 0
    assert balance["512000"] == 5500

    # The VAT of the invoice is received with the payment.
    assert company_payments.vat_received(ctx, operator, 2027, 1) == invoiced["vat_breakdown"]


def test_partial_payments_add_up(
    api: Api, accountant: str, clock: FixedClock, ctx: Context, invoiced: dict[str, Any]
) -> None:
    clock.moment = datetime(2027, 2, 10, 10, 0, tzinfo=PARIS)
    first = pay(api, accountant, invoiced["id"], amount=2000, method="sepa_debit", reference="A")
    assert first.status == 201, first.json
    assert first.json["invoice"]["status"] == "partially_paid"
    assert not company_payments.company_invoice_paid(ctx, invoiced["id"])
    report = api.get(
        f"/v1/accounting/reconciliation?operator_id={invoiced['operator_id']}"
        "&from=2027-01-01&to=2027-02-28",
        token=accountant,
    ).json
    (unpaid,) = [u for u in report["unpaid_invoices"] if u["id"] == invoiced["id"]]
    assert (unpaid["amount"], unpaid["amount_remaining"], unpaid["payment_status"]) == (
        5500,
        3500,
        "partially_paid",
    )
    assert_problem(
        pay(api, accountant, invoiced["id"], amount=4000, reference="B"), 422, "validation_error"
    )
    second = pay(api, accountant, invoiced["id"], amount=3500, reference="B", paid_at="2027-02-03")
    assert second.json["invoice"]["status"] == "paid"
    # VAT is received with each payment, in its month; together, the invoice's VAT.
    january = company_payments.vat_received(ctx, invoiced["operator_id"], 2027, 1)
    february = company_payments.vat_received(ctx, invoiced["operator_id"], 2027, 2)
    assert january == [{"rate": "20.00", "base": 1667, "vat": 333}]
    assert february == [{"rate": "20.00", "base": 4583 - 1667, "vat": 917 - 333}]


def test_payment_recording_is_checked(
    api: Api,
    accountant: str,
    admin: str,
    alice: str,
    clock: FixedClock,
    invoiced: dict[str, Any],
) -> None:
    clock.moment = datetime(2027, 1, 20, 10, 0, tzinfo=PARIS)
    assert_problem(pay(api, alice, invoiced["id"]), 403, "forbidden")
    assert_problem(pay(api, accountant, "inv-nope-2027-000001"), 404, "not_found")
    assert_problem(pay(api, accountant, "nope"), 404, "not_found")
    assert_problem(pay(api, accountant, invoiced["id"], amount=0), 422, "validation_error")
    assert_problem(pay(api, accountant, invoiced["id"], method="card"), 422, "validation_error")
    assert_problem(
        pay(api, accountant, invoiced["id"], paid_at="2027-01-21"), 422, "validation_error"
    )
    assert_problem(
        pay(api, accountant, invoiced["id"], paid_at="2026-12-30"), 422, "validation_error"
    )
    assert_problem(pay(api, accountant, invoiced["id"], amount=5501), 422, "validation_error")
    for overflowing in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-05:00"):
        answer = pay(api, accountant, invoiced["id"], paid_at=overflowing)  # in Paris: no day
        assert_problem(answer, 422, "validation_error")
    with_time = pay(api, admin, invoiced["id"], paid_at="2027-01-19T23:30:00+00:00")
    assert with_time.status == 201, with_time.json
    assert with_time.json["payment"]["paid_on"] == "2027-01-20"  # Paris date


def credit_note_before_the_write(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, invoice_id: str, booking_id: str
) -> None:
    """The credit note of `booking_id`'s line (a booking cancelled in time), issued and
    applied between the payment's read of the state and its write (`periods.open_from`
    runs between the two), once."""
    real_open_from = periods.open_from
    applied: list[bool] = []

    def credited_meanwhile(context: Context, operator_id: str) -> str:
        if not applied:
            applied.append(True)
            invoice = invoicing.get_document(ctx, invoice_id)
            assert company_invoicing._credit_line(ctx, invoice, booking_id) is not None
        return real_open_from(context, operator_id)

    monkeypatch.setattr(periods, "open_from", credited_meanwhile)


def test_a_payment_a_credit_note_overtook_is_read_again_and_pays_the_invoice(
    api: Api,
    accountant: str,
    clock: FixedClock,
    ctx: Context,
    invoiced: dict[str, Any],
    december: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.moment = datetime(2027, 1, 20, 10, 0, tzinfo=PARIS)
    # GIVEN the room's credit note lowering the 55.00 due to the desk's 15.00 while a
    # 15.00 payment is recorded
    credit_note_before_the_write(ctx, monkeypatch, invoiced["id"], december["room"]["id"])
    # WHEN the payment lands
    answer = pay(api, accountant, invoiced["id"], amount=1500)
    # THEN it was refused on the moved amount due and read again: the invoice is paid,
    # and the payment's VAT is that of the desk's line alone (20 %)
    assert answer.status == 201, answer.json
    assert (answer.json["invoice"]["status"], answer.json["invoice"]["amount_due"]) == (
        "paid",
        1500,
    )
    (recorded,) = ctx.companies.payments_of(invoiced["id"])
    assert recorded["vat"] == [{"rate": "20.00", "base": 1250, "vat": 250}]
    assert company_payments.unpaid_company_invoices(ctx, invoiced["operator_id"]) == []


def test_a_payment_above_what_a_credit_note_left_due_is_refused(
    api: Api,
    accountant: str,
    clock: FixedClock,
    ctx: Context,
    invoiced: dict[str, Any],
    december: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.moment = datetime(2027, 1, 20, 10, 0, tzinfo=PARIS)
    # GIVEN the room's credit note lowering the 55.00 due to 15.00 while 55.00 is recorded
    credit_note_before_the_write(ctx, monkeypatch, invoiced["id"], december["room"]["id"])
    # WHEN the payment lands
    answer = pay(api, accountant, invoiced["id"], amount=5500)
    # THEN it is checked against what remains now: 422, nothing recorded
    assert_problem(answer, 422, "validation_error")
    state = company_payments.invoice_payment_state(ctx, invoiced["id"])
    assert state is not None and (state["amount_paid"], state["status"]) == (0, "due")


def test_card_invoices_take_no_recorded_payment(
    api: Api,
    accountant: str,
    ctx: Context,
    member: str,
    network: dict[str, str],
    stripe_fake: Any,
    settings: Any,
) -> None:
    from tests.integration.test_invoicing_flow import paid_booking

    booking = paid_booking(api, member, network, stripe_fake, settings)
    assert company_payments.company_invoice_paid(ctx, booking["invoice_id"])
    assert_problem(pay(api, accountant, booking["invoice_id"]), 409, "invalid_state")


def test_index_follows_the_booking_transaction(
    api: Api, alice: str, ctx: Context, company: dict[str, Any], network: dict[str, str]
) -> None:
    """The company-month index is written with the booking and removed with its
    cancellation, in the same transactions."""
    desk = booked(api, alice, network["pool"], date="2026-12-02", payment="company")
    store = CompanyStore(ctx.table)
    assert store.booking_ids(company["id"], 2026, 12) == [desk["id"]]
    api.post(f"/v1/bookings/{desk['id']}/cancel", token=alice)
    assert store.booking_ids(company["id"], 2026, 12) == []
    card = book(api, alice, network["pool"], date="2026-12-04", payment="card")
    assert card.status == 201
    assert store.booking_ids(company["id"], 2026, 12) == []
