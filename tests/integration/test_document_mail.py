"""Invoices and credit notes reach their buyers by mail (SES in moto), their Factur-X PDF
attached, once whatever the retries; `POST /v1/invoices/{id}/send` sends one again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.adapters.dynamo import Table
from chalicelib.config import Settings
from chalicelib.services import document_mail, invoicing, mail_delivery, notifications
from chalicelib.services.context import Context
from tests.conftest import make_settings
from tests.integration.test_notifications import (
    SENDER,
    SENDER_ADDRESS,
    THURSDAY,
    break_ses,
    mend_ses,
    paid_booking,
    sent,
)
from tests.support.api import Api, assert_problem
from tests.support.fake_stripe import FakeGateway

REGION = "eu-west-3"


@pytest.fixture
def settings(auth_keys: tuple[Path, Path]) -> Settings:
    return make_settings(auth_keys[1], MAIL_FROM=SENDER)


@pytest.fixture
def ses(table: Table) -> Any:
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER_ADDRESS)
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    backend.sent_messages.clear()
    return backend


def document_mails(ses: Any) -> list[Any]:
    return [
        m
        for m in sent(ses, documents=True)
        if str(m["X-Relais-Message-Key"]).startswith("document-")
    ]


def invoice_of(api: Api, token: str) -> dict[str, Any]:
    (document,) = api.get("/v1/invoices", token=token).json["items"]
    return dict(document)


def company_invoice(
    ctx: Context, operator_id: str, source: str = "co-1", lines: int = 1
) -> dict[str, Any]:
    line = {
        "description": "Forfait bureaux novembre",
        "quantity": "1",
        "unit_price_excl_vat": 15000,
        "vat_rate": "20.00",
        "amount_excl_vat": 15000,
        "vat_amount": 3000,
        "amount_incl_vat": 18000,
        "service_date": "2026-11-30",
    }
    buyer = {
        "name": "Atelier Dupont",
        "company_name": "Atelier Dupont",
        "siren": "404833048",
        "address": {"line1": "1 rue de la Gare", "postal_code": "77000", "city": "Melun"},
        "email": "compta@dupont.test",
    }
    payment = {"status": "due", "method": "transfer", "due_date": "2026-12-31"}
    return invoicing.issue(
        ctx,
        operator_id=operator_id,
        source=source,
        buyer=buyer,
        member_id=None,
        lines=[line] * lines,
        payment=payment,
    )


def test_a_paid_booking_s_invoice_is_mailed_once_with_its_pdf(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
) -> None:
    paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    document = invoice_of(api, member)
    (mail,) = document_mails(ses)
    assert mail["To"] == "member-1@example.org"
    assert mail["Subject"] == f"Facture {document['number']} — {document['seller']['name']}"
    assert mail["X-Relais-Message-Key"] == f"document-{document['id']}-issued"
    (pdf,) = list(mail.iter_attachments())
    assert (pdf.get_content_type(), pdf.get_filename()) == (
        "application/pdf",
        f"{document['number']}.pdf",
    )
    assert pdf.get_content().startswith(b"%PDF")
    assert "Elle est réglée" in mail.get_body(("plain",)).get_content()


def test_issuing_again_the_same_document_sends_no_second_mail(
    ctx: Context, api: Api, admin: str, network: dict[str, str], ses: Any
) -> None:
    first = company_invoice(ctx, network["operator"])
    again = company_invoice(ctx, network["operator"])
    assert again["id"] == first["id"]
    (mail,) = document_mails(ses)
    assert mail["To"] == "compta@dupont.test"
    text = mail.get_body(("plain",)).get_content()
    assert "jeudi 31 décembre 2026" in text  # due date of a transfer


def test_a_mail_lost_between_issue_and_send_goes_out_when_the_flow_is_retried(
    ctx: Context, network: dict[str, str], ses: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(document_mail, "notify_document_issued", lambda *a, **k: "error")
    company_invoice(ctx, network["operator"])  # the process "died" before the mail
    assert document_mails(ses) == []
    monkeypatch.undo()
    company_invoice(ctx, network["operator"])  # the flow retried: the document exists
    assert len(document_mails(ses)) == 1


def test_the_member_resends_their_invoice_once_per_idempotency_key(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
) -> None:
    paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    document = invoice_of(api, member)
    path = f"/v1/invoices/{document['id']}/send"
    headers = {"Idempotency-Key": "resend-1"}
    first = api.post(path, token=member, headers=headers)
    again = api.post(path, token=member, headers=headers)
    assert first.status == 200, first.json
    assert first.json == {
        "invoice_id": document["id"],
        "number": document["number"],
        "to": "member-1@example.org",
        "status": "sent",
    }
    assert again.json == first.json and again.headers.get("Idempotent-Replayed") == "true"
    assert len(document_mails(ses)) == 2  # the issue's, and one resend


def test_another_member_cannot_resend_and_staff_resends_are_audited(
    ctx: Context, api: Api, member: str, accountant: str, network: dict[str, str], ses: Any
) -> None:
    document = company_invoice(ctx, network["operator"])
    path = f"/v1/invoices/{document['id']}/send"
    assert_problem(api.post(path, token=member), 404, "not_found")
    assert api.post(path, token=accountant).status == 200
    entries = api.get(
        "/v1/audit?entity=invoice&from=2026-12-01&to=2026-12-01", token=accountant
    ).json["items"]
    assert [(e["action"], e["entity_id"]) for e in entries] == [("send", document["id"])]


def test_a_buyer_without_an_email_or_mail_off_is_a_conflict(
    ctx: Context,
    api: Api,
    accountant: str,
    network: dict[str, str],
    ses: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = company_invoice(ctx, network["operator"])
    monkeypatch.setattr(document_mail, "document_recipient", lambda c, d: None)
    answer = api.post(f"/v1/invoices/{document['id']}/send", token=accountant)
    assert "no e-mail" in assert_problem(answer, 409, "invalid_state")["detail"]
    monkeypatch.setattr(mail_delivery, "mailer_for", lambda c: None)
    answer = api.post(f"/v1/invoices/{document['id']}/send", token=accountant)
    assert "MAIL_FROM" in assert_problem(answer, 409, "invalid_state")["detail"]


def test_a_mail_whose_flow_never_came_back_is_sent_by_the_hourly_job(
    ctx: Context, network: dict[str, str], ses: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(document_mail, "notify_document_issued", lambda *a, **k: "error")
        company_invoice(ctx, network["operator"])  # issued; the process "died" before the mail
    assert document_mails(ses) == []
    first = notifications.send_reminders(ctx, ctx.clock.now())
    again = notifications.send_reminders(ctx, ctx.clock.now())
    assert (first["documents_sent"], again["documents_sent"]) == (1, 0)
    assert len(document_mails(ses)) == 1


def test_a_member_with_a_company_name_gets_their_invoice_in_their_own_language(
    api: Api,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ses: Any,
    ctx: Context,
) -> None:
    # GIVEN a sole trader: a company name on their own profile, and English preferred
    profile = {
        "name": "Camille Martin",
        "email": "camille.martin@example.org",
        "company_name": "Camille Martin Conseil",
        "language": "en",
    }
    assert api.request("PUT", "/v1/me", profile, token=member).status == 200
    # WHEN they pay a booking
    paid_booking(api, settings, stripe_fake, member, network["pool"], THURSDAY)
    # THEN their invoice is theirs: to them, in English, and the outbox names them by id
    document = invoice_of(api, member)
    (mail,) = document_mails(ses)
    assert mail["To"] == "camille.martin@example.org"
    assert mail["Subject"] == f"Invoice {document['number']} — {document['seller']['name']}"
    record = mail_delivery.outbox(ctx).get(document_mail.document_issued_key(document["id"]))
    assert record is not None and record["member_id"] == "member-1" and "to" not in record


def test_a_company_invoice_too_large_for_an_outbox_item_is_still_mailed(
    ctx: Context, network: dict[str, str], ses: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a company's monthly invoice of 1,500 lines (a PDF of ~300 KB), whose first
    # send fails (an item holds 400 KB: the outbox keeps the PDF by reference)
    break_ses(ctx, monkeypatch)
    document = company_invoice(ctx, network["operator"], lines=1500)
    key = document_mail.document_issued_key(document["id"])
    record = mail_delivery.outbox(ctx).get(key)
    assert record is not None and record["status"] == "failed"
    (kept,) = record["attachments"]
    assert "content" not in kept and kept["source"] == f"document:{document['id']}"
    # WHEN the hourly job retries it
    mend_ses(ctx, monkeypatch)
    answer = notifications.send_reminders(ctx, ctx.clock.now() + timedelta(minutes=20))
    # THEN the buyer gets it, its PDF rebuilt from the document
    assert answer["retries_sent"] == 1
    (mail,) = document_mails(ses)
    assert mail["To"] == "compta@dupont.test"
    (pdf,) = list(mail.iter_attachments())
    assert pdf.get_content().startswith(b"%PDF") and len(pdf.get_content()) > 200_000
    assert mail_delivery.outbox(ctx).get(key)["status"] == "sent"
