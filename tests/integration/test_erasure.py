"""`DELETE /v1/me` on moto with a fake Stripe: future bookings cancelled and refunded per
policy, the profile anonymised, the feed revoked, invoices untouched (the buyer's name stays
frozen in them for the accountants), 204 every time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from chalicelib.services.context import Context
from chalicelib.services.erasure import ANONYMOUS_NAME
from tests.integration.test_calendars import new_routes_mounted, paid_booking, path_of
from tests.integration.test_payment_policies import make_pack, pay
from tests.support.api import Api, assert_problem, booked, free_seats
from tests.support.fake_stripe import FakeGateway
from tests.support.invariants import money_violations

PROFILE = {
    "name": "Camille Martin",
    "email": "camille.martin@example.org",
    "billing_address": {"line1": "3 rue Saint-Aspais", "postcode": "77000", "city": "Melun"},
    "company_name": "Martin Conseil",
    "siren": "732829320",
}


@pytest.fixture
def api(ctx: Context, auth_keys: tuple[Path, Path]) -> Iterator[Api]:
    from app import app

    with new_routes_mounted(), Client(app) as client:
        yield Api(client, auth_keys[0])


def test_erasure_cancels_refunds_anonymises_and_keeps_invoices(
    api: Api,
    member: str,
    accountant: str,
    network: dict[str, str],
    clock: FixedClock,
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    assert api.request("PUT", "/v1/me", PROFILE, token=member).status == 200
    # Friday 2026-12-04: more than 24 h ahead -> cancelled with a full refund.
    early = paid_booking(api, member, network["pool"], stripe_fake, settings, date="2026-12-04")
    # Today 14:00-16:00, cancelled at 07:00: within 24 h -> cancelled, nothing refunded.
    hours = {"date": "2026-12-01", "unit": "hour", "start": "14:00", "end": "16:00"}
    late = paid_booking(api, member, network["room"], stripe_fake, settings, **hours)
    held = booked(api, member, network["pool"], date="2026-12-03")  # payment pending
    other = booked(api, api.token("member-2"), network["pool"], date="2026-12-04")
    feed = path_of(api.get("/v1/me/calendar-feed", token=member).json["url"])
    invoice_id = early["invoice_id"]
    assert api.get(f"/v1/invoices/{invoice_id}", token=accountant).json["buyer"]["name"] == (
        "Camille Martin"
    )

    answer = api.request("DELETE", "/v1/me", token=member)
    assert answer.status == 204
    assert answer.body == b""

    # Future bookings cancelled, per policy.
    early_now = ctx.bookings.get(early["id"])
    late_now = ctx.bookings.get(late["id"])
    held_now = ctx.bookings.get(held["id"])
    assert early_now is not None and late_now is not None and held_now is not None
    assert (early_now.status, late_now.status, held_now.status) == (
        "cancelled",
        "cancelled",
        "cancelled",
    )
    assert early_now.refund is not None and early_now.refund["amount"] == 1500
    assert late_now.refund is None and late_now.refund_due is None
    refunds = stripe_fake.refunds.values()
    assert [(r.payment_intent, r.amount) for r in refunds] == [(early["payment_intent_id"], 1500)]
    assert stripe_fake.intents[held_now.payment_intent_id or ""].status == "canceled"
    other_now = ctx.bookings.get(other["id"])
    assert other_now is not None and other_now.status == "held"  # not the member's
    assert free_seats(api, network["relay"], network["pool"], "2026-12-04")["08:00"] == 2

    # The profile is anonymised.
    profile = api.get("/v1/me", token=member).json
    assert profile["name"] == ANONYMOUS_NAME
    for gone in ("email", "billing_address", "company_name", "siren", "vat_number"):
        assert profile.get(gone) is None, gone
    assert profile["erased_at"]

    # The feed is revoked.
    assert_problem(api.get(feed), 404, "not_found")

    # Invoices are frozen: the accountant still reads the buyer as invoiced; the credit note
    # of the refund refers to it, with the same buyer; the chain is intact.
    invoice = api.get(f"/v1/invoices/{invoice_id}", token=accountant).json
    assert invoice["buyer"]["name"] == "Camille Martin"
    assert invoice["buyer"]["company_name"] == "Martin Conseil"
    notes = api.get("/v1/invoices?type=credit_note", token=accountant).json["items"]
    (note,) = [n for n in notes if n["refers_to"] == invoice_id]
    assert note["buyer"]["name"] == "Camille Martin"
    assert note["totals"]["incl_vat"] == -1500
    integrity = api.get(
        f"/v1/accounting/integrity?operator_id={network['operator']}", token=accountant
    ).json
    assert integrity["ok"] is True
    assert money_violations(ctx) == []

    # Again: nothing left to do, same answer.
    clock.advance(hours=1)
    again = api.request("DELETE", "/v1/me", token=member)
    assert again.status == 204
    assert api.get("/v1/me", token=member).json["erased_at"] == profile["erased_at"]
    assert len(stripe_fake.refunds) == 1


def test_erasure_needs_a_token_and_works_without_a_profile(api: Api, ctx: Context) -> None:
    assert_problem(api.request("DELETE", "/v1/me"), 401, "unauthenticated")
    stranger = api.token("member-9")
    assert api.request("DELETE", "/v1/me", token=stranger).status == 204
    assert api.get("/v1/me", token=stranger).json["name"] == ANONYMOUS_NAME


def test_erasure_calls_off_a_pack_purchase_not_paid_yet(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    """A checkout page left open must not charge an erased member: the purchase's intent
    is cancelled as a hold's is; one paid before the erasure keeps its credits."""
    product = make_pack(api, admin, network["operator"])
    paid = api.post("/v1/purchases", {"product_id": product}, token=member).json
    pay(api, settings, stripe_fake, paid["payment"]["payment_intent_id"])
    open_one = api.post("/v1/purchases", {"product_id": product}, token=member).json

    assert api.request("DELETE", "/v1/me", token=member).status == 204

    intents = stripe_fake.intents
    assert intents[open_one["payment"]["payment_intent_id"]].status == "canceled"
    assert intents[paid["payment"]["payment_intent_id"]].status == "succeeded"
    member_id = "member-1"  # the `member` token's sub
    assert ctx.payments.pending_purchases(member_id) == [
        ctx.payments.purchase(open_one["purchase"]["id"])
    ]
    assert money_violations(ctx) == []
