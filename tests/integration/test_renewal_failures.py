"""Renewals that go wrong (moto, fake Stripe): a charge Stripe refuses (a deleted customer)
is a failed attempt like a declined card — past_due, retried, then cancelled — and never
fails the whole run; an error on one membership is named in the job's answer while the
others are renewed; and a period's invoice names the payment method its charge used, even
when the member switched methods before the money came."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from chalicelib.adapters import keys
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.stripe_gateway import map_stripe_error
from chalicelib.config import Settings
from chalicelib.errors import InvalidState, PaymentProviderError, PaymentProviderUnavailable
from chalicelib.services import invoicing, membership_charges
from chalicelib.services.context import Context
from tests.integration.test_memberships import (
    deliver,
    invoices,
    membership_product,
    mine,
    paris,
    run_renewals,
    start_membership,
)
from tests.support.api import Api
from tests.support.fake_stripe_memberships import MembershipFakeGateway

NO_SUCH_CUSTOMER = (
    "Payment provider refused the request (HTTP 400): No such customer (code=resource_missing)"
)


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


@pytest.fixture
def product(api: Api, admin: str, network: dict[str, str]) -> str:
    return membership_product(api, admin, network["operator"])


def customer_deleted(
    stripe_fake: MembershipFakeGateway, monkeypatch: pytest.MonkeyPatch, customer: str
) -> list[str]:
    """Stripe answers 400 resource_missing to every charge of `customer` (the gateway maps
    it to PaymentProviderError): the idempotency keys of the charges it refused."""
    charge: Callable[..., Any] = stripe_fake.charge_off_session
    refused: list[str] = []

    def refusing(**kw: Any) -> Any:
        if kw["customer"] == customer:
            refused.append(kw["idempotency_key"])
            raise PaymentProviderError(NO_SUCH_CUSTOMER)
        return charge(**kw)

    monkeypatch.setattr(stripe_fake, "charge_off_session", refusing)
    return refused


def two_memberships(
    api: Api,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
    product: str,
) -> tuple[str, str]:
    """member-a's membership, due on 1 January, then member-b's, due on 2 January (so a
    run on 2 January takes member-a's first); the clock stands on 2 January, 00:05."""
    clock.moment = paris(2026, 12, 1, 10, 0)
    first = start_membership(api, settings, stripe_fake, api.token("member-a"), product)
    clock.moment = paris(2026, 12, 2, 10, 0)
    second = start_membership(api, settings, stripe_fake, api.token("member-b"), product)
    clock.moment = paris(2027, 1, 2, 0, 5)
    return first, second


# -- a charge Stripe refuses ---------------------------------------------------------------


def test_a_membership_stripe_refuses_neither_fails_the_renewal_run_nor_stays_active(
    api: Api,
    admin: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a membership due on 1 January whose Stripe customer was deleted meanwhile
    member = api.token("member-a")
    membership_id = start_membership(api, settings, stripe_fake, member, product)
    refused = customer_deleted(stripe_fake, monkeypatch, stripe_fake.charges[0].customer)
    # WHEN the renewal job runs as scheduled on the nights of 1 to 8 January
    statuses = []
    for day in range(1, 9):
        for minute in (5, 20, 35, 50):
            clock.moment = paris(2027, 1, day, 0, minute)
            answer = api.post("/v1/admin/jobs/renew_memberships", {}, token=admin)
            statuses.append(answer.status)
            if (day, minute) == (1, 5):
                assert answer.json["failed"] == 1, answer.json
                membership = mine(api, member)
                assert membership["status"] == "past_due"
                assert membership["next_charge_at"] == "2027-01-02T00:00:00+01:00"
                assert membership["last_payment_error"] == "resource_missing"
    # THEN every run answers 200 (the refusal is that membership's failed charge) and the
    # membership leaves `active`: past_due with its retries of 2, 4 and 8 January, then
    # cancelled, each attempt with a key of its own
    assert set(statuses) == {200}
    assert mine(api, member)["status"] == "cancelled"
    assert refused == [
        f"membership-{membership_id}-period-2",
        f"membership-{membership_id}-period-2-retry-1",
        f"membership-{membership_id}-period-2-retry-2",
        f"membership-{membership_id}-period-2-retry-3",
    ]
    assert len(stripe_fake.charges) == 1  # Stripe charged nothing more
    assert len(invoices(api, member)) == 1  # only the period that was paid


def test_a_refused_charge_does_not_stop_the_renewals_after_it(
    api: Api,
    admin: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN two due memberships, the first in the due order refused by Stripe
    two_memberships(api, settings, stripe_fake, clock, product)
    customer_deleted(stripe_fake, monkeypatch, stripe_fake.charges[0].customer)
    # WHEN one run renews them
    result = run_renewals(api, admin, clock.moment)
    # THEN the first one failed its charge and the second one is renewed and invoiced
    assert (result["processed"], result["failed"], result["paid"]) == (2, 1, 1), result
    assert "errors" not in result
    assert mine(api, api.token("member-a"))["status"] == "past_due"
    renewed = mine(api, api.token("member-b"))
    assert (renewed["status"], renewed["current_period_start"]) == (
        "active",
        "2027-01-02T00:00:00+01:00",
    )
    assert len(invoices(api, api.token("member-b"))) == 2


# -- any other error on one membership -----------------------------------------------------


def test_an_error_on_one_membership_is_named_and_the_others_are_renewed(
    api: Api,
    admin: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN two due memberships; the first one's invoice cannot be issued for now
    first, _ = two_memberships(api, settings, stripe_fake, clock, product)
    issue = invoicing.invoice_for_payment

    def failing(ctx: Context, payment: Any, *args: Any, **kwargs: Any) -> Any:
        if payment.subject_id.startswith(first):
            raise InvalidState("The period is being closed.")
        return issue(ctx, payment, *args, **kwargs)

    with monkeypatch.context() as broken:
        broken.setattr(invoicing, "invoice_for_payment", failing)
        # WHEN one run renews them
        result = membership_charges.renew_memberships(ctx, clock.moment)
    # THEN the run answers, names the first one, and renews the second one
    assert result["errors"] == [{"membership_id": first, "error": "The period is being closed."}], (
        result
    )
    assert (result["processed"], result["paid"]) == (1, 1)
    assert mine(api, api.token("member-b"))["current_period_start"] == ("2027-01-02T00:00:00+01:00")
    # AND once the cause is gone, the next run after the claim's lease finishes the first
    # one with the charge already made: one charge, paid and invoiced once
    clock.moment = paris(2027, 1, 2, 0, 35)
    again = run_renewals(api, admin, clock.moment)
    assert (again["paid"], "errors" in again) == (1, False), again
    assert mine(api, api.token("member-a"))["current_period_start"] == ("2027-01-01T00:00:00+01:00")
    assert len(invoices(api, api.token("member-a"))) == 2
    charged = [c for c in stripe_fake.first_charges() if c.metadata["membership_id"] == first]
    assert [c.metadata["period"] for c in charged] == ["1", "2"]


def test_our_stripe_key_refused_is_no_failed_charge_of_the_member(
    api: Api,
    admin: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a due membership, and Stripe refusing our own (revoked) key
    member = api.token("member-a")
    start_membership(api, settings, stripe_fake, member, product)

    def revoked(**_: Any) -> Any:
        raise map_stripe_error(stripe.AuthenticationError("Invalid API Key", http_status=401))

    monkeypatch.setattr(stripe_fake, "charge_off_session", revoked)
    clock.moment = paris(2027, 1, 1, 0, 5)
    # WHEN the renewal job runs
    result = run_renewals(api, admin, clock.moment)
    # THEN the membership is named in the errors, but stays active: nothing the member did
    assert (result.get("failed", 0), len(result["errors"])) == (0, 1), result
    membership = mine(api, member)
    assert (membership["status"], membership.get("last_payment_error")) == ("active", None)


def test_a_transient_outage_leaves_the_membership_due_and_names_no_error(
    api: Api,
    admin: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a due membership, and Stripe unreachable
    member = api.token("member-a")
    start_membership(api, settings, stripe_fake, member, product)

    def unreachable(**kw: Any) -> Any:
        raise PaymentProviderUnavailable("Payment provider unreachable: timeout")

    monkeypatch.setattr(stripe_fake, "charge_off_session", unreachable)
    # WHEN the renewal runs
    clock.moment = paris(2027, 1, 1, 0, 5)
    result = run_renewals(api, admin, clock.moment)
    # THEN it is left due (active, not past_due), counted as unavailable
    assert (result["unavailable"], result["processed"], "errors" in result) == (1, 0, False)
    membership = mine(api, member)
    assert (membership["status"], membership["next_charge_at"]) == (
        "active",
        "2027-01-01T00:00:00+01:00",
    )


# -- the payment method on the invoice -----------------------------------------------------


def test_a_sepa_debit_settling_after_a_switch_to_card_is_invoiced_as_a_sepa_debit(
    api: Api,
    admin: str,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
) -> None:
    # GIVEN a SEPA membership whose first debit is processing (the member is active)
    membership_id = start_membership(
        api, settings, stripe_fake, member, product, method="sepa_debit", behaviour="sepa"
    )
    (debit,) = stripe_fake.charges
    assert debit.metadata["payment_method_type"] == "sepa_debit"
    assert mine(api, member)["status"] == "active"
    # WHEN the member replaces the mandate by a card for the next renewals
    path = f"/v1/memberships/{membership_id}/payment-method"
    answer = api.request("PUT", path, {"payment_method_type": "card"}, token=member)
    assert answer.status == 200, answer.json
    setup = stripe_fake.save_payment_method(answer.json["setup"]["setup_intent_id"])
    assert deliver(api, settings, "setup_intent.succeeded", setup).status == 200
    # AND the bank then settles the SEPA debit
    settled = stripe_fake.settle(debit.intent_id)
    assert deliver(api, settings, "payment_intent.succeeded", settled).status == 200
    # THEN its (immutable) invoice says it was paid by SEPA debit, as it was
    (invoice,) = invoices(api, member)
    assert invoice["payment"]["method"] == "sepa_debit", invoice["payment"]
    # AND the next renewal is charged to the card, and invoiced as such
    assert run_renewals(api, admin, paris(2027, 1, 1, 0, 5))["paid"] == 1
    renewal = stripe_fake.charges[-1]
    assert (renewal.payment_method, renewal.metadata["payment_method_type"]) == (
        setup["payment_method"],
        "card",
    )
    by_number = sorted(invoices(api, member), key=lambda i: str(i["number"]))
    assert [i["payment"]["method"] for i in by_number] == ["sepa_debit", "card"]


def test_a_settlement_webhook_first_records_the_method_the_charge_used(
    api: Api,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    ctx: Context,
) -> None:
    # GIVEN a SEPA debit whose payment was not recorded by the run that made it (the
    # run died after charging), and a member who switched to a card meanwhile
    membership_id = start_membership(
        api, settings, stripe_fake, member, product, method="sepa_debit", behaviour="sepa"
    )
    (debit,) = stripe_fake.charges
    ctx.table.table.delete_item(Key=keys.payment(debit.intent_id))
    assert ctx.payments.payment(debit.intent_id) is None
    path = f"/v1/memberships/{membership_id}/payment-method"
    answer = api.request("PUT", path, {"payment_method_type": "card"}, token=member)
    setup = stripe_fake.save_payment_method(answer.json["setup"]["setup_intent_id"])
    assert deliver(api, settings, "setup_intent.succeeded", setup).status == 200
    # WHEN the bank's settlement comes (the webhook records the payment from the intent)
    settled = stripe_fake.settle(debit.intent_id)
    assert deliver(api, settings, "payment_intent.succeeded", settled).status == 200
    # THEN the payment and its invoice name the method of the intent's metadata
    recorded = ctx.payments.payment(debit.intent_id)
    assert recorded is not None and recorded.payment_method_type == "sepa_debit"
    (invoice,) = invoices(api, member)
    assert invoice["payment"]["method"] == "sepa_debit"


def test_a_renewal_retried_after_a_crash_charges_the_method_it_started_with(
    api: Api,
    member: str,
    product: str,
    settings: Settings,
    stripe_fake: MembershipFakeGateway,
    clock: FixedClock,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a SEPA renewal whose run died right after Stripe took the debit
    membership_id = start_membership(
        api, settings, stripe_fake, member, product, method="sepa_debit", behaviour="sepa"
    )
    mandate = stripe_fake.charges[0].payment_method
    settled = stripe_fake.settle(stripe_fake.charges[0].intent_id)
    assert deliver(api, settings, "payment_intent.succeeded", settled).status == 200
    charge: Callable[..., Any] = stripe_fake.charge_off_session
    sent: list[dict[str, Any]] = []

    def recorded(**kw: Any) -> Any:
        sent.append(kw)
        return charge(**kw)

    def dies_after_charging(**kw: Any) -> Any:
        recorded(**kw)
        raise RuntimeError("Lambda timed out")

    monkeypatch.setattr(stripe_fake, "charge_off_session", dies_after_charging)
    clock.moment = paris(2027, 1, 1, 0, 5)
    with pytest.raises(RuntimeError):
        membership_charges.renew_memberships(ctx, clock.moment)
    # AND the member switched to a card meanwhile
    monkeypatch.setattr(stripe_fake, "charge_off_session", recorded)
    path = f"/v1/memberships/{membership_id}/payment-method"
    answer = api.request("PUT", path, {"payment_method_type": "card"}, token=member)
    setup = stripe_fake.save_payment_method(answer.json["setup"]["setup_intent_id"])
    assert deliver(api, settings, "setup_intent.succeeded", setup).status == 200
    # WHEN the next run, after the claim's lease, finishes that attempt
    clock.moment = paris(2027, 1, 1, 0, 35)
    assert membership_charges.renew_memberships(ctx, clock.moment)["processing"] == 1
    # THEN it sent Stripe the very same request (same key, same mandate): one debit
    assert [(s["idempotency_key"], s["payment_method"]) for s in sent] == [
        (f"membership-{membership_id}-period-2", mandate)
    ] * 2
    assert sent[0]["metadata"] == sent[1]["metadata"]
    assert len([c for c in stripe_fake.first_charges() if c.metadata["period"] == "2"]) == 1
    # AND once settled, that period is invoiced as the SEPA debit it was
    debit = stripe_fake.first_charges()[-1]
    settled = stripe_fake.settle(debit.intent_id)
    assert deliver(api, settings, "payment_intent.succeeded", settled).status == 200
    by_number = sorted(invoices(api, member), key=lambda i: str(i["number"]))
    assert [i["payment"]["method"] for i in by_number] == ["sepa_debit", "sepa_debit"]
    # AND the period after is charged to the card
    clock.moment = paris(2027, 2, 1, 0, 5)
    assert membership_charges.renew_memberships(ctx, clock.moment)["paid"] == 1
    assert sent[-1]["payment_method"] == setup["payment_method"]
