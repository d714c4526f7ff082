"""The DynamoDB items of the booking transactions (booking_store assembles them).

Occupancy: `OCC#{relay}#{date}` / `RES#{resource}`, one numeric attribute per 30-minute
slot (`s{index}`) counting seats taken. Every write of a booking is conditioned on the
status it is expected to have, so a seat is taken or freed exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import to_item
from chalicelib.domain.booking import Booking, BookingStatus

Item = dict[str, Any]
_UTC_Z = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS


def slot_attr(index: int) -> str:
    return f"s{index:02d}"


def utc_z(moment: datetime) -> str:
    """`2026-12-02T07:00:00Z`: the instant text of booking index keys (written by orjson,
    a quarter of `strftime`'s cost)."""
    return orjson.dumps(moment.astimezone(UTC), option=_UTC_Z)[1:-1].decode()


def occupancy_key(booking: Booking) -> keys.Key:
    return keys.key(
        keys.occupancy_pk(booking.relay_id, booking.date.isoformat()),
        keys.occupancy_sk(booking.resource_id),
    )


def resource_key(booking: Booking) -> keys.Key:
    return keys.key(keys.relay_pk(booking.relay_id), keys.resource_sk(booking.resource_id))


def capacity_unchanged(
    table: str, booking: Booking, capacity: int, check_active: bool = True
) -> Item:
    """Condition: the resource still has the capacity this booking was checked against
    (and is active). A capacity edit updates that item in its own transaction, which also
    checks every future slot against the new capacity: whichever commits first, the other
    sees it (services/resource_edits.py)."""
    check: dict[str, Any] = {
        "TableName": table,
        "Key": resource_key(booking),
        "ConditionExpression": "#capacity = :cap",
        "ExpressionAttributeNames": {"#capacity": "capacity"},
        "ExpressionAttributeValues": {":cap": capacity},
    }
    if check_active:  # and its relay in service (services/relay_service.py)
        check["ConditionExpression"] += (
            " AND (attribute_not_exists(#active) OR #active = :yes) AND attribute_not_exists(#oos)"
        )
        check["ExpressionAttributeNames"] |= {"#active": "active", "#oos": OUT_OF_SERVICE}
        check["ExpressionAttributeValues"][":yes"] = True
    return {"ConditionCheck": check}


OUT_OF_SERVICE = "out_of_service"  # on a resource whose relay or operator is inactive


def hours_marker_key(relay_id: str, day: str) -> dict[str, str]:
    return keys.key(keys.occupancy_pk(relay_id, day), keys.HOURS_MARKER_SK)


def closed_slot_attr(index: int) -> str:
    return f"c{index}"


def within_hours(table: str, booking: Booking) -> Item:
    """Condition: none of the booking's slots is closed that day by an opening exception
    or new weekly hours (its hours marker, written by the relay edit, names each closed
    slot `c{i}`). A
    booking checked against hours cached before the edit fails here, and the edit's own
    transaction checks the slots it closes are empty (services/opening_exceptions.py):
    whichever commits first, the other sees it."""
    names, condition = _open_slot_condition(tuple(booking.slots))
    check: dict[str, Any] = {
        "TableName": table,
        "Key": hours_marker_key(booking.relay_id, booking.date.isoformat()),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": dict(names),
    }
    if not names:  # no slot: nothing to check (DynamoDB refuses an empty expression)
        check["ConditionExpression"] = "attribute_not_exists(PK) OR attribute_exists(PK)"
        del check["ExpressionAttributeNames"]
    return {"ConditionCheck": check}


@lru_cache(maxsize=512)
def _open_slot_condition(slots: tuple[int, ...]) -> tuple[dict[str, str], str]:
    """(names, condition) that none of `slots` is closed: built once per slot set."""
    names = {f"#{closed_slot_attr(i)}": closed_slot_attr(i) for i in slots}
    each = " AND ".join(f"attribute_not_exists({n})" for n in names)
    return names, f"attribute_not_exists(PK) OR ({each})"


def day_open(table: str, booking: Booking) -> Item:
    """Condition: the relay is not closed that day (its closure marker is absent)."""
    marker = keys.key(
        keys.occupancy_pk(booking.relay_id, booking.date.isoformat()), keys.CLOSURE_MARKER_SK
    )
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": marker,
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def take_seats(table: str, booking: Booking, capacity: int) -> Item:
    names, update, conditions = _seat_expressions(tuple(booking.slots))
    return {
        "Update": {
            "TableName": table,
            "Key": occupancy_key(booking),
            "UpdateExpression": update,
            "ConditionExpression": conditions,
            "ExpressionAttributeNames": dict(names),
            "ExpressionAttributeValues": {":one": 1, ":cap": capacity},
        }
    }


@lru_cache(maxsize=512)
def _seat_expressions(slots: tuple[int, ...]) -> tuple[dict[str, str], str, str]:
    """(names, update, condition) taking a seat in each of `slots` within `:cap`: the same
    text for every booking of the same slots (a day's are 22), built once (callers copy
    the names)."""
    names = {f"#{slot_attr(i)}": slot_attr(i) for i in slots}
    update = "ADD " + ", ".join(f"{n} :one" for n in names) + " SET #capacity = :cap"
    conditions = " AND ".join(f"(attribute_not_exists({n}) OR {n} < :cap)" for n in names)
    names["#capacity"] = "capacity"
    return names, update, conditions


def give_back_seats(table: str, booking: Booking, slots: list[int]) -> Item:
    """The occupancy update freeing one seat in each of `slots`."""
    names = {f"#{slot_attr(i)}": slot_attr(i) for i in sorted(slots)}
    return {
        "Update": {
            "TableName": table,
            "Key": occupancy_key(booking),
            "UpdateExpression": "ADD " + ", ".join(f"{n} :minus" for n in names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {":minus": -1},
        }
    }


def draw_credits(table: str, booking: Booking, now: datetime) -> list[Item]:
    return [
        {
            "Update": {
                "TableName": table,
                "Key": keys.key(keys.member_pk(booking.member_id), draw["pack_key"]),
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


def restore_credits(table: str, booking: Booking) -> list[Item]:
    """Give each pack back what the booking took from it — except a pack revoked since (its
    purchase refunded in full, `PaymentStore.revoke_pack`): it carries `credits_on_restore
    = 0`, which is added instead. A rule in the update, not a condition, so the
    cancellation itself never fails on it, whatever the order of the two writes."""
    return [
        {
            "Update": {
                "TableName": table,
                "Key": keys.key(keys.member_pk(booking.member_id), draw["pack_key"]),
                "UpdateExpression": "SET credits_remaining = credits_remaining"
                " + if_not_exists(credits_on_restore, :n)",
                "ExpressionAttributeValues": {":n": draw["credits"]},
            }
        }
        for draw in booking.credit_draws
    ]


def status_update(table: str, booking: Booking, updated: Booking) -> Item:
    """Write what changed from `booking` to `updated`, on condition of `booking`'s status."""
    changes = {
        k: v
        for k, v in to_item(updated.model_dump()).items()
        if k not in ("id",) and getattr(booking, k) != getattr(updated, k)
    }
    return status_change(table, booking, changes, {"#status": "status"})


def status_change(
    table: str, booking: Booking, changes: dict[str, Any], names: dict[str, str] | None = None
) -> Item:
    """SET `changes` on the booking, on condition that its status is still `booking`'s."""
    values = {f":{k}": v for k, v in changes.items()}
    values[":expected"] = booking.status.value
    return {
        "Update": {
            "TableName": table,
            "Key": keys.booking(booking.id),
            "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in changes),
            "ConditionExpression": "#status = :expected",
            "ExpressionAttributeNames": {**{f"#{k}": k for k in changes}, **(names or {})},
            "ExpressionAttributeValues": values,
        }
    }


def booking_item(booking: Booking) -> Item:
    day, start = booking.date.isoformat(), utc_z(booking.start)
    return {
        **keys.booking(booking.id),
        "entity": "booking",
        "GSI1PK": keys.member_pk(booking.member_id),
        "GSI1SK": keys.member_booking_sk(day, start, booking.id),
        "GSI2PK": keys.relay_pk(booking.relay_id),
        "GSI2SK": keys.relay_booking_sk(day, start, booking.id),
        **to_item(booking.model_dump()),
    }


def hold_key(booking: Booking) -> keys.Key:
    assert booking.hold_expires_at is not None
    return keys.hold(utc_z(booking.hold_expires_at), booking.id)


def hold_item(booking: Booking) -> Item:
    return {**hold_key(booking), "booking_id": booking.id}


def stamp(status: BookingStatus, now: datetime) -> dict[str, Any]:
    if status is BookingStatus.cancelled:
        return {"cancelled_at": now}
    return {}
