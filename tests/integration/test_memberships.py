"""Memberships through the API (moto, fake Stripe): saving a card or SEPA mandate, the
first period charged off-session, renewals across month ends and DST, catch-up runs,
concurrent runs, SEPA processing then failure, authentication required off-session,
cancelling, invoices, and bookings paid by a membership."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.config import Settings
from chalicelib.jobs import run_job
from chalicelib.services import membership_charges
from chalicelib.services.context import Context
from tests.integration.test_partial_credit_notes import charge_refunded
from tests.support.api import Answer, Api, assert_problem, book, booked
from tests.support.fake_stripe import signed_event
from tests.support.fake_stripe_memberships import Behaviour, MembershipFakeGateway

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


# -- helpers ------------------------------------------------------------------------------


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def deliver(api: Api, settings: Settings, event_type: str, obj: dict[str, Any]) -> Answer:
    payload, header = signed_event(event_type, obj, settings.stripe_webhook_secret)
    return api.post("/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header})


def membership_product(api: Api, admin: str, operator_id: str, days: float | None = 2) -> str:
    body: dict[str, Any] = {
        "kind": "membership",
        "name": "Nomade",
        "price": {"amount": 9900, "vat_rate": "20.00"},
        "operator_id": operator_id,
        "period": "month",
    }
    if days is not None:
        body["days_per_period"] = days
    answer = api.post("/v1/products", body, token=admin)
    assert answer.status == 201, answer.json
    return str(answer.json["id"])


def subscribe(api: Api, token: str, product_id: str, method: str = "card", **kw: Any) -> Answer:
    body = {"product_id": product_id, "payment_method_type": method}
    return api.post("/v1/memberships", body, token=token, **kw)


def mine(api: Api, token: str) -> dict[str, Any]:
    """The caller's one membership, as `GET /v1/memberships` answers it."""
    answer = api.get("/v1/memberships", token=token)
    assert answer.status == 200, answer.json
    (membership,) = answer.json["items"]
    return dict(membership)


def start_membership(
    api: Api,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    token: str,
    product_id: str,
    *,
    method: str = "card",
    behaviour: Behaviour = "succeeds",
) -> str:
    """Subscribe, save the payment method (the setup_intent.succeeded webhook): its id."""
    answer = subscribe(api, token, product_id, method)
    assert answer.status == 201, answer.json
    setup = stripe_fake.save_payment_method(answer.json["setup"]["setup_intent_id"], behaviour)
    assert deliver(api, settings, "setup_intent.succeeded", setup).status == 200
    return str(answer.json["membership"]["id"])


def run_renewals(api: Api, admin: str, as_of: datetime) -> dict[str, Any]:
    answer = api.post("/v1/admin/jobs/renew_memberships", {"as_of": as_of.isoformat()}, token=admin)
    assert answer.status == 200, answer.json
    return dict(answer.json)


def invoices(api: Api, token: str) -> list[dict[str, Any]]:
    answer = api.get("/v1/invoices", token=token)
    assert answer.status == 200, answer.json
    return list(answer.json["items"])


@pytest.fixture
def product(api: Api, admin: str, network: dict[str, str]) -> str:
    return membership_product(api, admin, network["operator"])


# -- taking one out -----------------------------------------------------------------------


def test_subscribing_answers_an_incomplete_membership_and_its_setup_intent(
    api: Api, member: str, product: str, stripe_fake: MembershipFakeGateway
) -> None:
    answer = subscribe(api, member, product, "sepa_debit", headers={"Idempotency-Key": "m-1"})
    assert answer.status == 201, answer.json
    membership, setup = answer.json["membership"], answer.json["setup"]
    assert membership["status"] == "incomplete"
    assert setup["client_secret"] == f"{setup['setup_intent_id']}_secret"
    saved = stripe_fake.setup_intents[setup["setup_intent_id"]]
    assert saved.payment_method_types == ["sepa_debit"]
    assert saved.metadata["membership_id"] == membership["id"]
    assert stripe_fake._by_key[f"membership-{membership['id']}-customer"] == saved.customer
    assert stripe_fake._by_key[f"membership-{membership['id']}-setup"] == saved.id


def test_a_retried_subscription_reuses_its_customer_and_setup_intent(
    api: Api, member: str, product: str, stripe_fake: MembershipFakeGateway
) -> None:
    first = subscribe(api, member, product, headers={"Idempotency-Key": "m-1"})
    again = subscribe(api, member, product, headers={"Idempotency-Key": "m-1"})
    assert again.json == first.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (len(stripe_fake.customers), len(stripe_fake.setup_intents)) == (1, 1)


def test_a_credit_pack_is_not_a_membership(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    pack = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000},
            "operator_id": network["operator"],
            "credits": 10,
            "validity_days": 180,
        },
        token=admin,
    ).json
    assert_problem(subscribe(api, member, pack["id"]), 422, "validation_error")
    assert_problem(subscribe(api, member, "prd_nope"), 404, "not_found")


def test_saved_card_pays_the_first_period_off_session_and_activates(
    api: Api, member: str, product: str, settings: Settings, stripe_fake: MembershipFakeGateway
) -> None:
    # GIVEN a member who subscribed, WHEN the SetupIntent succeeds
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    # THEN the first period was charged once, off-session, with its deterministic key
    (charge,) = stripe_fake.charges
    assert charge.key == f"membership-{membership_id}-period-1"
    assert charge.amount == 9900 and charge.metadata["kind"] == "membership"
    membership = mine(api, member)
    assert membership["status"] == "active"
    assert membership["current_period_start"] == "2026-12-01T00:00:00+01:00"
    assert membership["current_period_end"] == "2027-01-01T00:00:00+01:00"
    assert (membership["days_used"], membership["days_per_period"]) == (0, 2)
    # AND the period is invoiced once, even when Stripe's success webhook follows
    succeeded = stripe_fake.event_object(charge.intent_id)
    assert deliver(api, settings, "payment_intent.succeeded", succeeded).status == 200
    (invoice,) = invoices(api, member)
    assert invoice["totals"]["incl_vat"] == 9900
    (line,) = invoice["lines"]
    assert line["description"] == "Nomade — abonnement du 01/12/2026 au 31/12/2026"
    assert line["service_date"] == "2026-12-01"
    assert any("par carte bancaire" in mention for mention in invoice["legal_mentions"])


def test_a_paid_period_records_its_charge_for_the_payout_reconciliation(
    api: Api,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    ctx: Context,
) -> None:
    start_membership(api, settings, stripe_fake, member, product)
    (charge,) = stripe_fake.charges
    succeeded = stripe_fake.event_object(charge.intent_id)
    assert deliver(api, settings, "payment_intent.succeeded", succeeded).status == 200
    payment = ctx.payments.payment(charge.intent_id)
    assert payment is not None and payment.charge_id == f"ch_{charge.intent_id}"


def test_setup_delivered_twice_charges_the_first_period_once(
    api: Api, member: str, product: str, settings: Settings, stripe_fake: MembershipFakeGateway
) -> None:
    answer = subscribe(api, member, product)
    setup = stripe_fake.save_payment_method(answer.json["setup"]["setup_intent_id"])
    for _ in range(2):  # two deliveries under two event ids
        assert deliver(api, settings, "setup_intent.succeeded", setup).status == 200
    assert len(stripe_fake.first_charges()) == 1
    assert len(invoices(api, member)) == 1


def test_stripe_down_at_setup_leaves_the_first_charge_to_the_job(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> None:
    answer = subscribe(api, member, product)
    setup = stripe_fake.save_payment_method(answer.json["setup"]["setup_intent_id"])
    stripe_fake.unavailable = True
    refused = deliver(api, settings, "setup_intent.succeeded", setup)
    assert refused.status == 503  # Stripe will deliver it again
    stripe_fake.unavailable = False
    assert run_renewals(api, admin, clock.now())["paid"] == 1
    assert mine(api, member)["status"] == "active"


# -- renewals -----------------------------------------------------------------------------


def test_renewals_follow_the_start_day_across_month_ends_and_dst(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> None:
    # GIVEN a membership taken out on 31 January
    clock.moment = paris(2027, 1, 31, 10, 0)
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    # WHEN the daily job runs just after midnight on 28 February, then on 31 March
    clock.moment = paris(2027, 2, 28, 0, 5)
    assert run_renewals(api, admin, clock.moment)["paid"] == 1
    february = mine(api, member)
    clock.moment = paris(2027, 3, 31, 0, 5)  # DST started on 28 March
    assert run_renewals(api, admin, clock.moment)["paid"] == 1
    march = mine(api, member)
    # THEN each period starts on the anchor day (clamped), at Paris midnight
    assert (february["current_period_start"], february["current_period_end"]) == (
        "2027-02-28T00:00:00+01:00",
        "2027-03-31T00:00:00+02:00",
    )
    assert (march["current_period_start"], march["current_period_end"]) == (
        "2027-03-31T00:00:00+02:00",
        "2027-04-30T00:00:00+02:00",
    )
    assert [c.key for c in stripe_fake.charges] == [
        f"membership-{membership_id}-period-{n}" for n in (1, 2, 3)
    ]
    assert len(invoices(api, member)) == 3


def test_a_renewal_is_not_due_before_paris_midnight(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> None:
    clock.moment = paris(2027, 1, 31, 10, 0)
    start_membership(api, settings, stripe_fake, member, product)
    assert run_renewals(api, admin, paris(2027, 2, 27, 23, 55))["processed"] == 0
    assert run_renewals(api, admin, paris(2027, 2, 28, 0, 0))["paid"] == 1


def test_a_catch_up_after_three_missed_days_charges_the_period_once(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> None:
    # GIVEN a renewal due on 1 January, and the job down on the 1st, 2nd and 3rd
    start_membership(api, settings, stripe_fake, member, product)
    clock.moment = paris(2027, 1, 4, 9, 0)
    # WHEN the missed days are caught up, oldest first, then today's run
    for day in (1, 2, 3, 4):
        run_renewals(api, admin, paris(2027, 1, day, 0, 5))
    # THEN the January period was charged once, not three or four times
    assert [c.metadata["period"] for c in stripe_fake.charges] == ["1", "2"]
    assert mine(api, member)["current_period_start"] == "2027-01-01T00:00:00+01:00"


def test_a_catch_up_over_months_charges_only_the_current_period(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    start_membership(api, settings, stripe_fake, member, product)
    assert run_renewals(api, admin, paris(2027, 2, 10, 0, 5))["paid"] == 1
    assert [c.metadata["period"] for c in stripe_fake.charges] == ["1", "3"]
    assert mine(api, member)["current_period_start"] == "2027-02-01T00:00:00+01:00"


def test_the_job_run_again_while_a_run_is_charging_charges_once(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a due renewal, and a second run starting while the first one talks to Stripe
    start_membership(api, settings, stripe_fake, member, product)
    due = paris(2027, 1, 1, 0, 5)
    charge = stripe_fake.charge_off_session
    overlapping: list[dict[str, Any]] = []

    def charge_while_another_run_starts(**kwargs: Any) -> Any:
        overlapping.append(membership_charges.renew_memberships(ctx, due))
        return charge(**kwargs)

    monkeypatch.setattr(stripe_fake, "charge_off_session", charge_while_another_run_starts)
    # WHEN the first run charges
    first = membership_charges.renew_memberships(ctx, due)
    # THEN the overlapping run found it claimed, and Stripe was asked once
    assert first["paid"] == 1
    assert overlapping == [{"job": "renew_memberships", "processed": 0}]
    assert len(stripe_fake.charges) == 2  # the first period and this renewal


def test_a_run_out_of_time_leaves_the_rest_due_for_the_next_run(
    api: Api,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start_membership(api, settings, stripe_fake, member, product)
    due = paris(2027, 1, 1, 0, 5)
    monkeypatch.setattr(membership_charges, "RUN_SECONDS", -1.0)
    assert membership_charges.renew_memberships(ctx, due) == {
        "job": "renew_memberships",
        "processed": 0,
        "deferred": 1,
    }
    monkeypatch.undo()
    assert membership_charges.renew_memberships(ctx, due)["paid"] == 1
    assert len(stripe_fake.charges) == 2


def test_a_scheduled_run_uses_its_lambdas_time_left_not_the_api_default(
    api: Api,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a due renewal, and no time left by the API's default budget
    start_membership(api, settings, stripe_fake, member, product)
    due = paris(2027, 1, 1, 0, 5)
    monkeypatch.setattr(membership_charges, "RUN_SECONDS", -1.0)
    # WHEN the scheduled function runs with 3 s before its timeout (less than the margin)
    late = run_job(ctx, "renew_memberships", due, time_left=3.0)
    # THEN it starts nothing; with 14 minutes left it charges, whatever the default
    assert (late["processed"], late["deferred"]) == (0, 1)
    assert run_job(ctx, "renew_memberships", due, time_left=840.0)["paid"] == 1
    assert len(stripe_fake.charges) == 2


def test_a_run_that_read_the_membership_before_another_charged_it_does_nothing(
    api: Api,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    ctx: Context,
) -> None:
    # GIVEN two runs that both read the due membership, the first of which charged it
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    due = paris(2027, 1, 1, 0, 5)
    read_by_second_run = ctx.memberships.get("member-1", membership_id)
    assert read_by_second_run is not None and read_by_second_run.is_due(due)
    assert membership_charges.renew_memberships(ctx, due)["paid"] == 1
    calls = len(stripe_fake.calls)
    # WHEN the second run goes on with what it read
    outcome = membership_charges.charge_due(ctx, read_by_second_run, due)
    # THEN its claim fails: Stripe is not called again
    assert outcome == "skipped"
    assert len(stripe_fake.calls) == calls


def test_a_run_that_crashed_after_charging_is_finished_without_a_second_charge(
    api: Api,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    ctx: Context,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a run that charged period 2 and died before recording anything else
    start_membership(api, settings, stripe_fake, member, product)
    due = paris(2027, 1, 1, 0, 5)
    clock.moment = due

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Lambda timed out")

    monkeypatch.setattr(membership_charges, "_record_payment", crash)
    with pytest.raises(RuntimeError):
        membership_charges.renew_memberships(ctx, due)
    monkeypatch.undo()
    # WHEN the claim's lease is over and the job runs again
    clock.moment = paris(2027, 1, 1, 0, 25)
    result = membership_charges.renew_memberships(ctx, clock.moment)
    # THEN the recorded intent is used: one charge, the period paid and invoiced
    assert result["paid"] == 1
    assert len(stripe_fake.first_charges()) == 2
    assert mine(api, member)["current_period_start"] == "2027-01-01T00:00:00+01:00"
    assert len(invoices(api, member)) == 2


# -- failures ---------------------------------------------------------------------------


def test_card_requiring_authentication_off_session_goes_past_due_then_cancelled(
    api: Api,
    admin: str,
    member: str,
    product: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
) -> None:
    # GIVEN an active membership whose card now asks for its holder at every charge
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    stripe_fake.behaviours[stripe_fake.charges[0].payment_method] = "requires_authentication"
    # WHEN the renewal runs
    clock.moment = paris(2027, 1, 1, 0, 5)
    assert run_renewals(api, admin, clock.moment)["failed"] == 1
    # THEN the membership is past due, retried the next day, and books no desk
    membership = mine(api, member)
    assert membership["status"] == "past_due"
    assert membership["next_charge_at"] == "2027-01-02T00:00:00+01:00"
    assert stripe_fake.charges[-1].outcome == "authentication_required"
    refused = book(api, member, network["pool"], date="2027-01-04", payment="membership")
    assert_problem(refused, 409, "membership_required")
    # AND after the retries of 2, 4 and 8 January it is cancelled
    for day in (2, 4, 8):
        run_renewals(api, admin, paris(2027, 1, day, 0, 5))
    assert mine(api, member)["status"] == "cancelled"
    assert [c.key for c in stripe_fake.charges[1:]] == [
        f"membership-{membership_id}-period-2",
        f"membership-{membership_id}-period-2-retry-1",
        f"membership-{membership_id}-period-2-retry-2",
        f"membership-{membership_id}-period-2-retry-3",
    ]
    assert run_renewals(api, admin, paris(2027, 2, 1, 0, 5))["processed"] == 0
    assert len(invoices(api, member)) == 1  # only the period that was paid


def test_a_retry_that_succeeds_makes_the_membership_active_again(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    start_membership(api, settings, stripe_fake, member, product)
    method = stripe_fake.charges[0].payment_method
    stripe_fake.behaviours[method] = "declined"
    run_renewals(api, admin, paris(2027, 1, 1, 0, 5))
    assert mine(api, member)["status"] == "past_due"
    stripe_fake.behaviours[method] = "succeeds"
    assert run_renewals(api, admin, paris(2027, 1, 2, 0, 5))["paid"] == 1
    membership = mine(api, member)
    assert membership["status"] == "active"
    assert membership["current_period_start"] == "2027-01-01T00:00:00+01:00"
    assert membership["next_charge_at"] == "2027-02-01T00:00:00+01:00"


def test_sepa_debit_processing_keeps_the_member_active_until_it_fails(
    api: Api,
    admin: str,
    member: str,
    product: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
    ctx: Context,
) -> None:
    # GIVEN a SEPA membership whose first debit is processing
    start_membership(
        api, settings, stripe_fake, member, product, method="sepa_debit", behaviour="sepa"
    )
    (debit,) = stripe_fake.charges
    assert debit.outcome == "processing"
    processing = stripe_fake.event_object(debit.intent_id)
    assert deliver(api, settings, "payment_intent.processing", processing).status == 200
    # THEN the member is active and books with the membership, but nothing is invoiced yet
    assert mine(api, member)["status"] == "active"
    booked(api, member, network["pool"], date="2026-12-03", payment="membership")
    assert invoices(api, member) == []
    # WHEN the bank rejects the debit three days later
    clock.moment = paris(2026, 12, 4, 10, 0)
    bounced = stripe_fake.bounce(debit.intent_id)
    assert deliver(api, settings, "payment_intent.payment_failed", bounced).status == 200
    # THEN the payment keeps the charge that failed (its balance transactions name it)
    payment = ctx.payments.payment(debit.intent_id)
    assert payment is not None and (payment.status, payment.charge_id) == (
        "failed",
        bounced["latest_charge"],
    )
    # AND the membership is past due, retried the next day, and books no more
    membership = mine(api, member)
    assert membership["status"] == "past_due"
    assert membership["next_charge_at"] == "2026-12-05T00:00:00+01:00"
    refused = book(api, member, network["pool"], date="2026-12-07", payment="membership")
    assert_problem(refused, 409, "membership_required")
    assert invoices(api, member) == []
    # AND the retry is a new debit of the same period
    stripe_fake.behaviours[debit.payment_method] = "succeeds"
    assert run_renewals(api, admin, paris(2026, 12, 5, 0, 5))["paid"] == 1
    assert stripe_fake.charges[-1].metadata["period"] == "1"
    assert mine(api, member)["status"] == "active"
    assert len(invoices(api, member)) == 1


def test_a_sepa_debit_is_invoiced_when_it_settles(
    api: Api, member: str, product: str, settings: Settings, stripe_fake: MembershipFakeGateway
) -> None:
    start_membership(
        api, settings, stripe_fake, member, product, method="sepa_debit", behaviour="sepa"
    )
    (debit,) = stripe_fake.charges
    assert invoices(api, member) == []
    settled = stripe_fake.settle(debit.intent_id)
    for _ in range(2):
        assert deliver(api, settings, "payment_intent.succeeded", settled).status == 200
    assert mine(api, member)["status"] == "active"
    (invoice,) = invoices(api, member)
    assert any("par prélèvement SEPA" in mention for mention in invoice["legal_mentions"])


def test_a_refunded_sepa_debit_is_credited_as_refunded_to_the_debited_account(
    api: Api, member: str, product: str, settings: Settings, stripe_fake: MembershipFakeGateway
) -> None:
    # GIVEN a membership paid by a SEPA debit, invoiced when it settled
    start_membership(
        api, settings, stripe_fake, member, product, method="sepa_debit", behaviour="sepa"
    )
    (debit,) = stripe_fake.charges
    settled = stripe_fake.settle(debit.intent_id)
    assert deliver(api, settings, "payment_intent.succeeded", settled).status == 200

    # WHEN it is refunded from the Stripe dashboard
    refunded = charge_refunded(settled, [("re_sepa", settled["amount"])])
    assert deliver(api, settings, "charge.refunded", refunded).status == 200

    # THEN the credit note says the refund went the way the money came: the SEPA debit
    by_type = {document["type"]: document for document in invoices(api, member)}
    assert by_type["invoice"]["payment"]["method"] == "sepa_debit"
    note = by_type["credit_note"]
    assert note["payment"]["method"] == "sepa_debit"
    assert any(m.endswith("par prélèvement SEPA") for m in note["legal_mentions"])
    assert not any("carte bancaire" in mention for mention in note["legal_mentions"])


# -- cancelling ---------------------------------------------------------------------------


def test_cancel_ends_the_membership_at_period_end(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    answer = api.post(f"/v1/memberships/{membership_id}/cancel", token=member)
    assert answer.status == 200, answer.json
    assert answer.json["membership"]["status"] == "active"
    assert answer.json["membership"]["cancel_at_period_end"] is True
    assert run_renewals(api, admin, paris(2027, 1, 1, 0, 5))["cancelled"] == 1
    assert mine(api, member)["status"] == "cancelled"
    assert len(stripe_fake.charges) == 1  # no renewal charged
    again = api.post(f"/v1/memberships/{membership_id}/cancel", token=member)
    assert_problem(again, 409, "invalid_state")


def test_only_the_owner_or_an_admin_may_cancel(
    api: Api, admin: str, member: str, product: str
) -> None:
    membership_id = subscribe(api, member, product).json["membership"]["id"]
    other = api.token("member-2")
    assert_problem(
        api.post(f"/v1/memberships/{membership_id}/cancel", token=other), 404, "not_found"
    )
    answer = api.post(f"/v1/memberships/{membership_id}/cancel", token=admin)
    assert answer.json["membership"]["status"] == "cancelled"  # nothing paid: ends now
    assert api.get("/v1/memberships", token=other).json["items"] == []


# -- booking with a membership ----------------------------------------------------------


def test_days_per_period_are_counted_by_halves_and_refused_when_used_up(
    api: Api,
    member: str,
    product: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    # GIVEN a membership of 2 days per period
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    pool = network["pool"]
    # WHEN the member books a day and two half days
    day = booked(api, member, pool, date="2026-12-03", payment="membership")
    booked(api, member, pool, date="2026-12-04", unit="half_day_am", payment="membership")
    booked(api, member, pool, date="2026-12-04", unit="half_day_pm", payment="membership")
    # THEN the bookings are confirmed against the membership, and the period is used up
    assert day["status"] == "confirmed" and day["membership_id"] == membership_id
    assert mine(api, member)["days_used"] == 2
    refused = book(api, member, pool, date="2026-12-07", unit="half_day_am", payment="membership")
    assert_problem(refused, 409, "insufficient_credits")
    # AND a cancellation in time gives its day back
    cancelled = api.post(f"/v1/bookings/{day['id']}/cancel", token=member)
    assert cancelled.status == 200, cancelled.json
    assert mine(api, member)["days_used"] == 1
    booked(api, member, pool, date="2026-12-07", payment="membership")


def test_a_late_cancellation_keeps_the_day_used(
    api: Api,
    member: str,
    product: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    start_membership(api, settings, stripe_fake, member, product)
    today = booked(api, member, network["pool"], date="2026-12-01", payment="membership")
    assert api.post(f"/v1/bookings/{today['id']}/cancel", token=member).status == 200
    assert mine(api, member)["days_used"] == 1


def test_an_unlimited_membership_counts_days_without_limit(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    unlimited = membership_product(api, admin, network["operator"], days=None)
    start_membership(api, settings, stripe_fake, member, unlimited)
    for day in ("2026-12-02", "2026-12-03", "2026-12-04"):
        booked(api, member, network["pool"], date=day, payment="membership")
    membership = mine(api, member)
    assert (membership["days_used"], membership["days_per_period"]) == (3, None)


def test_booking_with_a_membership_needs_an_active_one_covering_the_day(
    api: Api,
    member: str,
    product: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    pool, room = network["pool"], network["room"]
    refused = book(api, member, pool, date="2026-12-03", payment="membership")
    assert_problem(refused, 409, "membership_required")
    subscribe(api, member, product)  # incomplete: not yet paid
    assert_problem(book(api, member, pool, payment="membership"), 409, "membership_required")
    start_membership(api, settings, stripe_fake, member, product)
    beyond = book(api, member, pool, date="2027-01-04", payment="membership")
    assert_problem(beyond, 409, "membership_required")  # the next period is not paid yet
    meeting = book(api, member, room, unit="hour", start="10:00", end="11:00", payment="membership")
    assert_problem(meeting, 422, "validation_error")  # hot desks by the day or half day


def test_a_retried_membership_booking_takes_one_seat_and_one_day(
    api: Api,
    member: str,
    product: str,
    network: dict[str, str],
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    start_membership(api, settings, stripe_fake, member, product)
    headers = {"Idempotency-Key": "desk-1"}
    body = {"resource_id": network["pool"], "date": "2026-12-03", "unit": "day"}
    first = api.post(
        "/v1/bookings", {**body, "payment": "membership"}, token=member, headers=headers
    )
    again = api.post(
        "/v1/bookings", {**body, "payment": "membership"}, token=member, headers=headers
    )
    assert first.status == again.status == 201
    assert again.json == first.json
    assert mine(api, member)["days_used"] == 1
