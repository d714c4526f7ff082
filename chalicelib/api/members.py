"""The member's own billing profile."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.services import members

bp = Blueprint(__name__)


@endpoint(
    bp,
    "/v1/me",
    "GET",
    summary="My billing profile",
    tag="members",
    response=members.ProfileOut,
)
def get_me(call: Call) -> Any:
    return members.get_profile(call.ctx, call.principal)


@endpoint(
    bp,
    "/v1/me",
    "PUT",
    summary="Update my billing profile",
    tag="members",
    body=members.BillingProfile,
    errors=(422,),
    response=members.ProfileOut,
)
def put_me(call: Call) -> Any:
    return members.update_profile(call.ctx, call.principal, call.body)
