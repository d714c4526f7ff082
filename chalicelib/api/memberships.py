"""Routes of memberships: take one out (a SetupIntent to confirm), list, cancel, and
replace the payment method (another SetupIntent)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import PageQuery
from chalicelib.api.schemas import Out, PriceOut
from chalicelib.domain.membership import MembershipStatus, PaymentMethodType
from chalicelib.services import memberships, rate_limits

bp = Blueprint(__name__)


class MembershipRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    product_id: str = Field(min_length=1, max_length=100)
    payment_method_type: PaymentMethodType


class PaymentMethodRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    payment_method_type: PaymentMethodType


class MembershipFilters(PageQuery):
    pass


class MembershipOut(Out):
    """A membership as the API answers it (times in Europe/Paris)."""

    id: str
    product_id: str
    product_name: str
    operator_id: str
    status: MembershipStatus
    payment_method_type: PaymentMethodType
    price: PriceOut  # per period
    current_period_start: datetime | None
    current_period_end: datetime | None
    days_used: float  # halves count 0.5
    days_per_period: float | None  # None: unlimited hot desk
    cancel_at_period_end: bool
    next_charge_at: datetime | None
    last_payment_error: str | None  # why the last charge failed (Stripe's code)
    created_at: datetime
    cancelled_at: datetime | None


class SetupOut(Out):
    setup_intent_id: str
    client_secret: str


class NewMembershipAnswer(Out):
    membership: MembershipOut
    setup: SetupOut


class MembershipAnswer(Out):
    membership: MembershipOut


class PaymentMethodAnswer(Out):
    membership: MembershipOut
    setup: SetupOut


@endpoint(
    bp,
    "/v1/memberships",
    "POST",
    summary="Take out a membership: save a card or SEPA mandate (SetupIntent)",
    tag="wallet",
    body=MembershipRequest,
    response=NewMembershipAnswer,
    status=201,
    idempotent=True,
    errors=(404, 422, 429),
)
def create_membership(call: Call) -> Any:
    rate_limits.check_member_writes(call.ctx, call.principal)
    body: MembershipRequest = call.body
    return memberships.subscribe(
        call.ctx, call.principal, body.product_id, body.payment_method_type, call.new_id("mbr")
    )


@endpoint(
    bp,
    "/v1/memberships",
    "GET",
    summary="My memberships",
    tag="wallet",
    query=MembershipFilters,
    response=list[MembershipOut],
    errors=(422,),
)
def list_memberships(call: Call) -> Any:
    filters: MembershipFilters = call.query
    return memberships.list_memberships(call.ctx, call.principal, filters.limit, filters.cursor)


@endpoint(
    bp,
    "/v1/memberships/{membership_id}/cancel",
    "POST",
    summary="Cancel a membership at the end of its period",
    tag="wallet",
    response=MembershipAnswer,
    errors=(404, 409),
)
def cancel_membership(call: Call) -> Any:
    return memberships.cancel(call.ctx, call.principal, call.params["membership_id"])


@endpoint(
    bp,
    "/v1/memberships/{membership_id}/payment-method",
    "PUT",
    summary="Replace my membership's card or SEPA mandate; a failed charge is retried",
    tag="wallet",
    body=PaymentMethodRequest,
    response=PaymentMethodAnswer,
    idempotent=True,
    errors=(404, 409, 422, 429),
)
def replace_payment_method(call: Call) -> Any:
    rate_limits.check_member_writes(call.ctx, call.principal)
    body: PaymentMethodRequest = call.body
    return memberships.replace_payment_method(
        call.ctx,
        call.principal,
        call.params["membership_id"],
        body.payment_method_type,
        call.new_id("pms"),
    )
