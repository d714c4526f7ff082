"""`make run`'s fake accredited platform: a company's monthly B2B invoice is validated,
deposited and followed through its lifecycle, all on loopback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Stack
from tools.run_local import next_weekday

pytestmark = pytest.mark.e2e

ADDRESS = {
    "line1": "1 place de la Gare",
    "postcode": "77000",
    "city": "Melun",
    "country": "FR",
}


def test_a_company_invoice_goes_through_the_local_platform(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(seed=True)
    admin = stack.token("e2e-admin", "admin")
    try:
        # GIVEN a company of the first operator, an employee's day booked on its account
        operator = stack.get("/v1/operators", token=admin).json()["items"][0]
        platform = stack.get(f"/v1/operators/{operator['id']}/einvoicing-platform", token=admin)
        company = stack.post(
            "/v1/companies",
            token=admin,
            json={
                "name": "Atelier Brie SAS",
                "siren": "552100554",
                "billing_address": ADDRESS,
                "billing_email": "compta@atelier.example",
                "operator_id": operator["id"],
            },
        ).json()
        stack.post(
            f"/v1/companies/{company['id']}/members",
            token=admin,
            json={"member_id": "e2e-employee"},
        )
        relay = next(
            r for r in stack.get("/v1/relays").json()["items"] if r["operator_id"] == operator["id"]
        )
        pool = next(
            r
            for r in stack.get(f"/v1/relays/{relay['id']}").json()["resources"]
            if r["kind"] == "hot_desk"
        )
        today = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
        day = next_weekday(today)
        booked = stack.post(
            "/v1/bookings",
            token=stack.token("e2e-employee"),
            json={
                "resource_id": pool["id"],
                "date": day.isoformat(),
                "unit": "day",
                "payment": "company",
            },
        )
        first_of_next = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        stack.post(
            "/v1/admin/jobs/invoice_companies",
            token=admin,
            json={"as_of": f"{first_of_next.isoformat()}T02:00:00Z"},
        )
        month = day.strftime("%Y-%m")
        invoice = stack.get(
            f"/v1/companies/{company['id']}/statement?month={month}", token=admin
        ).json()["invoice"]

        # WHEN the routing job runs twice
        first = stack.post("/v1/admin/jobs/route_einvoices", token=admin, json={}).json()
        second = stack.post("/v1/admin/jobs/route_einvoices", token=admin, json={}).json()
        state = stack.get(f"/v1/invoices/{invoice['id']}/lifecycle", token=admin).json()

        # THEN the invoice was validated and deposited on the fake platform, which answered
        assert platform.json()["source"] == "deployment", platform.text
        assert booked.status_code == 201, booked.text
        assert (first["deposited"], first["invalid"], second["updated"]) == (1, 0, 1), (
            first,
            second,
        )
        assert [h["code"] for h in state["history"]] == ["200", "201", "202"], state
    finally:
        stack.stop()
