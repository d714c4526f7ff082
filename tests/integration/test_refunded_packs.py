"""Credit packs refunded in full (`charge.refunded` → `PaymentStore.revoke_pack`).

The member must not keep both the money and the credits: a refunded pack's unused
credits are withdrawn, a booking paid with one of them gives nothing back to it when
cancelled, and a payment success processed before, during or after the refund never
leaves usable credits. Redelivered events change nothing (moto, fake Stripe gateway).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.wallet import CreditPack, restored_credits
from chalicelib.services.context import Context
from chalicelib.services.webhooks import handle_stripe_webhook
from tests.integration.test_webhooks import refunded_charge
from tests.support.api import Api
from tests.support.fake_stripe import FakeGateway, signed_event
from tests.support.invariants import assert_money_accounted_for
from tests.support.webhooks import deliver

MEMBER = "member-1"
DAY = "2026-12-03"  # 49 h after the test clock: a cancellation is in time


# -- helpers -----------------------------------------------------------------------------


def make_pack(api: Api, admin: str, operator: str) -> str:
    answer = api.post(
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000, "vat_rate": "20.00"},
            "operator_id": operator,
            "credits": 10,
            "validity_days": 180,
        },
        token=admin,
    )
    assert answer.status == 201, answer.json
    return str(answer.json["id"])


def start_purchase(
    api: Api, token: str, stripe_fake: FakeGateway, product_id: str
) -> tuple[str, dict[str, Any]]:
    """A pack bought and paid at Stripe (no webhook delivered yet): its id and intent."""
    bought = api.post("/v1/purchases", {"product_id": product_id}, token=token)
    assert bought.status == 201, bought.json
    intent = stripe_fake.succeed(bought.json["payment"]["payment_intent_id"])
    return str(bought.json["purchase"]["id"]), intent


def book_with_credits(api: Api, token: str, resource: str) -> dict[str, Any]:
    answer = api.post(
        "/v1/bookings",
        {"resource_id": resource, "date": DAY, "unit": "day", "payment": "credits"},
        token=token,
    )
    assert answer.status == 201, answer.json
    return dict(answer.json["booking"])


def a_credit_booking_of_a_paid_pack(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A pack bought, paid (its success delivered) and one of its credits spent on a
    booking: (purchase id, intent, booking)."""
    purchase_id, intent = start_purchase(
        api, member, stripe_fake, make_pack(api, admin, network["operator"])
    )
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    return purchase_id, intent, book_with_credits(api, member, network["pool"])


def wallet_credits(api: Api, token: str) -> Any:
    answer = api.get("/v1/wallet", token=token)
    assert answer.status == 200, answer.json
    return answer.json["credits_remaining"]


def stored_pack(ctx: Context, purchase_id: str) -> CreditPack:
    [pack] = [p for p in ctx.payments.packs_of(MEMBER) if p.purchase_id == purchase_id]
    return pack


def purchase_status(ctx: Context, purchase_id: str) -> str:
    purchase = ctx.payments.purchase(purchase_id)
    assert purchase is not None
    return purchase.status.value


# -- a credit spent on a booking, then the pack refunded ---------------------------------


def test_cancelling_a_credit_booking_of_a_refunded_pack_restores_no_credit(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # GIVEN a pack paid, one credit spent on a booking, then the pack refunded in full
    purchase_id, intent, booking = a_credit_booking_of_a_paid_pack(
        api, admin, member, network, stripe_fake, settings
    )
    refunded = deliver(api, settings, "charge.refunded", refunded_charge(intent, "re_pack"))
    assert refunded.status == 200, refunded.json
    assert wallet_credits(api, member) == 0

    # WHEN the booking is cancelled in time
    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)

    # THEN it is cancelled, but the refunded pack gets nothing back, and the answer says so
    assert cancelled.status == 200, cancelled.json
    assert cancelled.json["credits_restored"] == 0
    assert wallet_credits(api, member) == 0, cancelled.json
    pack = stored_pack(ctx, purchase_id)
    assert (pack.credits_remaining, pack.revoked) == (Decimal(0), True)
    assert purchase_status(ctx, purchase_id) == "refunded"
    assert_money_accounted_for(ctx)


def test_a_refund_landing_while_a_credit_booking_is_cancelled_leaves_no_credit(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # GIVEN a booking paid with a credit of a pack, cancelled in time, and the pack's
    # `charge.refunded` processed by another Lambda between the cancellation's read of
    # the booking and its release transaction
    purchase_id, intent, booking = a_credit_booking_of_a_paid_pack(
        api, admin, member, network, stripe_fake, settings
    )
    original = ctx.bookings.release

    def refund_then_release(*args: Any, **kwargs: Any) -> Any:
        payload, header = signed_event(
            "charge.refunded", refunded_charge(intent, "re_pack"), settings.stripe_webhook_secret
        )
        handle_stripe_webhook(ctx, payload, header)
        return original(*args, **kwargs)

    ctx.bookings.release = refund_then_release  # type: ignore[method-assign]

    # WHEN the cancellation commits
    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)
    ctx.bookings.release = original  # type: ignore[method-assign]

    # THEN it succeeds (the rule is in the update, not a failing condition), no credit back
    assert cancelled.status == 200, cancelled.json
    assert cancelled.json["booking"]["status"] == "cancelled"
    assert wallet_credits(api, member) == 0
    assert stored_pack(ctx, purchase_id).credits_remaining == 0
    assert_money_accounted_for(ctx)


def test_a_booking_cancelled_before_its_pack_is_refunded_keeps_no_credit_either(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    purchase_id, intent, booking = a_credit_booking_of_a_paid_pack(
        api, admin, member, network, stripe_fake, settings
    )
    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)
    assert cancelled.status == 200, cancelled.json
    assert cancelled.json["credits_restored"] == 1
    assert wallet_credits(api, member) == 10

    refunded = deliver(api, settings, "charge.refunded", refunded_charge(intent, "re_pack"))

    assert refunded.status == 200, refunded.json
    assert wallet_credits(api, member) == 0
    assert purchase_status(ctx, purchase_id) == "refunded"
    assert_money_accounted_for(ctx)


def test_other_packs_still_get_their_credits_back(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # GIVEN two packs, a booking drawn on the first (oldest first), the second refunded
    product = make_pack(api, admin, network["operator"])
    kept_id, kept = start_purchase(api, member, stripe_fake, product)
    assert deliver(api, settings, "payment_intent.succeeded", kept).status == 200
    booking = book_with_credits(api, member, network["pool"])
    gone_id, gone = start_purchase(api, member, stripe_fake, product)
    assert deliver(api, settings, "payment_intent.succeeded", gone).status == 200
    assert deliver(api, settings, "charge.refunded", refunded_charge(gone, "re_gone")).status == 200

    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)

    assert cancelled.status == 200, cancelled.json
    assert cancelled.json["credits_restored"] == 1
    assert stored_pack(ctx, kept_id).credits_remaining == 10
    assert stored_pack(ctx, gone_id).credits_remaining == 0
    assert wallet_credits(api, member) == 10
    assert_money_accounted_for(ctx)


# -- the refund racing the payment success -----------------------------------------------


def test_pack_refunded_while_its_payment_success_is_processed_keeps_no_credit(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # GIVEN a pack paid at Stripe; its full refund (`charge.refunded`) and its late
    # `payment_intent.succeeded` processed at once by two webhook Lambdas: the success
    # grants the pack right after the refund's `revoke_pack` read the member's packs
    purchase_id, intent = start_purchase(
        api, member, stripe_fake, make_pack(api, admin, network["operator"])
    )
    original = ctx.payments.packs_of
    raced: list[Any] = []

    def packs_then_concurrent_success(member_id: str) -> Any:
        packs = original(member_id)
        if not raced:
            payload, header = signed_event(
                "payment_intent.succeeded", intent, settings.stripe_webhook_secret
            )
            raced.append(handle_stripe_webhook(ctx, payload, header))
        return packs

    ctx.payments.packs_of = packs_then_concurrent_success  # type: ignore[method-assign]

    # WHEN the refund is processed
    refunded = deliver(api, settings, "charge.refunded", refunded_charge(intent, "re_pack"))
    ctx.payments.packs_of = original  # type: ignore[method-assign]

    # THEN the purchase is refunded and its pack, granted meanwhile, revoked
    assert refunded.status == 200, refunded.json
    assert raced and raced[0].get("outcome") == "granted", raced
    assert purchase_status(ctx, purchase_id) == "refunded"
    assert wallet_credits(api, member) == 0
    assert stored_pack(ctx, purchase_id).revoked
    assert_money_accounted_for(ctx)


def test_payment_success_delivered_after_the_refund_grants_nothing(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # GIVEN the refund processed before the (late) success
    purchase_id, intent = start_purchase(
        api, member, stripe_fake, make_pack(api, admin, network["operator"])
    )
    refunded = deliver(api, settings, "charge.refunded", refunded_charge(intent, "re_pack"))
    assert refunded.status == 200, refunded.json
    assert purchase_status(ctx, purchase_id) == "refunded"

    # WHEN the success arrives, twice (two distinct deliveries)
    first = deliver(api, settings, "payment_intent.succeeded", intent)
    second = deliver(api, settings, "payment_intent.succeeded", intent)

    # THEN no pack is ever granted
    assert (first.status, second.status) == (200, 200), (first.json, second.json)
    assert first.json["outcome"] == second.json["outcome"] == "purchase_refunded"
    assert ctx.payments.packs_of(MEMBER) == []
    assert purchase_status(ctx, purchase_id) == "refunded"
    assert wallet_credits(api, member) == 0
    assert_money_accounted_for(ctx)


def test_a_redelivered_refund_changes_nothing(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    purchase_id, intent, booking = a_credit_booking_of_a_paid_pack(
        api, admin, member, network, stripe_fake, settings
    )
    charge = refunded_charge(intent, "re_pack")
    assert deliver(api, settings, "charge.refunded", charge).status == 200
    assert api.post(f"/v1/bookings/{booking['id']}/cancel", token=member).status == 200
    before = stored_pack(ctx, purchase_id)

    again = deliver(api, settings, "charge.refunded", charge)
    ctx.payments.revoke_pack(purchase_id, MEMBER)  # a Lambda retry of the same step

    assert again.status == 200, again.json
    assert stored_pack(ctx, purchase_id) == before
    assert [r.amount for r in ctx.payments.refunds(intent["id"])] == [12000]
    assert purchase_status(ctx, purchase_id) == "refunded"
    assert wallet_credits(api, member) == 0
    assert_money_accounted_for(ctx)


def test_revoking_an_unknown_purchase_does_nothing(ctx: Context) -> None:
    ctx.payments.revoke_pack("pur_missing", MEMBER)

    assert ctx.payments.purchase("pur_missing") is None
    assert ctx.payments.packs_of(MEMBER) == []


# -- the pure rule -------------------------------------------------------------------------


def test_restored_credits_count_only_packs_still_in_force() -> None:
    kept = _pack("pur_kept", revoked=False)
    gone = _pack("pur_gone", revoked=True)
    draws = [
        {"pack_key": kept.sort_key, "credits": Decimal("0.5")},
        {"pack_key": gone.sort_key, "credits": Decimal(1)},
    ]
    now = datetime(2026, 12, 1, tzinfo=UTC)

    assert restored_credits(draws, [kept, gone], now) == Decimal("0.5")
    assert restored_credits(draws, [gone], now) == 0
    assert restored_credits([], [kept], now) == 0
    after_expiry = datetime(2027, 5, 2, tzinfo=UTC)  # the credit went back, to be lost
    assert restored_credits(draws, [kept, gone], after_expiry) == 0


def _pack(purchase_id: str, *, revoked: bool) -> CreditPack:
    return CreditPack.model_validate(
        {
            "purchase_id": purchase_id,
            "product_id": "prd",
            "member_id": MEMBER,
            "operator_id": "op",
            "credits_total": 10,
            "credits_remaining": 0 if revoked else 5,
            "price_amount": 12000,
            "purchased_at": "2026-11-01T08:00:00+00:00",
            "expires_at": "2027-05-01T08:00:00+00:00",
            "revoked": revoked,
        }
    )


# -- a dispute lost ------------------------------------------------------------------------


def dispute_of(intent: dict[str, Any], status: str, amount: int | None = None) -> dict[str, Any]:
    """A dispute of the intent's payment (of all of it by default), as its events carry it."""
    return {
        "id": f"dp_{intent['id']}",
        "object": "dispute",
        "amount": intent["amount"] if amount is None else amount,
        "payment_intent": intent["id"],
        "reason": "fraudulent",
        "status": status,
    }


def test_a_pack_whose_dispute_is_lost_keeps_no_unused_credit(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    # GIVEN a paid pack, one credit spent on a booking
    purchase_id, intent, booking = a_credit_booking_of_a_paid_pack(
        api, admin, member, network, stripe_fake, settings
    )
    # WHEN its payment is disputed: the credits stay while the dispute is open
    opened = dispute_of(intent, "needs_response")
    assert deliver(api, settings, "charge.dispute.created", opened).status == 200
    assert Decimal(str(wallet_credits(api, member))) == 9
    # THEN once the dispute is lost (the bank gave the money back), twice delivered
    for _ in range(2):
        lost = dispute_of(intent, "lost")
        assert deliver(api, settings, "charge.dispute.closed", lost).status == 200
    assert Decimal(str(wallet_credits(api, member))) == 0
    assert purchase_status(ctx, purchase_id) == "refunded"
    # AND the booking paid with a credit gives nothing back when cancelled
    cancelled = api.post(f"/v1/bookings/{booking['id']}/cancel", token=member)
    assert cancelled.status == 200, cancelled.json
    assert Decimal(str(wallet_credits(api, member))) == 0
    assert_money_accounted_for(ctx)


def test_a_pack_whose_dispute_is_lost_for_part_of_its_price_keeps_its_credits(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    stripe_fake: FakeGateway,
    settings: Settings,
    ctx: Context,
) -> None:
    purchase_id, intent, _booking = a_credit_booking_of_a_paid_pack(
        api, admin, member, network, stripe_fake, settings
    )
    lost = dispute_of(intent, "lost", amount=1200)  # of 12000

    assert deliver(api, settings, "charge.dispute.closed", lost).status == 200

    assert Decimal(str(wallet_credits(api, member))) == 9
    assert purchase_status(ctx, purchase_id) == "completed"
    assert_money_accounted_for(ctx)
