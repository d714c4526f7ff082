"""Erasure and the mail outbox (moto, SES on): once a member is erased, no item but their
invoices and ledger lines holds their address. The outbox names a member by id in its
journal, and drops the address of a mail once it is sent or given up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.adapters.dynamo import Table
from chalicelib.config import Settings
from chalicelib.services import mail_delivery
from chalicelib.services.context import Context
from tests.conftest import make_settings
from tests.integration.test_calendars import paid_booking
from tests.support.api import Api
from tests.support.fake_stripe_memberships import MembershipFakeGateway

SENDER = "noreply@relais.test"
REGION = "eu-west-3"
PROFILE = {
    "name": "Camille Martin",
    "email": "camille.martin@example.org",
    "billing_address": {"line1": "3 rue Saint-Aspais", "postcode": "77000", "city": "Melun"},
}


@pytest.fixture
def settings(auth_keys: tuple[Path, Path]) -> Settings:
    return make_settings(auth_keys[1], MAIL_FROM=f"Relais <{SENDER}>")


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


@pytest.fixture(autouse=True)
def ses(table: Table) -> None:
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)


def items_holding(ctx: Context, text: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name=REGION).Table(ctx.settings.table_name)
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        found += [i for i in page["Items"] if text in json.dumps(i, default=str)]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_after_erasure_only_invoices_and_ledger_lines_hold_the_members_address(
    api: Api,
    member: str,
    network: dict[str, str],
    ctx: Context,
    stripe_fake: MembershipFakeGateway,
    settings: Settings,
) -> None:
    # GIVEN a member with a profile, who booked (a confirmation mail went out)
    assert api.request("PUT", "/v1/me", PROFILE, token=member).status == 200
    paid_booking(api, member, network["pool"], stripe_fake, settings, date="2026-12-04")
    assert items_holding(ctx, PROFILE["email"])
    # WHEN the member erases themselves (the booking is cancelled, a mail says so)
    assert api.request("DELETE", "/v1/me", token=member).status == 204
    # THEN no item but invoices and ledger lines still holds their address
    left = [
        (item["PK"], item["SK"])
        for item in items_holding(ctx, PROFILE["email"])
        if not str(item["PK"]).startswith(("DOC#", "LEDGER#"))
    ]
    assert left == []
    # AND the day's journal still says what went out, to whom by id
    day = ctx.clock.now().strftime("%Y-%m-%d")
    sent = [e for e in mail_delivery.outbox(ctx).journal(day) if e["status"] == "sent"]
    assert sent and all(e.get("member_id") == "member-1" and "to" not in e for e in sent)


def left_after_erasure(ctx: Context) -> list[tuple[str, str]]:
    """The items, but invoices and ledger lines, that still hold the member's address."""
    return [
        (item["PK"], item["SK"])
        for item in items_holding(ctx, PROFILE["email"])
        if not str(item["PK"]).startswith(("DOC#", "LEDGER#"))
    ]


def test_after_erasure_no_mail_keeps_the_address_of_a_member_with_a_company_name(
    api: Api,
    member: str,
    network: dict[str, str],
    ctx: Context,
    stripe_fake: MembershipFakeGateway,
    settings: Settings,
) -> None:
    # GIVEN a sole trader (a company name on their own profile) whose invoice was mailed
    profile = {**PROFILE, "company_name": "Camille Martin Conseil"}
    assert api.request("PUT", "/v1/me", profile, token=member).status == 200
    paid_booking(api, member, network["pool"], stripe_fake, settings, date="2026-12-04")
    # WHEN the member erases themselves
    assert api.request("DELETE", "/v1/me", token=member).status == 204
    # THEN their invoice mail, a member's like any other, kept no address
    assert left_after_erasure(ctx) == []


def test_a_staff_resend_names_the_member_by_id_in_the_audit_trail(
    api: Api,
    member: str,
    accountant: str,
    network: dict[str, str],
    ctx: Context,
    stripe_fake: MembershipFakeGateway,
    settings: Settings,
) -> None:
    # GIVEN an accountant who resent a member's invoice (an audited action)
    assert api.request("PUT", "/v1/me", PROFILE, token=member).status == 200
    paid_booking(api, member, network["pool"], stripe_fake, settings, date="2026-12-04")
    (document,) = api.get("/v1/invoices", token=member).json["items"]
    assert api.post(f"/v1/invoices/{document['id']}/send", token=accountant).status == 200
    # WHEN the member erases themselves
    assert api.request("DELETE", "/v1/me", token=member).status == 204
    # THEN the audit trail (never erased) names them by id, and nothing keeps the address
    entries = api.get(
        "/v1/audit?entity=invoice&from=2026-12-01&to=2026-12-01", token=accountant
    ).json["items"]
    assert [e["changes"]["sent_to"] for e in entries] == [[None, "member-1"]]
    assert left_after_erasure(ctx) == []
