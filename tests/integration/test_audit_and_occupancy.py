"""Staff writes in the audit trail (a recorded company payment, a check-in, a membership
cancelled for a member), and booked seat-hours counted by slots (API.md: `GET /v1/audit`,
`/v1/stats/occupancy`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from tests.conftest import PARIS
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_invoicing_flow import paid_booking
from tests.integration.test_memberships import membership_product, start_membership, subscribe
from tests.support.api import Api, book, relay_body, resource_body
from tests.support.fake_stripe_memberships import MembershipFakeGateway


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


def trail(api: Api, token: str, query: str = "") -> list[dict[str, Any]]:
    answer = api.get(f"/v1/audit?{query}", token=token)
    assert answer.status == 200, answer.json
    return list(answer.json["items"])


def new_entries(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = {e["id"] for e in before}
    return [e for e in after if e["id"] not in seen]


# -- audit: a payment recorded by an accountant -------------------------------------------


TRANSFER = {"amount": 1000, "method": "transfer", "paid_at": "2027-01-01", "reference": "VIR-0001"}


def test_a_payment_recorded_by_an_accountant_is_in_the_audit_trail(
    api: Api,
    admin: str,
    accountant: str,
    invoiced: dict[str, Any],  # noqa: F811
) -> None:
    before = trail(api, admin)
    answer = api.post(f"/v1/invoices/{invoiced['id']}/payments", TRANSFER, token=accountant)
    assert answer.status == 201, answer.json
    payment = answer.json["payment"]
    (entry,) = new_entries(before, trail(api, admin))
    assert entry["actor"] == "accountant-1"
    assert entry["roles"] == ["accountant"]
    assert (entry["action"], entry["entity"], entry["entity_id"]) == (
        "create",
        "payment",
        payment["id"],
    )
    assert entry["operator_id"] == payment["operator_id"]
    assert entry["changes"]["amount"] == [None, 1000]
    assert entry["changes"]["reference"] == [None, "VIR-0001"]


def test_a_replayed_payment_writes_no_second_audit_entry(
    api: Api,
    admin: str,
    accountant: str,
    invoiced: dict[str, Any],  # noqa: F811
) -> None:
    path = f"/v1/invoices/{invoiced['id']}/payments"
    assert api.post(path, TRANSFER, token=accountant).status == 201
    before = trail(api, admin)
    again = api.post(path, TRANSFER, token=accountant)
    assert again.status == 201, again.json
    assert new_entries(before, trail(api, admin)) == []
    assert len(trail(api, admin, "entity=payment")) == 1


# -- audit: a check-in at the desk --------------------------------------------------------


def test_a_check_in_by_the_relay_manager_is_in_the_audit_trail(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: MembershipFakeGateway,
    settings: Settings,
    clock: FixedClock,
) -> None:
    booking = paid_booking(api, member, network, stripe_fake, settings, day="2026-12-02")
    clock.moment = datetime(2026, 12, 2, 8, 15, tzinfo=PARIS)
    manager = api.token("mgr-1", f"manager:{network['relay']}")
    answer = api.post(f"/v1/bookings/{booking['id']}/check-in", token=manager)
    assert answer.status == 200, answer.json
    assert answer.json["status"] == "checked_in"
    (entry,) = trail(api, admin, "entity=booking")
    assert (entry["entity_id"], entry["actor"], entry["action"]) == (
        booking["id"],
        "mgr-1",
        "check_in",
    )
    assert (entry["operator_id"], entry["relay_id"]) == (network["operator"], network["relay"])
    assert entry["changes"] == {"status": ["confirmed", "checked_in"]}


def test_a_members_own_check_in_is_not_audited(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: MembershipFakeGateway,
    settings: Settings,
    clock: FixedClock,
) -> None:
    booking = paid_booking(api, member, network, stripe_fake, settings, day="2026-12-02")
    clock.moment = datetime(2026, 12, 2, 8, 15, tzinfo=PARIS)
    answer = api.post(f"/v1/bookings/{booking['id']}/check-in", token=member)
    assert answer.status == 200, answer.json
    assert trail(api, admin, "entity=booking") == []


# -- audit: a membership cancelled by an admin --------------------------------------------


def test_an_admin_cancelling_a_members_membership_is_in_the_audit_trail(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    product = membership_product(api, admin, network["operator"])
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    answer = api.post(f"/v1/memberships/{membership_id}/cancel", token=admin)
    assert answer.status == 200, answer.json
    (entry,) = trail(api, admin, "entity=membership")
    assert (entry["action"], entry["entity_id"], entry["actor"]) == (
        "cancel",
        membership_id,
        "admin-1",
    )
    assert entry["operator_id"] == network["operator"]
    assert entry["changes"] == {"cancel_at_period_end": [False, True]}
    # asked again (nothing changes: it still ends at period end): no second entry
    assert api.post(f"/v1/memberships/{membership_id}/cancel", token=admin).status == 200
    assert len(trail(api, admin, "entity=membership")) == 1


def test_an_unpaid_membership_cancelled_by_an_admin_records_its_end(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    product = membership_product(api, admin, network["operator"])
    membership_id = subscribe(api, member, product).json["membership"]["id"]
    answer = api.post(f"/v1/memberships/{membership_id}/cancel", token=admin)
    assert answer.json["membership"]["status"] == "cancelled"
    (entry,) = trail(api, admin, "entity=membership")
    assert entry["changes"]["status"] == ["incomplete", "cancelled"]
    assert entry["changes"]["cancelled_at"][0] is None


def test_a_member_cancelling_their_own_membership_is_not_audited(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    product = membership_product(api, admin, network["operator"])
    membership_id = subscribe(api, member, product).json["membership"]["id"]
    answer = api.post(f"/v1/memberships/{membership_id}/cancel", token=member)
    assert answer.status == 200, answer.json
    assert trail(api, admin, "entity=membership") == []


# -- statistics: a day booking across a lunch break ---------------------------------------


def test_booked_seat_hours_never_exceed_open_seat_hours(
    api: Api, admin: str, network: dict[str, str], clock: FixedClock
) -> None:
    """Open 08:00-12:00 and 14:00-19:00 (9 h): a day booking holds the 18 open slots,
    not the 11 h from its first start to its last end."""
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    split = {d: [["08:00", "12:00"], ["14:00", "19:00"]] for d in weekdays}
    relay = api.post(
        "/v1/relays",
        relay_body(network["operator"], name="Mairie", opening_hours=split),
        token=admin,
    ).json
    desk = api.post(
        f"/v1/relays/{relay['id']}/resources", resource_body(capacity=1), token=admin
    ).json
    answer = book(api, admin, desk["id"], date="2026-12-02", payment="none")
    assert answer.status == 201, answer.json
    clock.moment = datetime(2026, 12, 2, 8, 15, tzinfo=PARIS)
    checked = api.post(f"/v1/bookings/{answer.json['booking']['id']}/check-in", token=admin)
    assert checked.status == 200, checked.json
    stats = api.get(
        f"/v1/stats/occupancy?from=2026-12-02&to=2026-12-02&relay_id={relay['id']}",
        token=admin,
    )
    assert stats.status == 200, stats.json
    (row,) = stats.json["items"]
    assert row["seat_hours_open"] == 9
    assert row["seat_hours_booked"] == 9
    assert row["seat_hours_checked_in"] == 9
