"""Routes of bookings."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import DateSpan, PageQuery
from chalicelib.api.schemas import BookingAnswer, BookingOut, CancelAnswer
from chalicelib.domain.booking import BookingRequest, BookingStatus
from chalicelib.services import bookings, rate_limits

bp = Blueprint(__name__)


class BookingFilters(PageQuery, DateSpan):
    status: BookingStatus | None = Field(default=None, description="Only bookings in this state.")
    relay_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Only this relay's bookings (a manager's relay, or any for an admin).",
    )


@endpoint(
    bp,
    "/v1/bookings",
    "POST",
    summary="Book a desk, room or office",
    tag="bookings",
    body=BookingRequest,
    status=201,
    idempotent=True,
    errors=(403, 404, 409, 422, 429),
    response=BookingAnswer,
)
def create_booking(call: Call) -> Any:
    rate_limits.check_member_writes(call.ctx, call.principal)
    return bookings.book(
        call.ctx,
        call.principal,
        call.body,
        booking_id=call.new_id("bkg"),
        keyed=call.idempotency_key is not None,  # else a fresh id
    )


@endpoint(
    bp,
    "/v1/bookings",
    "GET",
    summary="List bookings (own, a managed relay's, or all)",
    tag="bookings",
    query=BookingFilters,
    errors=(404, 422),
    response=list[BookingOut],
)
def list_bookings(call: Call) -> Any:
    f: BookingFilters = call.query
    return bookings.list_bookings(
        call.ctx,
        call.principal,
        relay_id=f.relay_id,
        span=(f.from_, f.to),
        status=f.status.value if f.status else None,
        limit=f.limit,
        cursor=f.cursor,
    )


@endpoint(
    bp,
    "/v1/bookings/{booking_id}",
    "GET",
    summary="Read a booking",
    tag="bookings",
    errors=(404,),
    response=BookingOut,
)
def get_booking(call: Call) -> Any:
    return bookings.get_booking(call.ctx, call.principal, call.params["booking_id"])


@endpoint(
    bp,
    "/v1/bookings/{booking_id}/cancel",
    "POST",
    summary="Cancel a booking",
    tag="bookings",
    errors=(404, 409),
    response=CancelAnswer,
)
def cancel_booking(call: Call) -> Any:
    return bookings.cancel(call.ctx, call.principal, call.params["booking_id"])


@endpoint(
    bp,
    "/v1/bookings/{booking_id}/check-in",
    "POST",
    summary="Check in",
    tag="bookings",
    errors=(404, 409),
    response=BookingOut,
)
def check_in(call: Call) -> Any:
    return bookings.check_in(call.ctx, call.principal, call.params["booking_id"])
