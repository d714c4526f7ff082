"""Settlement credit notes in the harder cases (tests from a review): a host that entered
the franchise since its invoice, an invoice the seller refused (credited in full by the
e-invoicing job, then invoiced again), and several invoices credited in one run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import FixedClock
from chalicelib.domain.timezones import PARIS
from chalicelib.services.context import Context
from chalicelib.services.einvoice_routing import _credit_refused
from chalicelib.services.settlement import settle_operators
from tests.integration.test_settlement import used_elsewhere  # noqa: F401 (a fixture)
from tests.support.api import Api, booked
from tests.support.einvoicing import cii_failures

EARLY = datetime(2027, 1, 1, 4, tzinfo=PARIS)  # as_of of a run by hand on 1 December
REAL_RUN = datetime(2027, 1, 1, 4, tzinfo=PARIS)


def _pool(api: Api, admin: str, host: str) -> str:
    relays = api.get("/v1/relays", token=admin).json["items"]
    (relay,) = [r for r in relays if r["operator_id"] == host]
    return str(api.get(f"/v1/relays/{relay['id']}").json["resources"][0]["id"])


def _documents(api: Api, token: str, operator: str) -> dict[str, dict[str, Any]]:
    items = api.get(f"/v1/invoices?operator_id={operator}&limit=100", token=token).json["items"]
    return {d["number"]: d for d in items}


def _first_booking(api: Api, member: str) -> dict[str, Any]:
    (booking,) = [
        b for b in api.get("/v1/bookings", token=member).json["items"] if b["date"] == "2026-12-03"
    ]
    return dict(booking)


def _cancel(api: Api, member: str, booking: dict[str, Any]) -> None:
    assert api.post(f"/v1/bookings/{booking['id']}/cancel", token=member).status == 200


def test_a_host_entering_the_franchise_on_1_january_credits_december_with_a_valid_note(
    ctx: Context,
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],  # noqa: F811
) -> None:
    # GIVEN December settled early while the host charged VAT (20 %)
    host = used_elsewhere["host"]
    (invoice_number,) = settle_operators(ctx, as_of=EARLY)["invoices"]
    # AND the booking cancelled in time; the host enters the franchise for 2027
    _cancel(api, member, _first_booking(api, member))
    operator = api.get(f"/v1/operators/{host}", token=admin).json
    changed = api.request(
        "PATCH",
        f"/v1/operators/{host}",
        {"vat_regime": "franchise", "vat_number": None},
        token=admin,
        headers={"If-Match": f'"{operator["version"]}"'},
    )
    assert changed.status == 200, changed.json

    # WHEN the real run of 1 January credits December
    clock.moment = REAL_RUN
    (note_number,) = settle_operators(ctx)["credit_notes"]

    # THEN the note reverses the VAT invoiced, says nothing of art. 293 B, and its CII is valid
    note = _documents(api, accountant, host)[note_number]
    assert note["totals"] == {"excl_vat": -1000, "vat": -200, "incl_vat": -1200}
    xml = api.get(f"/v1/invoices/{note['id']}/xml", token=accountant)
    # (a note made under the franchise could not be rendered: 500)
    assert xml.status == 200, (invoice_number, xml.json)
    assert cii_failures(xml.body) == []
    assert not any("293 B" in mention for mention in note["legal_mentions"]), note["legal_mentions"]


def test_a_settlement_invoice_the_seller_refused_is_not_credited_beyond_its_amount(
    ctx: Context,
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],  # noqa: F811
) -> None:
    # GIVEN two days at the host settled early on one invoice of 24 €
    host = used_elsewhere["host"]
    tenth = booked(api, member, _pool(api, admin, host), date="2026-12-10", payment="credits")
    (invoice_number,) = settle_operators(ctx, as_of=EARLY)["invoices"]
    invoice = _documents(api, accountant, host)[invoice_number]
    # AND the seller refused it on its platform (210): the host credited all of it
    ctx.einvoices.create(host, {"document_id": invoice["id"], "history": [{"code": "210"}]})
    _credit_refused(ctx, host, ctx.einvoices.get(host, invoice["id"]) or {})
    # AND one of the two days cancelled in time since
    _cancel(api, member, tenth)

    # WHEN the month is settled again
    clock.moment = REAL_RUN
    settle_operators(ctx)

    # THEN the invoice is never credited for more than it was
    notes = [
        d
        for d in _documents(api, accountant, host).values()
        if d["type"] == "credit_note" and d["refers_to"] == invoice["id"]
    ]
    credited = -sum(d["totals"]["incl_vat"] for d in notes)
    assert credited <= invoice["totals"]["incl_vat"], [
        (d["number"], d["totals"]["incl_vat"]) for d in notes
    ]
    # AND the day still used is invoiced again (the refused invoice settles nothing)
    again = [
        d
        for d in _documents(api, accountant, host).values()
        if d["type"] == "invoice" and d["number"] != invoice_number
    ]
    assert [(d["totals"]["incl_vat"], d["settled_bookings"]) for d in again] == [(1200, 1)]


def test_each_credit_note_credits_no_more_bookings_than_its_invoice_settled(
    ctx: Context,
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],  # noqa: F811
) -> None:
    # GIVEN two invoices of one booking each (December settled early, then one more day)
    host = used_elsewhere["host"]
    settle_operators(ctx, as_of=EARLY)
    tenth = booked(api, member, _pool(api, admin, host), date="2026-12-10", payment="credits")
    settle_operators(ctx, as_of=EARLY)
    # AND both days cancelled in time
    _cancel(api, member, _first_booking(api, member))
    _cancel(api, member, tenth)

    # WHEN the real run credits the month: one note on each invoice
    clock.moment = REAL_RUN
    assert len(settle_operators(ctx)["credit_notes"]) == 2

    # THEN each note counts the bookings of what it credits (one each), not all on the first
    documents = _documents(api, accountant, host).values()
    by_id = {d["id"]: d for d in documents}
    counts = [
        (d["number"], d["credited_bookings"], by_id[d["refers_to"]]["settled_bookings"])
        for d in documents
        if d["type"] == "credit_note"
    ]
    assert all(credited <= settled for _, credited, settled in counts), counts
    assert sum(credited for _, credited, _ in counts) == 2
