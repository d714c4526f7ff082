"""Every way a booking is paid × every moment it is cancelled × who cancels, over HTTP on
DynamoDB Local and localstripe: booking status, money, documents, ledger/FEC, clearing and
the month's VAT report, each compared with the policy the README states.

The policy, as `expected()` encodes it:
- held (card only): cancelled, the PaymentIntent cancelled, nothing else;
- in time (≥ CANCEL_FREE_HOURS before the start), on a closure, by erasure (in time):
  card refunded in full at Stripe with a credit note referring to the invoice; credits
  or the membership day given back; a company booking not billed, or, if its month was
  already invoiced, a credit note to the company referring to that invoice;
- late: nothing given back — the card invoice stands, credits and the membership day are
  used, the company is billed for the day.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.domain.booking import BookingStatus
from chalicelib.domain.invoice import B2B_MENTIONS
from chalicelib.services import companies, company_payments
from chalicelib.services.context import Context
from tests.conftest import make_settings
from tests.integration.ddblocal.cancellation_stack import (
    DAY,
    DAY_START,
    PARIS_NOW,
    PRICE,
    Http,
    Stack,
    build_table,
    luhn_siren,
    serve,
)
from tests.support.fec_checker import check_fec
from tools.local_stack import LocalProcess, free_port
from tools.localstripe_server import start_localstripe

pytestmark = pytest.mark.usefixtures("ddb_real_engine")
RECOVERY_FEE_B2B = next(m for m in B2B_MENTIONS if "40 €" in m)

LATE = DAY_START.replace(day=2, hour=12)  # 20 h before the start: after the deadline
INVOICE_RUN = {"as_of": "2027-01-01T02:00:00+00:00"}  # bills December 2026
REFUNDED_MOMENTS = {"in_time", "closure", "erasure"}
INVOICED = "invoiced_"  # prefix: the company month was invoiced before the cancellation


@dataclass(frozen=True)
class Cell:
    payment: str  # card, credits, membership, company, none
    moment: str  # held, in_time, late, closure, erasure, invoiced_<one of those>
    actor: str  # member, manager, admin

    @property
    def id(self) -> str:
        return f"{self.payment}-{self.moment}-{self.actor}"

    @property
    def how(self) -> str:
        return self.moment.removeprefix(INVOICED)

    @property
    def given_back(self) -> bool:
        return self.how in REFUNDED_MOMENTS


def cells() -> list[Cell]:
    found = []
    actors = ("member", "manager", "admin")
    for payment in ("card", "credits", "membership", "company", "none"):
        moments = ["in_time", "late", "closure", "erasure"]
        if payment == "card":
            moments.insert(0, "held")
        if payment == "company":
            moments += [f"{INVOICED}{m}" for m in ("in_time", "late", "closure", "erasure")]
        for moment in moments:
            how = moment.removeprefix(INVOICED)
            for actor in actors:
                if how == "erasure" and (actor != "member" or payment == "none"):
                    continue  # only the member erases themself; a free booking is the manager's
                if how == "closure" and actor == "member":
                    continue  # closing a day is for its managers
                if payment == "none" and actor == "member":
                    continue  # the manager booked it: not the member's booking
                found.append(Cell(payment, moment, actor))
    return found


# -- the stack --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(ddb_server: LocalProcess, auth_keys: tuple[Path, Path]) -> Iterator[Stack]:
    from app import app

    localstripe = start_localstripe(free_port())
    table = build_table(ddb_server.url)
    settings = make_settings(
        auth_keys[1],
        DYNAMODB_ENDPOINT_URL=ddb_server.url,
        RELAIS_TABLE=table.name,
        STRIPE_API_BASE=localstripe.base_url,
        CATALOGUE_CACHE_SECONDS=300,  # one process: every catalogue write invalidates it
    )
    gateway = StripeGateway(api_key="sk_test_x", api_base=localstripe.base_url, timeout_seconds=5)
    clock = FixedClock(PARIS_NOW)
    ctx = Context(settings=settings, table=table, clock=clock, gateway_override=gateway)
    try:
        for base_url in serve(app, ctx):
            http = Http(base_url, auth_keys[0])
            admin = http.token("admin-1", "admin")
            built = Stack(http, ctx, clock, gateway, admin, "", "", random.Random(17))
            network = built.new_site("Réseau")
            built.network_operator = network["operator"]
            built.pack_product = http.ok(
                "POST",
                "/v1/products",
                admin,
                {
                    "kind": "credit_pack",
                    "name": "10 jours",
                    "price": {"amount": 12000, "vat_rate": "20.00"},
                    "operator_id": network["operator"],
                    "credits": 10,
                    "validity_days": 180,
                },
            )["id"]
            built.prepare_sites(len(cells()) + 4)  # + the four race tests below
            yield built
            http.close()
    finally:
        table.client.delete_table(TableName=table.name)
        localstripe.stop()


# -- one cell ---------------------------------------------------------------------------


@dataclass
class Scene:
    cell: Cell
    site: dict[str, str]
    member: str
    member_sub: str
    manager: str
    booking_id: str = ""
    intent_id: str | None = None
    answer: dict[str, Any] | None = None


def set_up(stack: Stack, cell: Cell, tag: str = "") -> Scene:
    stack.clock.moment = PARIS_NOW
    site = stack.new_site(cell.id + tag)
    sub = f"member-{cell.id}{tag}"
    scene = Scene(
        cell,
        site,
        stack.http.token(sub),
        sub,
        stack.http.token(f"manager-{cell.id}", f"manager:{site['relay']}"),
    )
    booker = scene.manager if cell.payment == "none" else scene.member
    if cell.payment == "credits":
        stack.buy_pack(scene.member)
    elif cell.payment == "membership":
        stack.give_membership(sub)
    elif cell.payment == "company":
        company = stack.http.ok(
            "POST",
            "/v1/companies",
            stack.admin,
            {
                "name": f"Société {cell.id}",
                "siren": luhn_siren(stack.rng),
                "billing_address": {"line1": "1 rue", "postcode": "77000", "city": "Melun"},
                "billing_email": "compta@example.org",
                "operator_id": site["operator"],
            },
        )
        stack.http.ok(
            "POST", f"/v1/companies/{company['id']}/members", stack.admin, {"member_id": sub}
        )
    body = {"resource_id": site["pool"], "date": DAY, "unit": "day", "payment": cell.payment}
    booked = stack.http.ok("POST", "/v1/bookings", booker, body)
    scene.booking_id = booked["booking"]["id"]
    if cell.payment == "card":
        scene.intent_id = booked["payment"]["payment_intent_id"]
        if cell.moment != "held":
            stack.pay(scene.intent_id)
    if cell.payment in ("credits", "membership"):  # GIVEN: the use is owed to the host
        assert _clearing_with(stack, site["operator"]) > 0
    if cell.moment.startswith(INVOICED):
        stack.http.ok("POST", "/v1/admin/jobs/invoice_companies", stack.admin, INVOICE_RUN)
    return scene


def cancel(stack: Stack, scene: Scene) -> None:
    cell = scene.cell
    token = {"member": scene.member, "manager": scene.manager, "admin": stack.admin}[cell.actor]
    if cell.how == "late":
        stack.clock.moment = LATE
    if cell.how == "closure":
        closure = {"date": DAY, "reason": "Travaux"}
        stack.http.ok("POST", f"/v1/relays/{scene.site['relay']}/closures", token, closure)
    elif cell.how == "erasure":
        answer = stack.http.call("DELETE", "/v1/me", token)
        assert answer.status_code == 204, answer.text
    else:
        scene.answer = stack.http.ok("POST", f"/v1/bookings/{scene.booking_id}/cancel", token)
    if cell.payment == "company" and not cell.moment.startswith(INVOICED):
        stack.http.ok("POST", "/v1/admin/jobs/invoice_companies", stack.admin, INVOICE_RUN)


# -- what happened ----------------------------------------------------------------------


def observe(stack: Stack, scene: Scene) -> dict[str, Any]:
    http, admin, operator = stack.http, stack.admin, scene.site["operator"]
    booking = http.ok("GET", f"/v1/bookings/{scene.booking_id}", admin)
    documents = http.ok("GET", f"/v1/invoices?operator_id={operator}&limit=50", admin)["items"]
    documents = sorted(documents, key=lambda d: d["number"])
    fec = http.call("GET", f"/v1/accounting/fec?operator_id={operator}&year=2026", admin)
    vat = http.ok("GET", f"/v1/accounting/vat?operator_id={operator}&month=2026-12", admin)
    observed: dict[str, Any] = {
        "status": booking["status"],
        "documents": [_document_shape(d, documents) for d in documents],
        "ledger": _balances(fec.text),
        "journals": _journals(fec.text),
        "fec_violations": check_fec(fec.text) if fec.text.count("\n") > 1 else [],
        "vat": (sum(line["base"] for line in vat["lines"]), vat["total_vat"]),
    }
    if scene.intent_id:
        intent = stack.gateway.client.v1.payment_intents.retrieve(scene.intent_id)
        observed["intent_status"] = intent.status
        paid = intent.status == "succeeded"
        observed["refunded_at_stripe"] = stack.refunded_at_stripe(scene.intent_id) if paid else 0
    if scene.cell.payment in ("credits", "membership"):  # what the clearing settles
        observed["clearing_owed"] = _clearing_with(stack, operator) > 0
    if scene.cell.payment == "credits":
        observed["credits_remaining"] = http.ok("GET", "/v1/wallet", scene.member)[
            "credits_remaining"
        ]
    if scene.cell.payment == "membership":
        items = http.ok("GET", "/v1/memberships", scene.member)
        items = items["items"] if isinstance(items, dict) else items
        observed["membership_days_used"] = float(items[0]["days_used"])
    if scene.answer is not None:
        refund = scene.answer["refund"]
        observed["answer"] = {
            "refund": refund["amount"] if refund else None,
            "credits_restored": float(scene.answer["credits_restored"]),
            "credit_note": scene.answer["credit_note_id"] is not None,
        }
        note = scene.answer["credit_note_id"]
        assert note is None or note in {d["id"] for d in documents if d["type"] == "credit_note"}
    return observed


def _document_shape(document: dict[str, Any], all_documents: list[dict[str, Any]]) -> Any:
    """What matters of a document: its type, total, VAT, B2B-ness, and for a credit note
    whether it negates exactly the lines of the invoice it refers to."""
    shape: dict[str, Any] = {
        "type": document["type"],
        "incl_vat": document["totals"]["incl_vat"],
        "vat": [(r["rate"], r["base"], r["vat"]) for r in document["vat_breakdown"]],
        # the B2B-only recovery fee of 40 € (every document now carries a late-penalty
        # and a discount note, BR-FR-05, so those no longer tell B2B from B2C)
        "b2b": RECOVERY_FEE_B2B in document["legal_mentions"],
    }
    if document["type"] == "credit_note":
        invoice = next(d for d in all_documents if d["id"] == document["refers_to"])
        negated = [
            {**line, **{k: -line[k] for k in ("amount_excl_vat", "vat_amount", "amount_incl_vat")}}
            for line in invoice["lines"]
        ]
        same = [
            {
                k: line[k]
                for k in ("description", "amount_excl_vat", "vat_amount", "amount_incl_vat")
            }
            for line in negated
        ] == [
            {
                k: line[k]
                for k in ("description", "amount_excl_vat", "vat_amount", "amount_incl_vat")
            }
            for line in document["lines"]
        ]
        series = document["number"].rsplit("-", 1)[0] == invoice["number"].rsplit("-", 1)[0]
        mention = any(invoice["number"] in m for m in document["legal_mentions"])
        shape["mirrors_its_invoice"] = same and series and mention
    return shape


def _balances(fec_text: str) -> dict[str, int]:
    """Debit minus credit per account, in cents (accounts with a movement)."""
    rows = list(csv.DictReader(io.StringIO(fec_text), delimiter="|"))
    sums: dict[str, int] = {}
    for row in rows:
        debit = round(float(row["Debit"].replace(",", ".")) * 100)
        credit = round(float(row["Credit"].replace(",", ".")) * 100)
        sums[row["CompteNum"]] = sums.get(row["CompteNum"], 0) + debit - credit
    return sums


def _journals(fec_text: str) -> list[str]:
    """The journal of each entry (EcritureNum), sorted."""
    rows = csv.DictReader(io.StringIO(fec_text), delimiter="|")
    return sorted({row["EcritureNum"]: row["JournalCode"] for row in rows}.values())


def _clearing_with(stack: Stack, operator: str) -> int:
    report = stack.http.ok("GET", "/v1/accounting/clearing?month=2026-12", stack.admin)
    return sum(
        int(b["amount"])
        for b in report["balances"]
        if operator in (b["from_operator_id"], b["to_operator_id"])
    )


# -- what the policy says ---------------------------------------------------------------


def expected_books(cell: Cell) -> tuple[list[Any], dict[str, int], list[str], tuple[int, int]]:
    """Documents at the cell's operator, account balances, journal of each FEC entry,
    and the month's VAT report (base, VAT)."""
    back = cell.given_back
    invoice = {"type": "invoice", "incl_vat": PRICE, "vat": [("20.00", 1250, 250)]}
    note = {"type": "credit_note", "incl_vat": -PRICE, "vat": [("20.00", -1250, -250)]}
    billed = {"411000": 0, "706000": -1250, "445710": -250}
    settled = {"411000": 0, "706000": 0, "445710": 0}
    if cell.payment == "card" and cell.moment != "held":
        if back:  # invoice + payment, credit note + refund: every account back to zero
            documents = [{**invoice, "b2b": False}, {**note, "b2b": False}]
            documents[1]["mirrors_its_invoice"] = True
            return documents, {**settled, "467000": 0}, ["BQ", "BQ", "VE", "VE"], (0, 0)
        return [{**invoice, "b2b": False}], {**billed, "467000": PRICE}, ["BQ", "VE"], (1250, 250)
    if cell.payment == "company":  # VAT on services is due when the company pays
        if cell.moment.startswith(INVOICED) and back:
            credited = {**note, "b2b": True, "mirrors_its_invoice": True}
            return [{**invoice, "b2b": True}, credited], settled, ["VE", "VE"], (0, 0)
        if not back:
            return [{**invoice, "b2b": True}], {**billed, "411000": PRICE}, ["VE"], (0, 0)
    return [], {}, [], (0, 0)  # held card, credits, membership, free: nothing here


def expected(cell: Cell) -> dict[str, Any]:
    back = cell.given_back
    documents, ledger, journals, vat = expected_books(cell)
    outcome: dict[str, Any] = {
        "status": "cancelled",
        "documents": documents,
        "ledger": ledger,
        "journals": journals,
        "fec_violations": [],
        "vat": vat,
    }
    if cell.payment == "card":
        outcome["intent_status"] = "canceled" if cell.moment == "held" else "succeeded"
        outcome["refunded_at_stripe"] = PRICE if back else 0
    if cell.payment in ("credits", "membership"):
        # given back (in time, closure...): no usage to settle; kept (too late): the host
        # held the seat, the seller is owed nothing back: the use is settled
        outcome["clearing_owed"] = not back
    if cell.payment == "credits":
        outcome["credits_remaining"] = 10 if back else 9
    if cell.payment == "membership":
        outcome["membership_days_used"] = 0.0 if back else 1.0
    if cell.how in ("held", "in_time", "late"):
        outcome["answer"] = {
            "refund": PRICE if cell.payment == "card" and back else None,
            "credits_restored": 1.0 if cell.payment == "credits" and back else 0.0,
            "credit_note": (cell.payment == "card" and back)
            or (cell.payment == "company" and back and cell.moment.startswith(INVOICED)),
        }
    return outcome


@pytest.mark.parametrize("cell", cells(), ids=lambda c: c.id)
def test_cancellation_leaves_what_the_policy_says(stack: Stack, cell: Cell) -> None:
    scene = set_up(stack, cell)

    cancel(stack, scene)

    assert observe(stack, scene) == expected(cell)


# -- the company credit note under retries and races ----------------------------------------


def credit_notes(stack: Stack, scene: Scene) -> list[dict[str, Any]]:
    operator = scene.site["operator"]
    listed = stack.http.ok("GET", f"/v1/invoices?operator_id={operator}&limit=50", stack.admin)
    return [d for d in listed["items"] if d["type"] == "credit_note"]


def release_without_credit_note(stack: Stack, scene: Scene) -> None:
    """A cancellation that crashed between its release transaction and its credit note."""
    booking = stack.ctx.bookings.get(scene.booking_id)
    assert booking is not None
    extra = companies.release_items(stack.ctx, booking, BookingStatus.cancelled)
    stack.ctx.bookings.release(booking, BookingStatus.cancelled, PARIS_NOW, extra=extra)


def test_concurrent_cancels_of_an_invoiced_company_booking_issue_one_credit_note(
    stack: Stack,
) -> None:
    scene = set_up(stack, Cell("company", "invoiced_in_time", "member"), "-race1")
    path = f"/v1/bookings/{scene.booking_id}/cancel"

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: stack.http.call("POST", path, scene.member), range(4)))

    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    assert len(credit_notes(stack, scene)) == 1


def test_retried_cancel_issues_the_credit_note_a_crash_left_out(stack: Stack) -> None:
    scene = set_up(stack, Cell("company", "invoiced_in_time", "member"), "-race2")
    release_without_credit_note(stack, scene)

    path = f"/v1/bookings/{scene.booking_id}/cancel"
    retries = [stack.http.call("POST", path, scene.member) for _ in range(2)]

    assert [a.status_code for a in retries] == [409, 409]
    (note,) = credit_notes(stack, scene)
    assert note["totals"]["incl_vat"] == -PRICE


def test_invoicing_rerun_credits_a_line_cancelled_while_it_issued(stack: Stack) -> None:
    scene = set_up(stack, Cell("company", "invoiced_in_time", "member"), "-race3")
    release_without_credit_note(stack, scene)

    for _ in range(2):
        stack.http.ok("POST", "/v1/admin/jobs/invoice_companies", stack.admin, INVOICE_RUN)

    (note,) = credit_notes(stack, scene)
    assert note["refers_to"] == stack.ctx.bookings.get(scene.booking_id).invoice_id  # type: ignore[union-attr]


def test_credit_note_lowers_what_the_company_invoice_asks_for(stack: Stack) -> None:
    scene = set_up(stack, Cell("company", "invoiced_in_time", "member"), "-race4")
    invoice_id = stack.ctx.bookings.get(scene.booking_id).invoice_id  # type: ignore[union-attr]

    stack.http.ok("POST", f"/v1/bookings/{scene.booking_id}/cancel", scene.member)

    state = company_payments.invoice_payment_state(stack.ctx, str(invoice_id))
    assert state is not None
    assert (state["amount_due"], state["status"]) == (0, "paid")
