"""Editing a resource: name, rates, VAT rate, `active`, and capacity without overselling.

New rates apply to new bookings only (a booking keeps the price it was sold at).

Lowering the capacity races the bookings. Two rules close the race:
- a booking's transaction checks that the resource item still has the capacity the
  booking was checked against (booking_store `_capacity_unchanged`);
- a capacity edit's transaction updates that item (conditioned on its version) and
  checks, for every day from today to the booking horizon, that no slot of the resource
  holds more seats than the new capacity (capacity_checks.py).
DynamoDB serialises the two transactions on the resource item: if the booking commits
first, the edit's occupancy checks see its seat; if the edit commits first, the
booking's capacity check fails and it is retried against the stored capacity. Nothing
is half-applied: on a conflict, 409 `capacity_conflict` lists the slots, nothing written.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.adapters.dynamo import MAX_TRANSACTION_ITEMS
from chalicelib.adapters.versioned_store import resource_key
from chalicelib.auth import Principal
from chalicelib.domain.catalogue import Relay, Resource
from chalicelib.domain.catalogue_patches import ResourcePatch
from chalicelib.domain.editing import (
    Expected,
    apply_patch,
    changed_fields,
    check_if_match,
    sent_fields,
)
from chalicelib.domain.schedule import local_midnight, slot_at, slots_in_day
from chalicelib.errors import CapacityConflict, NotFound, RelaisError
from chalicelib.services import audit
from chalicelib.services.catalogue_edits import read, save
from chalicelib.services.context import Context

SLOT_SECONDS = 1800


def patch_resource(
    ctx: Context,
    principal: Principal,
    relay_id: str,
    resource_id: str,
    if_match: str | Expected | None,
    patch: ResourcePatch,
) -> Resource:
    """`if_match` (the raw header, or a version already read from one) is read once the
    resource is known to exist in that relay (404 before 428), as for relays."""
    key = resource_key(relay_id, resource_id)
    before = read(ctx, key, Resource, "resource")
    if before.relay_id != relay_id:
        raise NotFound("No resource with that id.")
    check_if_match(before.version, if_match)
    after = apply_patch(before, sent_fields(patch))
    entry = audit.entry(
        ctx,
        principal,
        "update",
        "resource",
        resource_id,
        operator_id=ctx.catalogue.relay(relay_id).operator_id,
        relay_id=relay_id,
        changes=changed_fields(before, after),
    )
    extra: list[dict[str, Any]] = []
    days: list[tuple[date, int]] = []
    if after.capacity < before.capacity:
        relay = ctx.catalogue.relay(relay_id)
        days = future_days(relay, ctx.clock.now(), ctx.settings.booking_horizon_days)
        if len(days) + 2 > MAX_TRANSACTION_ITEMS:
            raise RelaisError("BOOKING_HORIZON_DAYS is too long for a capacity check (max 97).")
        checked = [(d.isoformat(), first) for d, first in days]
        extra = ctx.versioned.capacity_checks(relay_id, resource_id, checked, after.capacity)

    def explain(failed: list[int]) -> None:
        relay = ctx.catalogue.relay(relay_id)
        conflicts = _conflicts(ctx, relay, resource_id, [days[i] for i in failed], after.capacity)
        raise CapacityConflict(
            f"{len(conflicts)} future slot(s) hold more than {after.capacity} seat(s).",
            conflicts,
        )

    return save(ctx, key, before, after, entry, extra, explain)


def future_days(relay: Relay, now: datetime, horizon_days: int) -> list[tuple[date, int]]:
    """(date, first slot still to come) for today and every day of the booking horizon."""
    tz = ZoneInfo(relay.timezone)
    today = now.astimezone(tz).date()
    elapsed = (now - local_midnight(today, tz)).total_seconds()
    first_today = int(elapsed // SLOT_SECONDS)
    return [(today, first_today)] + [
        (today + timedelta(days=n), 0) for n in range(1, horizon_days + 1)
    ]


def _conflicts(
    ctx: Context, relay: Relay, resource_id: str, days: list[tuple[date, int]], capacity: int
) -> list[dict[str, Any]]:
    tz = ZoneInfo(relay.timezone)
    found = []
    for day, first in days:
        _closed, taken = ctx.bookings.occupancy(relay.id, day.isoformat())
        for index, booked in sorted(taken.get(resource_id, {}).items()):
            if index >= first and booked > capacity and index < slots_in_day(day, tz):
                start = slot_at(day, tz, index).local_label()[0]
                found.append({"date": day.isoformat(), "start": start, "booked": booked})
    return found
