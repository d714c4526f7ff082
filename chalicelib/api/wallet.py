"""Routes of credit-pack purchases and the wallet."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.schemas import PurchaseAnswer, WalletOut
from chalicelib.services import rate_limits, wallet

bp = Blueprint(__name__)


class PurchaseRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    product_id: str = Field(min_length=1, max_length=100)


@endpoint(
    bp,
    "/v1/purchases",
    "POST",
    summary="Buy a credit pack (paid by card)",
    tag="wallet",
    body=PurchaseRequest,
    status=201,
    idempotent=True,
    errors=(404, 422, 429),
    response=PurchaseAnswer,
)
def create_purchase(call: Call) -> Any:
    rate_limits.check_member_writes(call.ctx, call.principal)
    return wallet.buy_pack(call.ctx, call.principal, call.body.product_id, call.new_id("pur"))


@endpoint(
    bp,
    "/v1/wallet",
    "GET",
    summary="Credits left, pack by pack",
    tag="wallet",
    response=WalletOut,
)
def get_wallet(call: Call) -> Any:
    return wallet.wallet(call.ctx, call.principal)
