"""Credit packs: buying one, what happens when it is paid, and the member's wallet."""

from __future__ import annotations

import logging
from datetime import UTC
from decimal import Decimal
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.catalogue import ProductKind
from chalicelib.domain.payment import Purchase, PurchaseStatus
from chalicelib.domain.wallet import CreditPack, credits_remaining, pack_expiry
from chalicelib.errors import NotFound
from chalicelib.services import invoicing, members
from chalicelib.services.catalogue import product_for_sale
from chalicelib.services.context import Context
from chalicelib.services.payments import charge_id_of, open_intent, payment_view

logger = logging.getLogger("relais.payments")


def buy_pack(
    ctx: Context, principal: Principal, product_id: str, purchase_id: str
) -> dict[str, Any]:
    product = product_for_sale(ctx, product_id, ProductKind.credit_pack)
    assert product.credits is not None and product.validity_days is not None
    members.ensure_profile(ctx, principal)
    purchase = ctx.payments.add_purchase(
        Purchase(
            id=purchase_id,
            member_id=principal.sub,
            product_id=product.id,
            operator_id=product.operator_id,
            amount=int(product.price["amount"]),
            vat_rate=Decimal(str(product.price["vat_rate"])),
            product_name=product.name,
            credits=product.credits,
            validity_days=product.validity_days,
            created_at=ctx.clock.now(),
        )
    )
    if purchase.member_id != principal.sub:
        raise NotFound(f"No purchase with id {purchase_id!r}.")
    intent = open_intent(
        ctx,
        kind="purchase",
        subject_id=purchase.id,
        member_id=principal.sub,
        operator_id=purchase.operator_id,
        amount=purchase.amount,
        description=f"{product.name} ({product.credits} credits)",
        existing=purchase.payment_intent_id,
    )
    ctx.payments.set_purchase_intent(purchase.id, intent.id)
    purchase = purchase.model_copy(update={"payment_intent_id": intent.id})
    return {"purchase": purchase.public(), "payment": payment_view(intent)}


def purchase_paid(ctx: Context, intent: dict[str, Any], purchase: Purchase) -> str:
    """`payment_intent.succeeded` for a pack: grant its credits, exactly once. An intent
    Relais never recorded (its client secret was never handed out) is ignored, logged."""
    if ctx.payments.payment(intent["id"]) is None:
        logger.warning(
            "Pack payment %s of purchase %s was never recorded: ignored", intent["id"], purchase.id
        )
        return "ignored"
    now = ctx.clock.now().astimezone(UTC)
    ctx.payments.mark_succeeded(intent["id"], charge_id_of(intent), now)
    payment = ctx.payments.payment(intent["id"])
    if payment is not None:
        invoicing.invoice_for_payment(ctx, payment)
    if purchase.status is PurchaseStatus.refunded:  # refunded first: no credits, ever
        return "purchase_refunded"
    if purchase.status is not PurchaseStatus.pending:
        return "already_granted"
    pack = CreditPack(
        purchase_id=purchase.id,
        product_id=purchase.product_id,
        member_id=purchase.member_id,
        operator_id=purchase.operator_id,
        credits_total=purchase.credits,
        credits_remaining=purchase.credits,
        price_amount=purchase.amount,
        purchased_at=now,
        expires_at=pack_expiry(now, purchase.validity_days),
    )
    return "granted" if ctx.payments.complete_purchase(purchase, pack, now) else "already_granted"


def wallet(ctx: Context, principal: Principal) -> dict[str, Any]:
    now = ctx.clock.now()
    packs = sorted(ctx.payments.packs_of(principal.sub), key=lambda p: p.sort_key)
    return {
        "credits_remaining": credits_remaining(packs, now),
        "packs": [p.public() for p in packs if p.usable(now)],
    }
