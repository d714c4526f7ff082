"""Bookings and seat occupancy in the table — the never-oversell transactions.

A booking is ONE transaction: the day must not be closed, every touched slot must stay
within capacity, the booking must not exist yet. Releasing a seat (cancel, expiry,
closure, no-show) is the mirror transaction, conditioned on the booking's status, so a
seat is freed exactly once. The items themselves are built in `booking_items`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters import booking_items as shapes
from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item
from chalicelib.domain.booking import SEAT_TAKING, Booking, BookingStatus
from chalicelib.errors import (
    InvalidState,
    NotFound,
    OutsideOpeningHours,
    RelayClosed,
    SlotUnavailable,
)


class BookingExists(Exception):
    """The booking id is taken: the same request was already carried out."""


class CreditsChanged(Exception):
    """A pack the booking drew on changed meanwhile: read the packs again and retry."""


class CapacityChanged(Exception):
    """The resource's capacity (or `active`) is no longer the one the booking read:
    read it again and retry."""


class ExtraConditionFailed(Exception):
    """A condition of an item given in `extra` failed; `args[0]` is its position."""


class PaymentRefunded(Exception):
    """The payment a hold paid late would be reinstated with was refunded in full meanwhile."""


class BookingStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- reads ---------------------------------------------------------------
    def get(self, booking_id: str) -> Booking | None:
        item = self._table.get_key(keys.booking(booking_id))
        return Booking.model_validate(strip_keys(item)) if item else None

    def occupancy(self, relay_id: str, day: str) -> tuple[bool, dict[str, dict[int, int]]]:
        """(closed?, seats taken per slot index per resource) of a relay-day: one Query."""
        closed = False
        taken: dict[str, dict[int, int]] = {}
        for item in self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.occupancy_pk(relay_id, day)},
            ConsistentRead=True,
        ):
            if item["SK"] == keys.CLOSURE_MARKER_SK:
                closed = True
            elif item["SK"].startswith(keys.OCCUPANCY_SK_PREFIX):
                taken[item["SK"].removeprefix(keys.OCCUPANCY_SK_PREFIX)] = {
                    int(k[1:]): int(v) for k, v in item.items() if k[0] == "s" and k[1:].isdigit()
                }
        return closed, taken

    def page_for_member(
        self,
        member_id: str,
        span: tuple[str, str],
        status: str | None,
        limit: int,
        cursor: str | None,
        relay_id: str | None = None,
    ) -> tuple[list[Booking], str | None]:
        """The member's bookings, of one relay when `relay_id` is given (filtered in the
        query, so that a page is filled as far as the member has such bookings)."""
        low, high = span
        return self._page(
            "GSI1",
            keys.member_pk(member_id),
            keys.member_bookings_between(low, high),
            status,
            limit,
            cursor,
            relay_id,
        )

    def page_for_relay(
        self,
        relay_id: str,
        span: tuple[str, str],
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Booking], str | None]:
        low, high = span
        return self._page("GSI2", keys.relay_pk(relay_id), (low, f"{high}~"), status, limit, cursor)

    def on_relay_day(self, relay_id: str, day: str) -> list[Booking]:
        items = self._table.query_all(
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk AND begins_with(GSI2SK, :day)",
            ExpressionAttributeValues={":pk": keys.relay_pk(relay_id), ":day": day},
        )
        return [Booking.model_validate(strip_keys(i)) for i in items]

    def expired_holds(self, now: datetime, limit: int = 200) -> list[str]:
        """Ids of held bookings whose hold ended at or before `now`, oldest first."""
        response = self._table.table.query(
            KeyConditionExpression="PK = :pk AND SK <= :now",
            ExpressionAttributeValues={":pk": keys.HOLDS_PK, ":now": f"{shapes.utc_z(now)}~"},
            Limit=limit,
        )
        return [item["booking_id"] for item in response.get("Items", [])]

    # -- writes --------------------------------------------------------------
    def create(
        self,
        booking: Booking,
        capacity: int,
        now: datetime,
        extra: list[dict[str, Any]] | None = None,
    ) -> None:
        """Book with `capacity` as read from the (cached) catalogue; if the resource's
        capacity changed meanwhile, once more with the stored one."""
        try:
            self._create(booking, capacity, now, extra)
        except CapacityChanged:
            self._create(booking, self.current_capacity(booking), now, extra)

    def current_capacity(self, booking: Booking, check_active: bool = True) -> int:
        """The stored capacity of the booking's resource; NotFound if it is withdrawn."""
        item = self._table.get_key(shapes.resource_key(booking))
        withdrawn = item is not None and (
            item.get("active") is False or bool(item.get(shapes.OUT_OF_SERVICE))
        )
        if item is None or (check_active and withdrawn):
            raise NotFound(f"No resource with id {booking.resource_id!r}.")
        return int(item["capacity"])

    def _create(
        self,
        booking: Booking,
        capacity: int,
        now: datetime,
        extra: list[dict[str, Any]] | None = None,
    ) -> None:
        """Take the seat, the credits if any, and record the booking in one transaction.

        `extra` items (e.g. a membership's day counter) join the same transaction; if one
        of their conditions fails, `ExtraConditionFailed` names its position in `extra`."""
        day, table = booking.date.isoformat(), self._table.name
        items = [
            shapes.day_open(table, booking),
            shapes.take_seats(table, booking, capacity),
            {
                "Put": {
                    "TableName": table,
                    "Item": shapes.booking_item(booking),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            shapes.capacity_unchanged(table, booking, capacity),
            shapes.within_hours(table, booking),
        ]
        if booking.status is BookingStatus.held:
            items.append({"Put": {"TableName": table, "Item": shapes.hold_item(booking)}})
        items.extend(shapes.draw_credits(table, booking, now))
        first_extra = len(items)
        items.extend(extra or [])

        def explain(reasons: list[str]) -> None:
            if reasons[0] == "ConditionalCheckFailed":
                raise RelayClosed(f"The relay is closed on {day}.")
            if reasons[2] == "ConditionalCheckFailed":
                raise BookingExists(booking.id)
            if reasons[3] == "ConditionalCheckFailed":
                raise CapacityChanged()
            if reasons[4] == "ConditionalCheckFailed":
                raise OutsideOpeningHours(f"The opening hours of {day} changed: read them again.")
            if reasons[1] == "ConditionalCheckFailed":
                raise SlotUnavailable("Not enough free seats for that time.")
            failed = [i for i, r in enumerate(reasons) if r == "ConditionalCheckFailed"]
            if failed and failed[0] >= first_extra:
                raise ExtraConditionFailed(failed[0] - first_extra)
            raise CreditsChanged()

        self._table.transact(items, on_cancel=explain)

    def release(
        self,
        booking: Booking,
        to: BookingStatus,
        now: datetime,
        *,
        restore_credits: bool = False,
        refund_due: int | None = None,
        extra: list[dict[str, Any]] | None = None,
        late: bool = False,
    ) -> Booking:
        """Move a seat-taking booking to a final status and give its seats back, once —
        with its credits when `restore_credits`, and a refund owed when `refund_due`;
        `late`: cancelled past its deadline (noted: what it used stays used)."""
        if booking.status not in SEAT_TAKING:
            raise InvalidState(f"A {booking.status} booking holds no seat to give back.")
        changes: dict[str, Any] = {"status": to, **shapes.stamp(to, now)}
        if late:
            changes["cancelled_late"] = True
        if refund_due:
            changes["refund_due"] = refund_due
        updated = booking.model_copy(update=changes)
        table = self._table.name
        items = [
            shapes.status_update(table, booking, updated),
            shapes.give_back_seats(table, booking, booking.slots),
        ]
        if booking.status is BookingStatus.held and booking.hold_expires_at:
            items.append({"Delete": {"TableName": table, "Key": shapes.hold_key(booking)}})
        if restore_credits:
            items.extend(shapes.restore_credits(table, booking))
        if refund_due:
            due = {**keys.refund_due(booking.id), "booking_id": booking.id}
            items.append({"Put": {"TableName": table, "Item": due}})
        items.extend(extra or [])

        def explain(reasons: list[str]) -> None:
            raise InvalidState("The booking changed meanwhile; read it again.")

        self._table.transact(items, on_cancel=explain)
        return updated

    def reinstate(self, booking: Booking, capacity: int, now: datetime) -> Booking:
        """Take the seats again for a booking whose hold expired before its payment arrived."""
        try:
            return self._reinstate(booking, capacity, now)
        except CapacityChanged:
            # An existing booking of a withdrawn resource stays: only the capacity counts.
            try:
                stored = self.current_capacity(booking, check_active=False)
            except NotFound:
                raise SlotUnavailable("The resource is gone.") from None
            return self._reinstate(booking, stored, now, check_active=False)

    def _reinstate(
        self, booking: Booking, capacity: int, now: datetime, check_active: bool = True
    ) -> Booking:
        updated = booking.model_copy(update={"status": BookingStatus.confirmed})
        table = self._table.name
        items = [
            shapes.day_open(table, booking),
            shapes.take_seats(table, booking, capacity),
            shapes.status_update(table, booking, updated),
            shapes.capacity_unchanged(table, booking, capacity, check_active),
            shapes.within_hours(table, booking),
        ]
        if booking.payment_intent_id:  # refunded in full meanwhile: never seat and money
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": keys.payment(booking.payment_intent_id),
                        "ConditionExpression": "attribute_not_exists(#refunded)"
                        " OR #refunded < #amount",
                        "ExpressionAttributeNames": {
                            "#refunded": "refunded_amount",
                            "#amount": "amount",
                        },
                    }
                }
            )

        def explain(reasons: list[str]) -> None:
            if len(reasons) > 5 and reasons[5] == "ConditionalCheckFailed":
                raise PaymentRefunded(booking.payment_intent_id)
            if reasons[0] == "ConditionalCheckFailed":
                raise RelayClosed(f"The relay is closed on {booking.date.isoformat()}.")
            if reasons[2] == "ConditionalCheckFailed":
                raise InvalidState("The booking changed meanwhile; read it again.")
            if reasons[3] == "ConditionalCheckFailed":
                raise CapacityChanged()
            if reasons[4] == "ConditionalCheckFailed":
                day = booking.date.isoformat()
                raise OutsideOpeningHours(f"The opening hours of {day} changed: read them again.")
            raise SlotUnavailable("The seat was taken meanwhile.")

        self._table.transact(items, on_cancel=explain)
        return updated

    def record_refund(self, booking: Booking, refund: dict[str, Any]) -> None:
        """Note the refund made for a booking and drop its refund-owed marker."""
        key = keys.booking(booking.id)
        self._table.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table.name,
                        "Key": key,
                        "UpdateExpression": "SET #refund = :refund REMOVE refund_due",
                        "ExpressionAttributeNames": {"#refund": "refund"},
                        "ExpressionAttributeValues": {":refund": to_item(refund)},
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table.name,
                        "Key": keys.refund_due(booking.id),
                    }
                },
            ]
        )

    def refund_status(self, booking_id: str, refund_id: str, status: str) -> bool:
        """Stripe's later word on the booking's refund (`failed`), or `transferred` (paid
        by bank transfer since): its `refund.status`, if that refund is the one noted and
        not transferred already (final). False otherwise."""
        try:
            self._table.table.update_item(
                Key=keys.booking(booking_id),
                UpdateExpression="SET #refund.#status = :status",
                ConditionExpression="#refund.#id = :refund_id AND "
                "(attribute_not_exists(#refund.#status) OR #refund.#status <> :final)",
                ExpressionAttributeNames={"#refund": "refund", "#status": "status", "#id": "id"},
                ExpressionAttributeValues={
                    ":status": status,
                    ":refund_id": refund_id,
                    ":final": "transferred",
                },
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def refunds_due(self, limit: int = 100) -> list[str]:
        response = self._table.table.query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.REFUNDS_DUE_PK},
            Limit=limit,
        )
        return [item["booking_id"] for item in response.get("Items", [])]

    def set_payment_intent(self, booking_id: str, intent_id: str) -> None:
        self._table.table.update_item(
            Key=keys.booking(booking_id),
            UpdateExpression="SET payment_intent_id = if_not_exists(payment_intent_id, :pi)",
            ExpressionAttributeValues={":pi": intent_id},
        )

    def set_invoice(self, booking_id: str, invoice_id: str) -> None:
        self._table.table.update_item(
            Key=keys.booking(booking_id),
            UpdateExpression="SET invoice_id = if_not_exists(invoice_id, :inv)",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":inv": invoice_id},
        )

    def flag_dispute(self, booking_id: str) -> None:
        self._table.table.update_item(
            Key=keys.booking(booking_id),
            UpdateExpression="SET disputed = :yes",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":yes": True},
        )

    def transition(self, booking: Booking, updated: Booking, *, day_open: bool = False) -> Booking:
        """Change a booking's status without touching seats (confirm, check-in); with
        `day_open`, only while its relay-day is not closed (else `RelayClosed`)."""
        table = self._table.name
        items = [shapes.status_update(table, booking, updated)]
        if booking.status is BookingStatus.held and updated.status is not BookingStatus.held:
            items.append({"Delete": {"TableName": table, "Key": shapes.hold_key(booking)}})
        if day_open:
            items.append(shapes.day_open(table, booking))

        def explain(reasons: list[str]) -> None:
            if day_open and reasons[-1] == "ConditionalCheckFailed":
                raise RelayClosed(f"The relay is closed on {booking.date.isoformat()}.")
            raise InvalidState("The booking changed meanwhile; read it again.")

        self._table.transact(items, on_cancel=explain)
        return updated

    def forget_hold(self, booking: Booking) -> None:
        """Drop a stale hold marker (its booking already left the held status)."""
        self._table.table.delete_item(Key=shapes.hold_key(booking))

    def mark_no_show(self, booking: Booking, free_slots: Sequence[int], now: datetime) -> Booking:
        """`confirmed → no_show`, and one seat back on each of `free_slots` (a subset of the
        booking's slots, those not begun) in the same transaction: the slots already past
        stay counted, and as `no_show` takes no seat, no later release can free them again.
        InvalidState if the booking is no longer confirmed."""
        if booking.status is not BookingStatus.confirmed:
            raise InvalidState(f"A booking in status {booking.status} cannot become a no-show.")
        unknown = set(free_slots) - set(booking.slots)
        if unknown:
            raise ValueError(f"slots {sorted(unknown)} are not the booking's")
        table = self._table.name
        changes = {
            "status": BookingStatus.no_show.value,
            "no_show_at": _iso_utc(now),
            "released_slots": sorted(free_slots),
        }
        items = [shapes.status_change(table, booking, changes)]
        if free_slots:
            items.append(shapes.give_back_seats(table, booking, sorted(free_slots)))
        self._table.transact(items, on_cancel=_changed)
        return booking.model_copy(update={"status": BookingStatus.no_show})

    def complete(self, booking: Booking, now: datetime) -> Booking:
        """`confirmed | checked_in → completed` once its time is over: no seat changes
        (the slots are past); InvalidState if the booking changed meanwhile."""
        if booking.status not in (BookingStatus.confirmed, BookingStatus.checked_in):
            raise InvalidState(f"A booking in status {booking.status} cannot be completed.")
        changes = {"status": BookingStatus.completed.value, "completed_at": _iso_utc(now)}
        self._table.transact(
            [shapes.status_change(self._table.name, booking, changes)], on_cancel=_changed
        )
        return booking.model_copy(update={"status": BookingStatus.completed})

    def _page(
        self,
        index: str,
        pk: str,
        span: tuple[str, str],
        status: str | None,
        limit: int,
        cursor: str | None,
        relay_id: str | None = None,
    ) -> tuple[list[Booking], str | None]:
        values = {":pk": pk, ":low": span[0], ":high": span[1]}
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": f"{index}PK = :pk AND {index}SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": values,
        }
        filters = []
        if status:
            filters.append("#status = :status")
            query["ExpressionAttributeNames"] = {"#status": "status"}
            values[":status"] = status
        if relay_id:
            filters.append("relay_id = :relay")
            values[":relay"] = relay_id
        if filters:
            query["FilterExpression"] = " AND ".join(filters)
        items, next_cursor = self._table.query_page(limit, cursor, **query)
        return [Booking.model_validate(strip_keys(i)) for i in items], next_cursor


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _changed(reasons: list[str]) -> None:
    raise InvalidState("The booking changed meanwhile; read it again.")
