"""Condition checks that a resource's future slots fit within a (lower) capacity.

Used by a capacity edit: one check per relay-day of the booking horizon on the
resource's occupancy item (`OCC#{relay}#{date}` / `RES#{resource}`), in the edit's own
transaction. Every slot attribute is checked, present or not, so a booking committed
between our read and our write cannot slip through; a day without any booking has no
item and passes.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.booking_items import closed_slot_attr, hours_marker_key, slot_attr
from chalicelib.adapters.keys import occupancy_pk, occupancy_sk

MAX_SLOTS_PER_DAY = 50  # a fall-back DST day has 50 half hours


def fits_capacity(
    table_name: str, relay_id: str, resource_id: str, day: str, capacity: int, first_slot: int
) -> dict[str, Any]:
    names = {f"#{slot_attr(i)}": slot_attr(i) for i in range(first_slot, MAX_SLOTS_PER_DAY)}
    each = " AND ".join(f"(attribute_not_exists({n}) OR {n} <= :cap)" for n in names)
    check: dict[str, Any] = {
        "TableName": table_name,
        "Key": {"PK": occupancy_pk(relay_id, day), "SK": occupancy_sk(resource_id)},
        "ConditionExpression": f"attribute_not_exists(PK) OR ({each})",
        "ExpressionAttributeValues": {":cap": capacity},
    }
    if names:
        check["ExpressionAttributeNames"] = names
    else:
        check["ConditionExpression"] = "attribute_not_exists(PK) OR attribute_exists(PK)"
        del check["ExpressionAttributeValues"]
    return {"ConditionCheck": check}


def slots_empty(
    table_name: str, relay_id: str, resource_id: str, day: str, indices: list[int]
) -> dict[str, Any]:
    """Condition: none of the resource's `indices` slots that day holds a seat (used when
    opening hours shrink on a date: the slots that close must be empty). A day without
    any booking has no item and passes."""
    names = {f"#{slot_attr(i)}": slot_attr(i) for i in indices}
    each = " AND ".join(f"(attribute_not_exists({n}) OR {n} <= :zero)" for n in names)
    check: dict[str, Any] = {
        "TableName": table_name,
        "Key": {"PK": occupancy_pk(relay_id, day), "SK": occupancy_sk(resource_id)},
        "ConditionExpression": f"attribute_not_exists(PK) OR ({each})",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":zero": 0},
    }
    return {"ConditionCheck": check}


HOURS_VERSION = "hours_version"


def hours_marker(
    table_name: str,
    relay_id: str,
    day: str,
    closed: list[int],
    version: int,
    *,
    if_newer: bool = False,
) -> dict[str, Any]:
    """The day's hours marker: `c{i}` for every slot closed that day by its hours (its
    opening exception, else the weekly hours), as the relay's edit of `version` left them;
    every booking transaction of that day checks it. `if_newer`: written only over a
    marker of an older edit (or none), for a write outside the edit's transaction, which
    may land after a later edit's."""
    item: dict[str, Any] = {
        **hours_marker_key(relay_id, day),
        "entity": "hours_marker",
        HOURS_VERSION: version,
    }
    item |= {closed_slot_attr(i): 1 for i in closed}
    put: dict[str, Any] = {"TableName": table_name, "Item": item}
    if if_newer:
        put["ConditionExpression"] = "attribute_not_exists(#version) OR #version < :version"
        put["ExpressionAttributeNames"] = {"#version": HOURS_VERSION}
        put["ExpressionAttributeValues"] = {":version": version}
    return {"Put": put}
