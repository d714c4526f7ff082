"""Attendance writes: a no-show frees the rest of its time, a finished booking completes.

Both are conditioned on the booking's status, like every release in `booking_store`: a
no-show moves `confirmed → no_show` and gives back, in the same transaction, only the
slots it names (those not begun yet), so its seats are freed exactly once and the slots
already past stay counted. `no_show` is not a seat-taking status, so no later release
(cancel, closure, expiry, webhook) can touch its seats again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.booking_store import BookingStore
from chalicelib.adapters.dynamo import Table
from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.errors import InvalidState


class AttendanceStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def mark_no_show(self, booking: Booking, free_slots: Sequence[int], now: datetime) -> Booking:
        """`confirmed → no_show`, and one seat back on each of `free_slots` (a subset of the
        booking's slots); InvalidState if the booking is no longer confirmed."""
        if booking.status is not BookingStatus.confirmed:
            raise InvalidState(f"A booking in status {booking.status} cannot become a no-show.")
        unknown = set(free_slots) - set(booking.slots)
        if unknown:
            raise ValueError(f"slots {sorted(unknown)} are not the booking's")
        items: list[dict[str, Any]] = [
            self._status_update(
                booking,
                BookingStatus.no_show,
                {"no_show_at": _utc(now), "released_slots": sorted(free_slots)},
            )
        ]
        if free_slots:
            items.append(BookingStore(self._table).give_back_seats(booking, sorted(free_slots)))
        self._table.transact(items, on_cancel=_changed)
        return booking.model_copy(update={"status": BookingStatus.no_show})

    def complete(self, booking: Booking, now: datetime) -> Booking:
        """`confirmed | checked_in → completed` once its time is over: no seat changes
        (the slots are past); InvalidState if the booking changed meanwhile."""
        if booking.status not in (BookingStatus.confirmed, BookingStatus.checked_in):
            raise InvalidState(f"A booking in status {booking.status} cannot be completed.")
        items = [self._status_update(booking, BookingStatus.completed, {"completed_at": _utc(now)})]
        self._table.transact(items, on_cancel=_changed)
        return booking.model_copy(update={"status": BookingStatus.completed})

    def _status_update(
        self, booking: Booking, to: BookingStatus, extra: dict[str, Any]
    ) -> dict[str, Any]:
        changes = {"status": to.value, **extra}
        names = {f"#{k}": k for k in changes}
        values = {f":{k}": v for k, v in changes.items()}
        values[":expected"] = booking.status.value
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": {"PK": f"BOOKING#{booking.id}", "SK": "BOOKING"},
                "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in changes),
                "ConditionExpression": "#status = :expected",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }


def _changed(reasons: list[str]) -> None:
    raise InvalidState("The booking changed meanwhile; read it again.")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
