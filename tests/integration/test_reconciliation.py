"""Stripe reconciliation: the `reconcile_payments` job and GET /v1/accounting/reconciliation.

Most tests drive real flows (bookings paid through signed webhooks) on moto with a fake
Stripe that keeps a balance with fees and itemized payouts (tests/support/
fake_stripe_ledger.py); the last ones go through the real SDK to localstripe, whose fees
are 0 and whose payouts are manual (not itemized).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from app import app
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.reconciliation_store import Cursor, ReconciliationStore
from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.api import reconciliation as reconciliation_api
from chalicelib.api.wiring import use_context
from chalicelib.config import Settings
from chalicelib.domain.ledger import LedgerLine
from chalicelib.domain.payment import Payment
from chalicelib.errors import PaymentProviderUnavailable
from chalicelib.jobs import JOBS
from chalicelib.services import reconciliation
from chalicelib.services.context import Context
from chalicelib.services.reconciliation import reconcile_payments
from tests.conftest import NOW
from tests.integration.test_webhooks import refunded_charge
from tests.support.api import Api, add_relay, assert_problem, operator_body
from tests.support.fake_stripe_ledger import LedgerFakeGateway, card_fee
from tests.support.fec_checker import check_fec
from tests.support.webhooks import deliver
from tools.local_stack import free_port
from tools.localstripe_server import (
    CARD_SUCCEEDS,
    LocalStripe,
    confirm_as_browser,
    start_localstripe,
)

# Until app.py registers the blueprint, the tests do (at import, so that the route table
# and the app agree for every test module of the session).
if "/v1/accounting/reconciliation" not in app.routes:
    app.register_blueprint(reconciliation_api.bp)

FEE = card_fee(1500)  # 48


@pytest.fixture
def stripe_fake() -> LedgerFakeGateway:
    return LedgerFakeGateway(start=int(NOW.timestamp()))


# -- helpers -----------------------------------------------------------------------------


def paid_booking(
    api: Api, member: str, pool: str, fake: LedgerFakeGateway, settings: Settings, day: str
) -> dict[str, Any]:
    body = {"resource_id": pool, "date": day, "unit": "day", "payment": "card"}
    answer = api.post("/v1/bookings", body, token=member)
    assert answer.status == 201, answer.json
    intent = fake.succeed(answer.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    return {**answer.json["booking"], "payment_intent_id": intent["id"]}


def paid_bookings(
    api: Api, member: str, network: dict, fake: LedgerFakeGateway, settings: Settings, n: int
) -> list[dict[str, Any]]:
    days = ["2026-12-04", "2026-12-07", "2026-12-08"][:n]
    return [paid_booking(api, member, network["pool"], fake, settings, day) for day in days]


def paid_at_two_operators(
    api: Api, admin: str, member: str, network: dict, fake: LedgerFakeGateway, config: Settings
) -> str:
    """A day paid at the network's relay and two at another operator's (Nangis), whose
    operator id is answered."""
    other = api.post(
        "/v1/operators",
        operator_body(name="Commune de Nangis", siren="552100554", invoice_prefix="NG"),
        token=admin,
    ).json["id"]
    nangis = add_relay(api, admin, other, name="Gare de Nangis")
    paid_booking(api, member, network["pool"], fake, config, "2026-12-04")
    paid_booking(api, member, nangis["pool"], fake, config, "2026-12-04")
    paid_booking(api, member, nangis["pool"], fake, config, "2026-12-07")
    return str(other)


def report(api: Api, token: str, operator_id: str, span: str = "") -> dict[str, Any]:
    span = span or "&from=2026-11-01&to=2026-12-31"
    answer = api.get(f"/v1/accounting/reconciliation?operator_id={operator_id}{span}", token=token)
    assert answer.status == 200, answer.json
    return dict(answer.json)


def ledger(ctx: Context, operator_id: str) -> list[LedgerLine]:
    return ctx.invoices.ledger(operator_id, 2026)


def entries(ctx: Context, operator_id: str, prefix: str) -> dict[str, list[LedgerLine]]:
    found: dict[str, list[LedgerLine]] = defaultdict(list)
    for line in ledger(ctx, operator_id):
        if line.entry_id.startswith(prefix):
            found[line.entry_id].append(line)
    return dict(found)


def fec_balances(api: Api, token: str, operator_id: str) -> dict[str, int]:
    """The FEC of 2026, checked against the DGFiP rules; answers each account's balance."""
    fec = api.get(f"/v1/accounting/fec?operator_id={operator_id}&year=2026", token=token)
    assert fec.status == 200, fec.body[:500]
    filename = fec.headers["Content-Disposition"].split('filename="')[1].rstrip('"')
    text = fec.body.decode()
    assert check_fec(text, filename) == []
    balance: dict[str, int] = defaultdict(int)
    for row in text.splitlines()[1:]:
        cols = row.split("|")
        balance[cols[4]] += int(cols[11].replace(",", "")) - int(cols[12].replace(",", ""))
    return dict(balance)


# -- payouts matched -----------------------------------------------------------------------


def test_payout_of_paid_bookings_is_matched_with_its_gross_fees_and_net(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    paid_bookings(api, member, network, stripe_fake, settings, 2)
    reconcile_payments(ctx)
    payout = stripe_fake.pay_out()

    result = reconcile_payments(ctx)

    assert result["job"] == "reconcile_payments" and result["payouts_booked"] == 1
    answer = report(api, accountant, network["operator"])
    assert [(p["id"], p["arrival_date"], p["matched"]) for p in answer["payouts"]] == [
        (payout.id, "2026-12-03", True)
    ]
    (shown,) = answer["payouts"]
    assert (shown["gross"], shown["fees"], shown["refunds"]) == (3000, 2 * FEE, 0)
    assert shown["net"] == shown["amount"] == payout.amount == 3000 - 2 * FEE
    assert answer["unmatched_payments"] == [] and answer["unpaid_invoices"] == []
    assert answer["ok"] is True


def test_a_payout_stripe_is_still_reconciling_is_matched_once_it_has_finished(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # GIVEN a paid payout whose transactions Stripe has not finished reconciling
    paid_bookings(api, member, network, stripe_fake, settings, 2)
    payout = stripe_fake.pay_out(reconciliation_status="in_progress")

    # WHEN the job runs: it is left open, not itemized (its items cannot all be listed)
    assert reconcile_payments(ctx)["payouts_booked"] == 0
    # THEN once Stripe has finished, the next run matches and books it
    stripe_fake.finish_reconciling(payout.id)
    assert reconcile_payments(ctx)["payouts_booked"] == 1
    (shown,) = report(api, accountant, network["operator"])["payouts"]
    assert (shown["id"], shown["matched"], shown["net"]) == (payout.id, True, payout.amount)


def test_payout_of_a_paid_credit_pack_is_matched(
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    """A pack's payment records its charge, as a booking's does: the payout's balance
    transaction names the charge, not the intent."""
    body = {
        "kind": "credit_pack",
        "name": "10 jours",
        "price": {"amount": 12000},
        "operator_id": network["operator"],
        "credits": 10,
        "validity_days": 180,
    }
    pack = api.post("/v1/products", body, token=admin).json
    bought = api.post("/v1/purchases", {"product_id": pack["id"]}, token=member)
    assert bought.status == 201, bought.json
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    reconcile_payments(ctx)
    payout = stripe_fake.pay_out()

    reconcile_payments(ctx)

    answer = report(api, accountant, network["operator"])
    assert [(p["id"], p["matched"]) for p in answer["payouts"]] == [(payout.id, True)]
    assert answer["unmatched_payments"] == [] and answer["ok"] is True


def test_fec_stays_balanced_and_467_holds_what_is_not_paid_out(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    first, second, _third = paid_bookings(api, member, network, stripe_fake, settings, 3)
    covered = [stripe_fake.charge_of(b["payment_intent_id"]) for b in (first, second)]
    payout = stripe_fake.pay_out(covered)

    reconcile_payments(ctx)

    balance = fec_balances(api, accountant, network["operator"])
    assert balance["627000"] == 3 * FEE
    assert balance["512000"] == payout.amount
    not_paid_out = 3 * 1500 - 3 * FEE - payout.amount
    assert balance["467000"] == not_paid_out == 1500 - FEE
    assert len(entries(ctx, network["operator"], "fee-")) == 3
    assert list(entries(ctx, network["operator"], "payout-")) == [f"payout-{payout.id}"]


def test_fees_and_payouts_go_to_the_operators_own_accounts_and_journal(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    chart = {"stripe_clearing": "471100", "bank_fees": "627800", "bank": "512100"}
    answer = api.request(
        "PUT",
        f"/v1/operators/{network['operator']}/accounting-settings",
        {"chart": chart, "journals": {"bank": "STR"}},
        token=accountant,
        headers={"If-Match": '"1"'},
    )
    assert answer.status == 200, answer.json
    first, second = paid_bookings(api, member, network, stripe_fake, settings, 2)
    payout = stripe_fake.pay_out(
        [stripe_fake.charge_of(b["payment_intent_id"]) for b in (first, second)]
    )

    reconcile_payments(ctx)

    balance = fec_balances(api, accountant, network["operator"])
    assert (balance["627800"], balance["512100"], balance["471100"]) == (
        2 * FEE,
        payout.amount,
        0,
    )
    assert not {"627000", "512000", "467000"} & set(balance)
    fees_and_payouts = [*entries(ctx, network["operator"], "fee-").values()]
    fees_and_payouts += [*entries(ctx, network["operator"], "payout-").values()]
    assert {str(line.journal) for lines in fees_and_payouts for line in lines} == {"STR"}


def test_refunds_in_a_payout_are_netted_and_clear_467(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    first, _second = paid_bookings(api, member, network, stripe_fake, settings, 2)
    cancelled = api.post(f"/v1/bookings/{first['id']}/cancel", token=member).json
    assert cancelled["refund"]["amount"] == 1500
    stripe_fake.pay_out()

    reconcile_payments(ctx)

    (shown,) = report(api, accountant, network["operator"])["payouts"]
    assert (shown["gross"], shown["refunds"], shown["fees"]) == (3000, 1500, 2 * FEE)
    assert shown["net"] == shown["amount"] == 1500 - 2 * FEE and shown["matched"] is True
    assert fec_balances(api, accountant, network["operator"])["467000"] == 0


def test_payout_spanning_two_operators_shows_each_its_part(
    api: Api,
    admin: str,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    other = paid_at_two_operators(api, admin, member, network, stripe_fake, settings)
    payout = stripe_fake.pay_out()

    reconcile_payments(ctx)

    (melun_part,) = report(api, accountant, network["operator"])["payouts"]
    (nangis_part,) = report(api, accountant, other)["payouts"]
    assert (melun_part["amount"], nangis_part["amount"]) == (1500 - FEE, 3000 - 2 * FEE)
    assert melun_part["payout_amount"] == nangis_part["payout_amount"] == payout.amount
    assert melun_part["matched"] and nangis_part["matched"]
    assert fec_balances(api, accountant, network["operator"])["512000"] == 1500 - FEE
    assert fec_balances(api, accountant, other)["512000"] == 3000 - 2 * FEE


# -- idempotent, resumable -------------------------------------------------------------------


def test_rerunning_the_job_records_nothing_twice(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    clock: FixedClock,
) -> None:
    paid_bookings(api, member, network, stripe_fake, settings, 2)
    stripe_fake.pay_out()
    first = reconcile_payments(ctx)
    books_before = ledger(ctx, network["operator"])
    report_before = report(api, accountant, network["operator"])
    clock.advance(days=1)

    again = reconcile_payments(ctx)

    assert first["processed"] == 4 and again["processed"] == 0  # 2 charges, 1 payout, own txn
    assert again["attributed"] == again["fees_booked"] == again["payouts_booked"] == 0
    assert ledger(ctx, network["operator"]) == books_before
    assert report(api, accountant, network["operator"]) == report_before


def test_a_run_that_lost_its_cursor_sweeps_everything_again_and_records_nothing_twice(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    paid_bookings(api, member, network, stripe_fake, settings, 2)
    stripe_fake.pay_out()
    reconcile_payments(ctx)
    books_before = ledger(ctx, network["operator"])
    for stream in ("balance_transactions", "payouts"):
        ctx.table.table.delete_item(Key={"PK": "RECONCILE", "SK": f"CURSOR#{stream}"})

    again = reconcile_payments(ctx)

    assert stripe_fake.page_requests[-1] is None  # swept from the top again
    assert again["processed"] == again["balance_transactions"] == 0
    assert ledger(ctx, network["operator"]) == books_before


def test_crash_mid_pagination_resumes_from_the_stored_cursor(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reconciliation, "PAGE_SIZE", 2)
    paid_bookings(api, member, network, stripe_fake, settings, 3)  # txn_1..txn_3
    stripe_fake.fail_once_after_first_page = True
    with pytest.raises(PaymentProviderUnavailable):
        reconcile_payments(ctx)
    assert len(entries(ctx, network["operator"], "fee-")) == 2  # page 1 was booked

    result = reconcile_payments(ctx)

    assert stripe_fake.page_requests[:3] == [None, "txn_2", "txn_2"]  # resumed, not restarted
    assert result["balance_transactions"] == 1 and result["fees_booked"] == 1
    fees = entries(ctx, network["operator"], "fee-")
    assert sorted(fees) == ["fee-txn_1", "fee-txn_2", "fee-txn_3"]
    assert all(len(lines) == 2 for lines in fees.values())


def test_charge_seen_before_its_payment_is_recorded_is_attributed_on_a_later_run(
    api: Api,
    member: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    body = {"resource_id": network["pool"], "date": "2026-12-04", "unit": "day", "payment": "card"}
    booked = api.post("/v1/bookings", body, token=member).json
    intent = stripe_fake.succeed(booked["payment"]["payment_intent_id"])  # webhook not yet in
    assert reconcile_payments(ctx)["attributed"] == 0
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200

    result = reconcile_payments(ctx)

    assert (result["attributed"], result["fees_booked"]) == (1, 1)


def test_a_second_run_working_from_a_stale_cursor_does_not_overwrite_it(ctx: Context) -> None:
    store = ctx.reconciliation
    read_by_both = store.cursor("balance_transactions")
    first = store.save_cursor("balance_transactions", read_by_both.advanced(starting_after="a"))

    second = store.save_cursor("balance_transactions", read_by_both.advanced(starting_after="b"))

    assert first is not None and second is None
    assert store.cursor("balance_transactions") == Cursor(version=1, starting_after="a")


# -- what does not match ---------------------------------------------------------------------


def test_a_debit_that_failed_after_the_balance_showed_it_nets_out_of_its_payout(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    """A SEPA debit Stripe showed in the balance, then took back (`payment_failure_refund`,
    its source the charge): both are the failed payment's, so the payout matches."""
    operator = network["operator"]
    paid_bookings(api, member, network, stripe_fake, settings, 1)
    body = {"resource_id": network["pool"], "date": "2026-12-07", "unit": "day"}
    held = api.post("/v1/bookings", body | {"payment": "card"}, token=member).json
    failed = stripe_fake.fail_debit(held["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.payment_failed", failed).status == 200
    payout = stripe_fake.pay_out()

    reconcile_payments(ctx)

    (shown,) = report(api, accountant, operator)["payouts"]
    assert (shown["gross"], shown["refunds"], shown["fees"]) == (3000, 1500, FEE)
    assert shown["net"] == shown["amount"] == payout.amount and shown["matched"] is True
    payment = ctx.payments.payment(failed["id"])
    assert payment is not None and (payment.status, payment.charge_id) == (
        "failed",
        f"ch_{failed['id']}",
    )
    assert fec_balances(api, accountant, operator)["467000"] == 0


def test_a_dashboard_refund_whose_event_never_came_is_read_from_stripe_and_matched(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    """Refunded in the Stripe Dashboard; its `charge.refunded` lost (Stripe stops after
    three days): the reconciliation records it as the event would have."""
    operator = network["operator"]
    refunded, _kept = paid_bookings(api, member, network, stripe_fake, settings, 2)
    intent_id = refunded["payment_intent_id"]
    refund = stripe_fake.create_refund(
        payment_intent_id=intent_id, amount=None, idempotency_key="dashboard", metadata={}
    )
    stripe_fake.pay_out()

    reconcile_payments(ctx)

    (shown,) = report(api, accountant, operator)["payouts"]
    assert (shown["gross"], shown["refunds"], shown["matched"]) == (3000, 1500, True)
    recorded = ctx.payments.refund(intent_id, refund.id)
    assert recorded is not None and recorded.reason == "dashboard"
    assert ctx.invoices.by_source(f"refund-{refund.id}") is not None  # its credit note
    booking = ctx.bookings.get(refunded["id"])
    assert booking is not None and booking.status == "cancelled"  # refunded in full
    assert fec_balances(api, accountant, operator)["467000"] == 0
    assert stripe_fake.calls.count("retrieve_refund") == 1
    reconcile_payments(ctx)
    assert stripe_fake.calls.count("retrieve_refund") == 1  # known now


def test_a_refund_counted_before_stripe_listed_it_is_never_credited_twice(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`charge.refunded` said 15,00 € were refunded while Stripe did not list the refund
    yet: recorded under the charge's id. Neither the reconciliation meeting the real
    refund in the balance, nor a later event listing it, credits it again."""
    operator = network["operator"]
    (paid,) = paid_bookings(api, member, network, stripe_fake, settings, 1)
    intent = {
        "id": paid["payment_intent_id"],
        "latest_charge": f"ch_{paid['payment_intent_id']}",
        "amount": 1500,
    }
    refund = stripe_fake.create_refund(
        payment_intent_id=intent["id"], amount=None, idempotency_key="dashboard", metadata={}
    )
    listing = stripe_fake.list_refunds
    monkeypatch.setattr(stripe_fake, "list_refunds", lambda intent_id: [])
    unlisted = refunded_charge(intent, refund.id, with_refund_list=False)
    assert deliver(api, settings, "charge.refunded", unlisted).status == 200
    monkeypatch.setattr(stripe_fake, "list_refunds", listing)

    stripe_fake.pay_out()
    reconcile_payments(ctx)
    listed = refunded_charge(intent, refund.id)
    assert deliver(api, settings, "charge.refunded", listed).status == 200

    payment = ctx.payments.payment(intent["id"])
    assert payment is not None and payment.refunded_amount == 1500
    assert [r.id for r in ctx.payments.refunds(intent["id"])] == [
        f"ch_{intent['id']}-refunded-1500"
    ]
    (shown,) = report(api, accountant, operator)["payouts"]
    assert (shown["refunds"], shown["matched"]) == (1500, True)
    assert fec_balances(api, accountant, operator)["467000"] == 0


def test_payout_whose_items_do_not_add_up_is_not_matched_nor_booked(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    paid_bookings(api, member, network, stripe_fake, settings, 2)
    payout = stripe_fake.pay_out(amount=3000 - 2 * FEE + 100)

    reconcile_payments(ctx)

    answer = report(api, accountant, network["operator"])
    (shown,) = answer["payouts"]
    assert (shown["id"], shown["amount"], shown["net"]) == (
        payout.id,
        payout.amount,
        3000 - 2 * FEE,
    )
    assert shown["matched"] is False and answer["ok"] is False
    assert entries(ctx, network["operator"], "payout-") == {}


def test_succeeded_payment_without_invoice_is_an_unmatched_payment(
    api: Api,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    ctx: Context,
) -> None:
    intent = stripe_fake.create_payment_intent(
        amount=2000, currency="EUR", description="x", metadata={}, idempotency_key="k"
    )
    ctx.payments.add_payment(
        Payment(
            intent_id=intent.id,
            kind="purchase",
            subject_id="pu_lost",
            member_id="member-1",
            operator_id=network["operator"],
            amount=2000,
            description="Pack",
            created_at=NOW,
        )
    )
    event = stripe_fake.succeed(intent.id)
    ctx.payments.mark_succeeded(intent.id, event["latest_charge"], NOW)

    reconcile_payments(ctx)

    answer = report(api, accountant, network["operator"])
    assert [(p["payment_intent_id"], p["reasons"]) for p in answer["unmatched_payments"]] == [
        (intent.id, ["no_invoice"])
    ]
    assert answer["ok"] is False


def test_paid_booking_not_yet_seen_in_the_stripe_balance_is_an_unmatched_payment(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
) -> None:
    (booking,) = paid_bookings(api, member, network, stripe_fake, settings, 1)

    answer = report(api, accountant, network["operator"])

    assert [(p["payment_intent_id"], p["reasons"]) for p in answer["unmatched_payments"]] == [
        (booking["payment_intent_id"], ["no_balance_transaction"])
    ]


def test_payout_stripe_cannot_itemize_is_shown_unmatched_to_every_operator(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    paid_bookings(api, member, network, stripe_fake, settings, 1)
    payout = stripe_fake.pay_out(manual=True)

    reconcile_payments(ctx)

    answer = report(api, accountant, network["operator"])
    assert [(p["id"], p["amount"], p["net"], p["matched"]) for p in answer["payouts"]] == [
        (payout.id, 1500 - FEE, 0, False)
    ]
    assert answer["ok"] is False


def test_report_span_excludes_payouts_arriving_outside_it(
    api: Api,
    member: str,
    accountant: str,
    network: dict,
    stripe_fake: LedgerFakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    paid_bookings(api, member, network, stripe_fake, settings, 1)
    stripe_fake.pay_out()  # arrives 2026-12-03
    reconcile_payments(ctx)

    later = report(api, accountant, network["operator"], "&from=2026-12-04&to=2026-12-31")

    assert later["payouts"] == []


# -- the route -------------------------------------------------------------------------------


def test_report_is_for_accountants_and_admins(
    api: Api, member: str, admin: str, network: dict
) -> None:
    url = f"/v1/accounting/reconciliation?operator_id={network['operator']}"
    assert_problem(api.get(url, token=member), 403, "forbidden")
    assert api.get(url, token=admin).status == 200


def test_report_of_unknown_operator_is_404_and_reversed_span_422(
    api: Api, accountant: str, network: dict
) -> None:
    url = "/v1/accounting/reconciliation?operator_id="
    assert_problem(api.get(url + "op_nope", token=accountant), 404, "not_found")
    reversed_span = f"{network['operator']}&from=2026-12-31&to=2026-12-01"
    assert_problem(api.get(url + reversed_span, token=accountant), 422, "validation_error")


def test_job_runs_by_hand_once_listed_in_jobs(
    api: Api, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(JOBS, "reconcile_payments", reconcile_payments)

    answer = api.post("/v1/admin/jobs/reconcile_payments", {}, token=admin)

    assert answer.status == 200, answer.json
    assert answer.json["job"] == "reconcile_payments" and answer.json["processed"] == 0


# -- against localstripe, through the real SDK -------------------------------------------------


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    server = start_localstripe(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live(api: Api, ctx: Context, localstripe: LocalStripe) -> Iterator[Context]:
    """The app's context with the real StripeGateway to localstripe (same table, clock)."""
    gateway = StripeGateway(api_key="sk_test_x", api_base=localstripe.base_url, timeout_seconds=5)
    context = Context(
        settings=ctx.settings, table=ctx.table, clock=ctx.clock, gateway_override=gateway
    )
    use_context(context)
    yield context
    use_context(ctx)


def test_localstripe_charge_of_a_paid_intent_is_pulled_and_matched(
    api: Api, member: str, accountant: str, network: dict, live: Context, settings: Settings
) -> None:
    gateway = live.gateway
    assert isinstance(gateway, StripeGateway)
    body = {"resource_id": network["pool"], "date": "2026-12-04", "unit": "day", "payment": "card"}
    intent_id = api.post("/v1/bookings", body, token=member).json["payment"]["payment_intent_id"]
    confirm_as_browser(gateway, intent_id, CARD_SUCCEEDS)
    intent = gateway.client.v1.payment_intents.retrieve(intent_id).to_dict()
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    assert report(api, accountant, network["operator"])["unmatched_payments"] != []

    result = reconcile_payments(live)

    assert result["attributed"] >= 1 and result["fees_booked"] == 0  # localstripe: no fees
    assert report(api, accountant, network["operator"])["unmatched_payments"] == []
    charge = live.payments.payment(intent_id)
    assert charge is not None and charge.charge_id
    assert intent_id in ReconciliationStore(live.table).charged_intents([intent_id])


def test_localstripe_manual_payout_cannot_be_itemized_and_stays_unmatched(
    api: Api, accountant: str, network: dict, live: Context
) -> None:
    gateway = live.gateway
    assert isinstance(gateway, StripeGateway)
    payout = gateway.client.v1.payouts.create(
        params={"amount": 1000, "currency": "eur", "status": "paid"}  # localstripe only
    )

    assert gateway.list_payout_transactions(payout.id, starting_after=None) == ([], False)

    reconcile_payments(live)

    shown = report(api, accountant, network["operator"], "&from=2026-01-01")["payouts"]
    assert [(p["id"], p["amount"], p["matched"]) for p in shown if p["id"] == payout.id] == [
        (payout.id, 1000, False)
    ]
