"""Bookings and seat occupancy in the table — the never-oversell transactions.

Occupancy: `PK=OCC#{relay}#{date}`, `SK=RES#{resource}`, one numeric attribute per
30-minute slot (`s{index}`), counting seats taken. A booking is ONE transaction:
the day must not be closed, every touched slot must stay within capacity, the
booking must not exist yet. Releasing a seat is the mirror transaction,
conditioned on the booking's status, so a seat is freed exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.catalogue_store import CLOSURE_MARKER_SK, occupancy_pk
from chalicelib.adapters.dynamo import Table, strip_keys, to_item
from chalicelib.domain.booking import SEAT_TAKING, Booking, BookingStatus
from chalicelib.errors import InvalidState, NotFound, RelayClosed, SlotUnavailable

HOLDS_PK = "HOLDS"
REFUNDS_DUE_PK = "REFUNDS_DUE"


class BookingExists(Exception):
    """The booking id is taken: the same request was already carried out."""


class CreditsChanged(Exception):
    """A pack the booking drew on changed meanwhile: read the packs again and retry."""


class CapacityChanged(Exception):
    """The resource's capacity (or `active`) is no longer the one the booking read:
    read the catalogue again and retry."""


class ExtraConditionFailed(Exception):
    """A condition of an item given in `extra` failed; `args[0]` is its position."""


def slot_attr(index: int) -> str:
    return f"s{index:02d}"


class BookingStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- reads ---------------------------------------------------------------
    def get(self, booking_id: str) -> Booking | None:
        item = self._table.get(f"BOOKING#{booking_id}", "BOOKING")
        return Booking.model_validate(strip_keys(item)) if item else None

    def occupancy(self, relay_id: str, day: str) -> tuple[bool, dict[str, dict[int, int]]]:
        """(closed?, seats taken per slot index per resource) of a relay-day: one Query."""
        closed = False
        taken: dict[str, dict[int, int]] = {}
        for item in self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": occupancy_pk(relay_id, day)},
            ConsistentRead=True,
        ):
            if item["SK"] == CLOSURE_MARKER_SK:
                closed = True
            elif item["SK"].startswith("RES#"):
                taken[item["SK"][4:]] = {
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
    ) -> tuple[list[Booking], str | None]:
        low, high = span
        return self._page(
            "GSI1",
            f"MEMBER#{member_id}",
            (f"BOOKING#{low}", f"BOOKING#{high}~"),
            status,
            limit,
            cursor,
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
        return self._page("GSI2", f"RELAY#{relay_id}", (low, f"{high}~"), status, limit, cursor)

    def on_relay_day(self, relay_id: str, day: str) -> list[Booking]:
        items = self._table.query_all(
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk AND begins_with(GSI2SK, :day)",
            ExpressionAttributeValues={":pk": f"RELAY#{relay_id}", ":day": day},
        )
        return [Booking.model_validate(strip_keys(i)) for i in items]

    def expired_holds(self, now: datetime, limit: int = 200) -> list[str]:
        """Ids of held bookings whose hold ended at or before `now`, oldest first."""
        response = self._table.table.query(
            KeyConditionExpression="PK = :pk AND SK <= :now",
            ExpressionAttributeValues={":pk": HOLDS_PK, ":now": f"{_utc(now)}~"},
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

    def current_capacity(self, booking: Booking) -> int:
        """The stored capacity of the booking's resource; NotFound if it is withdrawn."""
        item = self._table.get(f"RELAY#{booking.relay_id}", f"RESOURCE#{booking.resource_id}")
        if item is None or item.get("active") is False:
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
        day = booking.date.isoformat()
        items = [
            self._day_open(booking),
            self._take_seats(booking, capacity),
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": self._booking_item(booking),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            self._capacity_unchanged(booking, capacity),
        ]
        if booking.status is BookingStatus.held:
            items.append({"Put": {"TableName": self._table.name, "Item": self._hold_item(booking)}})
        items.extend(self._draw_credits(booking, now))
        first_extra = len(items)
        items.extend(extra or [])

        def explain(reasons: list[str]) -> None:
            if reasons[0] == "ConditionalCheckFailed":
                raise RelayClosed(f"The relay is closed on {day}.")
            if reasons[2] == "ConditionalCheckFailed":
                raise BookingExists(booking.id)
            if reasons[3] == "ConditionalCheckFailed":
                raise CapacityChanged()
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
    ) -> Booking:
        """Move a seat-taking booking to a final status and give its seats back, once —
        with its credits when `restore_credits`, and a refund owed when `refund_due`."""
        if booking.status not in SEAT_TAKING:
            raise InvalidState(f"A {booking.status} booking holds no seat to give back.")
        changes: dict[str, Any] = {"status": to, **_stamp(to, now)}
        if refund_due:
            changes["refund_due"] = refund_due
        updated = booking.model_copy(update=changes)
        items = [
            self._status_update(booking, updated),
            self.give_back_seats(booking, booking.slots),
        ]
        if booking.status is BookingStatus.held and booking.hold_expires_at:
            items.append(
                {"Delete": {"TableName": self._table.name, "Key": self._hold_key(booking)}}
            )
        if restore_credits:
            items.extend(self._restore_credits(booking))
        if refund_due:
            due = {"PK": REFUNDS_DUE_PK, "SK": booking.id, "booking_id": booking.id}
            items.append({"Put": {"TableName": self._table.name, "Item": due}})
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
            item = self._table.get(f"RELAY#{booking.relay_id}", f"RESOURCE#{booking.resource_id}")
            if item is None:
                raise SlotUnavailable("The resource is gone.") from None
            # An existing booking of a withdrawn resource stays: only the capacity counts.
            return self._reinstate(booking, int(item["capacity"]), now, check_active=False)

    def _reinstate(
        self, booking: Booking, capacity: int, now: datetime, check_active: bool = True
    ) -> Booking:
        updated = booking.model_copy(update={"status": BookingStatus.confirmed})
        items = [
            self._day_open(booking),
            self._take_seats(booking, capacity),
            self._status_update(booking, updated),
            self._capacity_unchanged(booking, capacity, check_active),
        ]

        def explain(reasons: list[str]) -> None:
            if reasons[2] == "ConditionalCheckFailed":
                raise InvalidState("The booking changed meanwhile; read it again.")
            if reasons[3] == "ConditionalCheckFailed":
                raise CapacityChanged()
            raise SlotUnavailable("The seat was taken meanwhile.")

        self._table.transact(items, on_cancel=explain)
        return updated

    def record_refund(self, booking: Booking, refund: dict[str, Any]) -> None:
        """Note the refund made for a booking and drop its refund-owed marker."""
        key = {"PK": f"BOOKING#{booking.id}", "SK": "BOOKING"}
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
                        "Key": {"PK": REFUNDS_DUE_PK, "SK": booking.id},
                    }
                },
            ]
        )

    def refunds_due(self, limit: int = 100) -> list[str]:
        response = self._table.table.query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": REFUNDS_DUE_PK},
            Limit=limit,
        )
        return [item["booking_id"] for item in response.get("Items", [])]

    def set_payment_intent(self, booking_id: str, intent_id: str) -> None:
        self._table.table.update_item(
            Key={"PK": f"BOOKING#{booking_id}", "SK": "BOOKING"},
            UpdateExpression="SET payment_intent_id = if_not_exists(payment_intent_id, :pi)",
            ExpressionAttributeValues={":pi": intent_id},
        )

    def set_invoice(self, booking_id: str, invoice_id: str) -> None:
        self._table.table.update_item(
            Key={"PK": f"BOOKING#{booking_id}", "SK": "BOOKING"},
            UpdateExpression="SET invoice_id = if_not_exists(invoice_id, :inv)",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":inv": invoice_id},
        )

    def flag_dispute(self, booking_id: str) -> None:
        self._table.table.update_item(
            Key={"PK": f"BOOKING#{booking_id}", "SK": "BOOKING"},
            UpdateExpression="SET disputed = :yes",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":yes": True},
        )

    def transition(self, booking: Booking, updated: Booking) -> Booking:
        """Change a booking's status without touching seats (confirm, check-in)."""
        items = [self._status_update(booking, updated)]
        if booking.status is BookingStatus.held and updated.status is not BookingStatus.held:
            items.append(
                {"Delete": {"TableName": self._table.name, "Key": self._hold_key(booking)}}
            )

        def explain(reasons: list[str]) -> None:
            raise InvalidState("The booking changed meanwhile; read it again.")

        self._table.transact(items, on_cancel=explain)
        return updated

    def forget_hold(self, booking: Booking) -> None:
        """Drop a stale hold marker (its booking already left the held status)."""
        self._table.table.delete_item(Key=self._hold_key(booking))

    # -- item shapes ----------------------------------------------------------
    def _day_open(self, booking: Booking) -> dict[str, Any]:
        """Condition: the relay is not closed that day (its closure marker is absent)."""
        day = booking.date.isoformat()
        return {
            "ConditionCheck": {
                "TableName": self._table.name,
                "Key": {"PK": occupancy_pk(booking.relay_id, day), "SK": CLOSURE_MARKER_SK},
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def _capacity_unchanged(
        self, booking: Booking, capacity: int, check_active: bool = True
    ) -> dict[str, Any]:
        """Condition: the resource still has the capacity this booking was checked against,
        and is active. A capacity edit updates that item in its own transaction, which
        also checks every future slot against the new capacity: whichever commits first,
        the other sees it (see services/catalogue_edits.py)."""
        check: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": {"PK": f"RELAY#{booking.relay_id}", "SK": f"RESOURCE#{booking.resource_id}"},
            "ConditionExpression": "#capacity = :cap",
            "ExpressionAttributeNames": {"#capacity": "capacity"},
            "ExpressionAttributeValues": {":cap": capacity},
        }
        if check_active:
            check["ConditionExpression"] += " AND (attribute_not_exists(#active) OR #active = :yes)"
            check["ExpressionAttributeNames"]["#active"] = "active"
            check["ExpressionAttributeValues"][":yes"] = True
        return {"ConditionCheck": check}

    def give_back_seats(self, booking: Booking, slots: list[int]) -> dict[str, Any]:
        """The occupancy update freeing one seat in each of `slots`."""
        names = {f"#{slot_attr(i)}": slot_attr(i) for i in sorted(slots)}
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": {
                    "PK": occupancy_pk(booking.relay_id, booking.date.isoformat()),
                    "SK": f"RES#{booking.resource_id}",
                },
                "UpdateExpression": "ADD " + ", ".join(f"{n} :minus" for n in names),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {":minus": -1},
            }
        }

    def _draw_credits(self, booking: Booking, now: datetime) -> list[dict[str, Any]]:
        return [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": {"PK": f"MEMBER#{booking.member_id}", "SK": draw["pack_key"]},
                    "UpdateExpression": "SET credits_remaining = credits_remaining - :n",
                    "ConditionExpression": "credits_remaining >= :n AND expires_at > :now",
                    "ExpressionAttributeValues": {
                        ":n": draw["credits"],
                        ":now": now.astimezone(UTC).isoformat(),
                    },
                }
            }
            for draw in booking.credit_draws
        ]

    def _restore_credits(self, booking: Booking) -> list[dict[str, Any]]:
        return [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": {"PK": f"MEMBER#{booking.member_id}", "SK": draw["pack_key"]},
                    "UpdateExpression": "ADD credits_remaining :n",
                    "ExpressionAttributeValues": {":n": draw["credits"]},
                }
            }
            for draw in booking.credit_draws
        ]

    def _take_seats(self, booking: Booking, capacity: int) -> dict[str, Any]:
        names = {f"#{slot_attr(i)}": slot_attr(i) for i in booking.slots}
        names["#capacity"] = "capacity"
        conditions = " AND ".join(
            f"(attribute_not_exists({n}) OR {n} < :cap)" for n in names if n != "#capacity"
        )
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": {
                    "PK": occupancy_pk(booking.relay_id, booking.date.isoformat()),
                    "SK": f"RES#{booking.resource_id}",
                },
                "UpdateExpression": "ADD "
                + ", ".join(f"{n} :one" for n in names if n != "#capacity")
                + " SET #capacity = :cap",
                "ConditionExpression": conditions,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {":one": 1, ":cap": capacity},
            }
        }

    def _status_update(self, booking: Booking, updated: Booking) -> dict[str, Any]:
        changes = {
            k: v
            for k, v in to_item(updated.model_dump()).items()
            if k not in ("id",) and getattr(booking, k) != getattr(updated, k)
        }
        names = {f"#{k}": k for k in changes}
        values = {f":{k}": v for k, v in changes.items()}
        values[":expected"] = booking.status.value
        names["#status"] = "status"
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

    def _booking_item(self, booking: Booking) -> dict[str, Any]:
        return {
            "PK": f"BOOKING#{booking.id}",
            "SK": "BOOKING",
            "entity": "booking",
            "GSI1PK": f"MEMBER#{booking.member_id}",
            "GSI1SK": f"BOOKING#{booking.date.isoformat()}#{_utc(booking.start)}#{booking.id}",
            "GSI2PK": f"RELAY#{booking.relay_id}",
            "GSI2SK": f"{booking.date.isoformat()}#{_utc(booking.start)}#{booking.id}",
            **to_item(booking.model_dump()),
        }

    def _hold_key(self, booking: Booking) -> dict[str, str]:
        assert booking.hold_expires_at is not None
        return {"PK": HOLDS_PK, "SK": f"{_utc(booking.hold_expires_at)}#{booking.id}"}

    def _hold_item(self, booking: Booking) -> dict[str, Any]:
        return {**self._hold_key(booking), "booking_id": booking.id}

    def _page(
        self,
        index: str,
        pk: str,
        span: tuple[str, str],
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Booking], str | None]:
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": f"{index}PK = :pk AND {index}SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": {":pk": pk, ":low": span[0], ":high": span[1]},
        }
        if status:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            query["ExpressionAttributeValues"][":status"] = status
        items, next_cursor = self._table.query_page(limit, cursor, **query)
        return [Booking.model_validate(strip_keys(i)) for i in items], next_cursor


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(status: BookingStatus, now: datetime) -> dict[str, Any]:
    if status is BookingStatus.cancelled:
        return {"cancelled_at": now}
    return {}
