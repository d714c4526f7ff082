"""Memberships: taking one out (a Stripe customer and a SetupIntent for a card or a SEPA
mandate), listing and cancelling them, and what a period's payment sells on its invoice.

Charging the periods is `membership_charges`; bookings paid by a membership are
`membership_bookings`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from chalicelib.auth import Principal
from chalicelib.domain.catalogue import ProductKind
from chalicelib.domain.invoice import Sale
from chalicelib.domain.membership import (
    PARIS,
    Membership,
    MembershipStatus,
    PaymentMethodType,
    cancel_requested,
    parse_period_subject,
    period_bounds,
)
from chalicelib.domain.payment import Payment
from chalicelib.errors import InvalidState, NotFound
from chalicelib.services import audit, members
from chalicelib.services.catalogue import product_for_sale
from chalicelib.services.context import Context
from chalicelib.services.ports import MembershipGateway, SetupInfo

# The `purpose` of a SetupIntent that replaces a membership's payment method.
REPLACEMENT = "payment_method"


def gateway(ctx: Context) -> MembershipGateway:
    return cast(MembershipGateway, ctx.gateway)


# -- the member's side --------------------------------------------------------------------


def subscribe(
    ctx: Context,
    principal: Principal,
    product_id: str,
    payment_method_type: PaymentMethodType,
    membership_id: str,
) -> dict[str, Any]:
    """A new membership (`incomplete`) and the SetupIntent the frontend confirms.
    `membership_id` comes from the Idempotency-Key: a retry finds the same one, the same
    Stripe customer and the same SetupIntent."""
    product = product_for_sale(ctx, product_id, ProductKind.membership)
    profile = members.ensure_profile(ctx, principal)
    memberships = ctx.memberships
    membership = memberships.add(
        Membership(
            id=membership_id,
            member_id=principal.sub,
            product_id=product.id,
            product_name=product.name,
            operator_id=product.operator_id,
            amount=int(product.price["amount"]),
            vat_rate=str(product.price["vat_rate"]),
            payment_method_type=payment_method_type,
            days_per_period=product.days_per_period,
            created_at=ctx.clock.now(),
        )
    )
    if membership.member_id != principal.sub:
        raise NotFound(f"No membership with id {membership_id!r}.")
    refs = {"kind": "membership", "membership_id": membership.id, "member_id": principal.sub}
    if membership.customer_id is None:
        customer = gateway(ctx).create_customer(
            email=str(profile.get("email") or principal.email or ""),
            name=str(profile.get("name") or principal.sub),
            idempotency_key=f"membership-{membership.id}-customer",
            metadata=refs,
        )
        membership = _set_once(ctx, membership, "customer_id", customer)
    assert membership.customer_id is not None
    setup: SetupInfo | None = None
    if membership.setup_intent_id is None:
        setup = gateway(ctx).create_setup_intent(
            customer=membership.customer_id,
            payment_method_types=[membership.payment_method_type],
            idempotency_key=f"membership-{membership.id}-setup",
            metadata=refs,
        )
        membership = _set_once(ctx, membership, "setup_intent_id", setup.id)
    assert membership.setup_intent_id is not None
    if setup is None or setup.id != membership.setup_intent_id:
        # The recorded one: not every Stripe-compatible server honours idempotency keys.
        setup = gateway(ctx).retrieve_setup_intent(membership.setup_intent_id)
    return {
        "membership": membership.public(),
        "setup": {"setup_intent_id": setup.id, "client_secret": setup.client_secret},
    }


def replace_payment_method(
    ctx: Context,
    principal: Principal,
    membership_id: str,
    payment_method_type: PaymentMethodType,
    request_id: str,
) -> dict[str, Any]:
    """A SetupIntent for a new card or SEPA mandate on the member's own membership.
    When it succeeds (`setup_intent.succeeded`), the new method replaces the old one and
    a failed period is charged again at once (`membership_charges.setup_succeeded`).
    `request_id` comes from the Idempotency-Key: a retry gets the same SetupIntent."""
    found = ctx.memberships.find(membership_id)
    if found is None or found.member_id != principal.sub:
        raise NotFound(f"No membership with id {membership_id!r}.")
    if found.status is MembershipStatus.cancelled:
        raise InvalidState("This membership is cancelled: take out a new one.")
    membership = found
    refs = {"kind": "membership", "membership_id": membership.id, "member_id": principal.sub}
    if membership.customer_id is None:  # a subscription that died before its customer
        profile = members.ensure_profile(ctx, principal)
        customer = gateway(ctx).create_customer(
            email=str(profile.get("email") or principal.email or ""),
            name=str(profile.get("name") or principal.sub),
            idempotency_key=f"membership-{membership.id}-customer",
            metadata=refs,
        )
        membership = _set_once(ctx, membership, "customer_id", customer)
    assert membership.customer_id is not None
    setup = gateway(ctx).create_setup_intent(
        customer=membership.customer_id,
        payment_method_types=[payment_method_type],
        idempotency_key=f"membership-{membership.id}-setup-{request_id}",
        metadata={**refs, "purpose": REPLACEMENT, "payment_method_type": payment_method_type},
    )

    def started(current: Membership) -> Membership:
        if current.status is MembershipStatus.cancelled:
            raise InvalidState("This membership is cancelled: take out a new one.")
        return current.model_copy(update={"pending_setup_intent_id": setup.id})

    done = ctx.memberships.update(membership.member_id, membership.id, started)
    assert done is not None
    return {
        "membership": done[0].public(),
        "setup": {"setup_intent_id": setup.id, "client_secret": setup.client_secret},
    }


def _set_once(ctx: Context, membership: Membership, field: str, value: str) -> Membership:
    def fill(current: Membership) -> Membership:
        return current if getattr(current, field) else current.model_copy(update={field: value})

    done = ctx.memberships.update(membership.member_id, membership.id, fill)
    assert done is not None
    return done[0]


def list_memberships(
    ctx: Context, principal: Principal, limit: int, cursor: str | None
) -> dict[str, Any]:
    items, next_cursor = ctx.memberships.page_of_member(principal.sub, limit, cursor)
    return {"items": [m.public() for m in items], "next_cursor": next_cursor}


def cancel(ctx: Context, principal: Principal, membership_id: str) -> dict[str, Any]:
    """End at period end (now if nothing is paid); a cancelled one answers 409."""
    found = ctx.memberships.find(membership_id)
    if found is None or not (found.member_id == principal.sub or principal.is_admin):
        raise NotFound(f"No membership with id {membership_id!r}.")
    if found.status is MembershipStatus.cancelled:
        raise InvalidState("This membership is already cancelled.")
    now = ctx.clock.now()
    seen: list[Membership] = []

    def cancel_it(current: Membership) -> Membership:
        seen.append(current)
        return cancel_requested(current, now)

    done = ctx.memberships.update(found.member_id, found.id, cancel_it)
    assert done is not None
    after, wrote = done
    if wrote and principal.sub != found.member_id:  # on the member's behalf: in the trail
        _audit_cancel(ctx, principal, seen[-1], after)
    return {"membership": after.public()}


def _audit_cancel(
    ctx: Context, principal: Principal, before: Membership, after: Membership
) -> None:
    fields = ("status", "cancel_at_period_end", "cancelled_at")
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    changes = {f: [old[f], new[f]] for f in fields if old[f] != new[f]}
    audit.record(
        ctx,
        principal,
        "cancel",
        "membership",
        after.id,
        operator_id=after.operator_id,
        changes=changes,
    )


# -- invoicing ------------------------------------------------------------------------


def membership_sale(ctx: Context, payment: Payment) -> Sale | None:
    """What a membership payment sold: its period, at the VAT rate frozen on the
    membership, served from the period's first day (None: not a known period)."""
    paid_for = _period_of(ctx, payment)
    if paid_for is None:
        return None
    membership, period = paid_for
    assert membership.anchor is not None
    start, _ = period_bounds(membership.anchor, period)
    return Sale(
        description=payment.description,
        amount_incl_vat=payment.amount,
        vat_rate=Decimal(membership.vat_rate),
        service_date=start.astimezone(PARIS).date(),
    )


def membership_payment_method(ctx: Context, payment: Payment) -> str:
    """How a membership payment was made, for the invoice's mention ("card" or
    "sepa_debit": "Facture acquittée ... par prélèvement SEPA"): the method the charge
    used, as its payment records it; for an older record, the membership's current one."""
    if payment.payment_method_type in ("card", "sepa_debit"):
        return payment.payment_method_type
    paid_for = _period_of(ctx, payment)
    return paid_for[0].payment_method_type if paid_for else "card"


def _period_of(ctx: Context, payment: Payment) -> tuple[Membership, int] | None:
    parsed = parse_period_subject(payment.subject_id)
    membership = ctx.memberships.get(payment.member_id, parsed[0]) if parsed else None
    if parsed is None or membership is None or membership.anchor is None:
        return None
    return membership, parsed[1]
