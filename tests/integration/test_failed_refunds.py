"""Refunds Stripe could not make (`charge.refund.updated` / `refund.failed`, status
`failed`): the booking says so, the customer's account is owed the amount again (one bank
entry, however often the event comes), the reconciliation nets the `refund_failure` in its
payout and lists the refund for the accountant; the credit note stands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from chalicelib.domain.timezones import PARIS
from chalicelib.errors import PaymentProviderUnavailable
from chalicelib.jobs import run_job
from chalicelib.services.context import Context
from chalicelib.services.reconciliation import reconcile_payments
from tests.integration.test_notifications import (  # noqa: F401 (fixtures: SES on)
    sent,
    ses,
    settings,
)
from tests.integration.test_reconciliation import (  # noqa: F401 (the fixture)
    FEE,
    entries,
    fec_balances,
    paid_booking,
    report,
    stripe_fake,
)
from tests.support.api import Api
from tests.support.fake_stripe_ledger import LedgerFakeGateway
from tests.support.webhooks import deliver

CLEARING, CUSTOMERS = "467000", "411000"
pytestmark = pytest.mark.usefixtures("ses")


def cancelled_with_refund(
    api: Api, member: str, network: dict, fake: LedgerFakeGateway, config: Settings
) -> dict[str, Any]:
    booking = paid_booking(api, member, network["pool"], fake, config, "2026-12-07")
    answer = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)
    assert answer.status == 200, answer.json
    assert answer.json["refund"]["amount"] == 1500
    (refund_id,) = fake.refunds
    return {**booking, **answer.json, "refund_id": refund_id}


def customer_balance(api: Api, token: str, operator_id: str, member_sub: str) -> int:
    """What the member's auxiliary account holds in the FEC (debit - credit)."""
    fec = api.get(f"/v1/accounting/fec?operator_id={operator_id}&year=2026", token=token)
    assert fec.status == 200
    total = 0
    for row in fec.body.decode().splitlines()[1:]:
        cols = row.split("|")
        if cols[4] == CUSTOMERS and cols[6] == member_sub:
            total += int(cols[11].replace(",", "")) - int(cols[12].replace(",", ""))
    return total


@pytest.mark.parametrize("event_type", ["charge.refund.updated", "refund.failed"])
def test_a_refund_that_fails_leaves_the_member_owed_and_the_books_balanced(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
    ses: Any,  # noqa: F811
    event_type: str,
) -> None:
    # GIVEN a paid booking cancelled in time: refunded 15,00 €, with its credit note
    cancelled = cancelled_with_refund(api, member, network, stripe_fake, settings)
    refund_id = cancelled["refund_id"]
    operator = network["operator"]
    member_sub = cancelled["booking"]["member_id"]
    assert customer_balance(api, accountant, operator, member_sub) == 0

    # WHEN the member's bank refuses the refund days later (the event comes twice)
    failed = stripe_fake.fail_refund(refund_id)
    first = deliver(api, settings, event_type, failed)
    again = deliver(api, settings, event_type, failed)

    # THEN the booking's refund says it failed, and the credit note stands
    assert first.status == again.status == 200
    assert (first.json["outcome"], again.json["outcome"]) == (
        "refund_failure_recorded",
        "already_recorded",
    )
    booking = api.get(f"/v1/bookings/{cancelled['id']}", token=member).json
    assert booking["refund"]["status"] == "failed"
    note = api.get(f"/v1/invoices/{cancelled['credit_note_id']}", token=accountant)
    assert note.status == 200 and note.json["totals"]["incl_vat"] == -1500
    # AND one bank entry puts the money back: the member is owed 15,00 € (a credit)
    (entry,) = entries(ctx, operator, f"{cancelled['credit_note_id']}-BQ-failed").values()
    assert {(line.account, line.debit, line.credit) for line in entry} == {
        (CLEARING, 1500, 0),
        (CUSTOMERS, 0, 1500),
    }
    assert {line.piece_ref for line in entry} == {note.json["number"]}
    assert customer_balance(api, accountant, operator, member_sub) == -1500
    # AND the member is told, once, that the money is still theirs
    (mail,) = [m for m in sent(ses) if m["X-Relais-Message-Key"] == f"refund-{refund_id}-failed"]
    assert mail["Subject"] == "Votre remboursement de 15,00\u00a0€ n'a pas pu être effectué"
    assert note.json["number"] in mail.get_body(("plain",)).get_content()

    # WHEN Stripe pays out (the charge, the refund and its failure) and it is reconciled
    stripe_fake.pay_out()
    reconcile_payments(ctx)

    # THEN the payout matches with no refund netted, the clearing account is empty, and
    # the accountant sees the refund to make another way
    shown = report(api, accountant, operator)
    (payout,) = shown["payouts"]
    assert (payout["gross"], payout["refunds"], payout["fees"]) == (1500, 0, FEE)
    assert payout["matched"] is True
    assert fec_balances(api, accountant, operator)[CLEARING] == 0
    (owed,) = shown["failed_refunds"]
    assert owed["refund_id"] == refund_id and owed["amount"] == 1500
    assert owed["status"] == "failed"
    assert owed["failure_reason"] == "expired_or_canceled_card"
    assert owed["credit_note_id"] == cancelled["credit_note_id"]
    assert owed["member_id"] == member_sub and owed["failed_at"]


def test_a_refund_failure_whose_event_never_came_is_taken_into_account_by_the_reconciliation(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
    ses: Any,  # noqa: F811
) -> None:
    # GIVEN a refund the bank refused, whose event was lost (Stripe stops after 3 days)
    cancelled = cancelled_with_refund(api, member, network, stripe_fake, settings)
    refund_id, operator = cancelled["refund_id"], network["operator"]
    failed = stripe_fake.fail_refund(refund_id)

    # WHEN the reconciliation meets its `refund_failure` in Stripe's balance
    stripe_fake.pay_out()
    reconcile_payments(ctx)

    # THEN it is taken into account as the event would have: the booking says so, one
    # bank entry, the member owed and told once, the payout matched
    booking = api.get(f"/v1/bookings/{cancelled['id']}", token=member).json
    assert booking["refund"]["status"] == "failed"
    assert len(entries(ctx, operator, f"{cancelled['credit_note_id']}-BQ-failed")) == 1
    assert customer_balance(api, accountant, operator, booking["member_id"]) == -1500
    mails = [m for m in sent(ses) if m["X-Relais-Message-Key"] == f"refund-{refund_id}-failed"]
    assert len(mails) == 1
    shown = report(api, accountant, operator)
    assert shown["payouts"][0]["matched"] is True
    assert [r["refund_id"] for r in shown["failed_refunds"]] == [refund_id]
    # AND the event, if it comes after all, changes nothing
    late = deliver(api, settings, "charge.refund.updated", failed)
    assert late.status == 200 and late.json["outcome"] == "already_recorded"
    assert len(entries(ctx, operator, f"{cancelled['credit_note_id']}-BQ-failed")) == 1
    key = mails[0]["X-Relais-Message-Key"]
    assert len([m for m in sent(ses) if m["X-Relais-Message-Key"] == key]) == 1
    # AND Stripe's reason was read with the refund (the balance does not give it)
    (owed,) = report(api, accountant, operator)["failed_refunds"]
    assert owed["failure_reason"] == "expired_or_canceled_card"


def test_a_refund_whose_answer_was_lost_keeps_its_id_on_the_booking_until_it_fails(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stripe made the cancellation's refund but its answer was lost; the reconciliation
    records it from the balance: the booking notes that refund (its id), so the bank
    refusing it later reaches the booking."""
    booking = paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-07")
    make = stripe_fake.create_refund

    def made_then_lost(**kwargs: Any) -> Any:
        make(**kwargs)
        raise PaymentProviderUnavailable("Stripe timed out (fake).")

    monkeypatch.setattr(stripe_fake, "create_refund", made_then_lost)
    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)
    assert cancelled.status == 200, cancelled.json
    monkeypatch.undo()
    (refund_id,) = stripe_fake.refunds

    stripe_fake.pay_out()
    reconcile_payments(ctx)
    run_job(ctx, "expire_holds")  # the refund still owed: made already, nothing more

    stored = ctx.bookings.get(booking["id"])
    assert stored is not None and stored.refund is not None
    assert (stored.refund["id"], stored.refund["amount"]) == (refund_id, 1500)
    assert [r.reason for r in ctx.payments.refunds(booking["payment_intent_id"])] == [
        "requested_by_customer"
    ]
    failed = stripe_fake.fail_refund(refund_id)
    assert deliver(api, settings, "charge.refund.updated", failed).status == 200
    shown = api.get(f"/v1/bookings/{booking['id']}", token=member).json
    assert shown["refund"]["status"] == "failed"


def test_a_refund_failing_weeks_later_is_still_found_in_its_payout(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
    clock: FixedClock,
) -> None:
    # GIVEN a refund paid out with its charge, that the bank refuses 40 days later
    cancelled = cancelled_with_refund(api, member, network, stripe_fake, settings)
    stripe_fake.pay_out()
    reconcile_payments(ctx)
    clock.moment = datetime(2027, 1, 10, 9, 0, tzinfo=PARIS)
    failed = stripe_fake.fail_refund(cancelled["refund_id"], days_later=40)
    assert deliver(api, settings, "charge.refund.updated", failed).status == 200

    # WHEN its money is paid out and reconciled
    stripe_fake.pay_out()
    reconcile_payments(ctx)

    # THEN that payout is matched: the `refund_failure` is the refund's, made long before
    span = "&from=2026-11-01&to=2027-03-31"
    first, second = report(api, accountant, network["operator"], span)["payouts"]
    assert (first["net"], first["matched"]) == (-FEE, True)
    assert (second["amount"], second["refunds"], second["matched"]) == (1500, -1500, True)
    # AND the Stripe clearing account is empty at the end of each year
    assert fec_balances(api, accountant, network["operator"])[CLEARING] == 0
    january = [
        line for line in ctx.invoices.ledger(network["operator"], 2027) if line.account == CLEARING
    ]
    assert sum(line.debit - line.credit for line in january) == 0
    # AND the accountant's report lists the refund in the span it failed in, not before
    december = report(api, accountant, network["operator"], "&from=2026-12-01&to=2026-12-31")
    assert december["failed_refunds"] == []
    (owed,) = report(api, accountant, network["operator"], "&from=2027-01-01&to=2027-01-31")[
        "failed_refunds"
    ]
    assert owed["refund_id"] == cancelled["refund_id"]


def test_a_charge_refunded_listing_a_failed_refund_never_recorded_issues_nothing(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
) -> None:
    # GIVEN a paid booking, and a dashboard refund that failed before Relais heard of it
    booking = paid_booking(api, member, network["pool"], stripe_fake, settings, "2026-12-07")
    charge = {
        "id": f"ch_{booking['payment_intent_id']}",
        "object": "charge",
        "payment_intent": booking["payment_intent_id"],
        "amount": 1500,
        "amount_refunded": 0,
        "refunds": {
            "data": [
                {"id": "re_dash", "amount": 1500, "status": "failed", "metadata": {}},
            ]
        },
    }
    # WHEN `charge.refunded` lists it
    answer = deliver(api, settings, "charge.refunded", charge)
    # THEN no credit note is issued and the booking stays confirmed
    assert answer.status == 200, answer.json
    notes = api.get(
        f"/v1/invoices?operator_id={network['operator']}&type=credit_note", token=accountant
    )
    assert notes.status == 200 and notes.json["items"] == []
    assert api.get(f"/v1/bookings/{booking['id']}", token=member).json["status"] == "confirmed"


def test_a_pending_refund_that_succeeds_is_noted_and_an_unknown_one_ignored(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,  # noqa: F811
    settings: Settings,  # noqa: F811
    ctx: Context,
) -> None:
    # GIVEN a refund recorded while pending (a SEPA refund takes days)
    cancelled = cancelled_with_refund(api, member, network, stripe_fake, settings)
    refund_id, intent_id = cancelled["refund_id"], cancelled["payment_intent_id"]
    ours = ctx.payments.refund(intent_id, refund_id)
    assert ours is not None
    ctx.payments._table.table.update_item(  # as Stripe first answered it
        Key={"PK": f"PAYMENT#{intent_id}", "SK": f"REFUND#{refund_id}"},
        UpdateExpression="SET #s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": "pending"},
    )
    assert ctx.bookings.refund_status(cancelled["id"], refund_id, "pending")
    succeeded = {**stripe_fake.fail_refund(refund_id), "status": "succeeded"}
    succeeded.pop("failure_reason")

    # WHEN Stripe says it succeeded, and then speaks of a refund Relais never made
    done = deliver(api, settings, "refund.updated", succeeded)
    unknown = deliver(
        api, settings, "refund.failed", {**succeeded, "id": "re_x", "status": "failed"}
    )

    # THEN the refund is succeeded, and the unknown one is only kept as failed: nothing
    # credited, nothing taken off the payment
    assert (done.json["outcome"], unknown.json["outcome"]) == (
        "refund_succeeded",
        "failed_before_recorded",
    )
    noted = ctx.payments.refund(intent_id, refund_id)
    assert noted is not None and noted.status == "succeeded"
    kept = ctx.payments.refund(intent_id, "re_x")
    assert kept is not None and (kept.status, kept.credited) == ("failed", False)
    payment = ctx.payments.payment(intent_id)
    assert payment is not None and payment.refunded_amount == 1500
    assert ctx.invoices.by_source("refund-re_x") is None
    booking = api.get(f"/v1/bookings/{cancelled['id']}", token=member).json
    assert booking["refund"] == {"amount": 1500, "status": "succeeded"}
