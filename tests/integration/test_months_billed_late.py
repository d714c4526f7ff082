"""A month billed early (a job run by hand with a future `as_of`, a relay whose month ends
after Paris's) still bills what it gains afterwards: on a further invoice of that month."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.adapters.clock import FixedClock
from tests.integration.test_companies import company_body
from tests.integration.test_settlement import used_elsewhere  # noqa: F401 (a fixture)
from tests.support.api import Api, booked

PARIS = ZoneInfo("Europe/Paris")


def _company(api: Api, admin: str, operator_id: str) -> dict[str, Any]:
    answer = api.post("/v1/companies", company_body(operator_id), token=admin)
    assert answer.status == 201, answer.json
    return dict(answer.json)


def test_a_company_booking_made_after_its_month_was_invoiced_early_is_billed_next_run(
    api: Api, admin: str, clock: FixedClock, network: dict[str, str]
) -> None:
    """A run with as_of 2027-01-01 on 1 December invoices December at once (API.md: as_of
    "past or future"); a company booking made on the 1st for the 10th is billed by the
    real run of 1 January, on a second December invoice."""
    company = _company(api, admin, network["operator"])
    added = api.post(
        f"/v1/companies/{company['id']}/members", {"member_id": "emp-alice"}, token=admin
    )
    assert added.status == 201, added.json
    alice = api.token("emp-alice", name="Alice Martin")

    first = booked(api, alice, network["pool"], date="2026-12-02", payment="company")
    early = api.post(
        "/v1/admin/jobs/invoice_companies", {"as_of": "2027-01-01T03:00:00+01:00"}, token=admin
    )
    assert early.status == 200, early.json

    # Still 1 December: Alice books the 10th, on the company.
    later = booked(api, alice, network["pool"], date="2026-12-10", payment="company")

    clock.moment = datetime(2027, 1, 1, 3, 0, tzinfo=PARIS)  # the real run of the 1st
    run = api.post("/v1/admin/jobs/invoice_companies", {}, token=admin)
    assert run.status == 200, run.json

    billed: set[str] = set()
    invoices = api.get("/v1/invoices?limit=100", token=admin).json["items"]
    for invoice in invoices:
        billed |= {line.get("booking_id") for line in invoice["lines"]}
    assert first["id"] in billed
    assert later["id"] in billed, (
        "a confirmed company booking of December is on no invoice",
        [(i["number"], i.get("billing_month")) for i in invoices],
    )


def test_usage_after_a_month_was_settled_early_is_settled_next_run(
    api: Api,
    admin: str,
    accountant: str,
    member: str,
    clock: FixedClock,
    used_elsewhere: dict[str, str],  # noqa: F811
) -> None:
    """A run with as_of 2027-01-01 on 1 December settles December at once; a credit used
    at the host on 10 December is settled by the real run of 1 January, on a second
    invoice of the month (the two cover both days)."""
    early = api.post(
        "/v1/admin/jobs/settle_operators", {"as_of": "2027-01-01T03:00:00+01:00"}, token=admin
    )
    assert early.status == 200 and early.json["processed"] == 1, early.json

    relays = api.get("/v1/relays", token=admin).json["items"]
    (nangis,) = [r for r in relays if r["operator_id"] == used_elsewhere["host"]]
    pool = api.get(f"/v1/relays/{nangis['id']}").json["resources"][0]["id"]
    booked(api, member, pool, date="2026-12-10", payment="credits")

    clock.moment = datetime(2027, 1, 1, 4, 0, tzinfo=PARIS)
    run = api.post("/v1/admin/jobs/settle_operators", {}, token=admin)
    assert run.status == 200, run.json

    host = used_elsewhere["host"]
    items = api.get(f"/v1/invoices?operator_id={host}&limit=100", token=accountant).json["items"]
    billed = sum(i["totals"]["incl_vat"] for i in items)
    assert billed == 2 * 1200, [(i["number"], i["totals"]) for i in items]


def test_a_company_booking_made_after_the_scheduled_monthly_run_is_billed_next_run(
    api: Api, admin: str, clock: FixedClock, network: dict[str, str]
) -> None:
    """The scheduled runs of the 1st (02:00–03:45 UTC) come while a relay in Guadeloupe
    still takes bookings for 31 December (its relay-local month): such a booking is billed
    by a later run (the next month's, which also looks at the month before) on a further
    December invoice, never on none."""
    company = _company(api, admin, network["operator"])
    added = api.post(
        f"/v1/companies/{company['id']}/members", {"member_id": "emp-alice"}, token=admin
    )
    assert added.status == 201, added.json
    alice = api.token("emp-alice", name="Alice Martin")
    relay = api.post(
        "/v1/relays",
        {
            "name": "Gare de Pointe-à-Pitre",
            "operator_id": network["operator"],
            "category": "station",
            "address": {"line1": "Rue Frébault", "postcode": "97110", "city": "Pointe-à-Pitre"},
            "location": {"lat": 16.2411, "lon": -61.5331},
            "timezone": "America/Guadeloupe",
            "opening_hours": {
                d: [["08:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
            "amenities": ["wifi"],
        },
        token=admin,
    )
    assert relay.status == 201, relay.json
    pool = api.post(
        f"/v1/relays/{relay.json['id']}/resources",
        {"name": "Open space", "kind": "hot_desk", "capacity": 3, "rates": {"hour": 400}},
        token=admin,
    )
    assert pool.status == 201, pool.json
    booked(api, alice, network["pool"], date="2026-12-02", payment="company")

    clock.moment = datetime(2027, 1, 1, 3, 0, tzinfo=PARIS)  # 02:00 UTC, the first run
    assert api.post("/v1/admin/jobs/invoice_companies", {}, token=admin).json["processed"] == 1

    late = booked(
        api,
        alice,
        pool.json["id"],
        date="2026-12-31",
        unit="hour",
        start="23:00",
        end="24:00",
        payment="company",
    )
    for when in (
        datetime(2027, 1, 1, 4, 45, tzinfo=PARIS),  # the last run of that night
        datetime(2027, 2, 1, 3, 0, tzinfo=PARIS),  # January's run
    ):
        clock.moment = when
        assert api.post("/v1/admin/jobs/invoice_companies", {}, token=admin).status == 200

    billed: set[str] = set()
    for invoice in api.get("/v1/invoices?limit=100", token=admin).json["items"]:
        billed |= {line.get("booking_id") for line in invoice["lines"]}
    assert late["id"] in billed, "a confirmed company booking is on no invoice"
