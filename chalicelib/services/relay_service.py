"""Whether a relay's resources take new bookings, written where booking transactions
check it.

A relay is out of service while it or its operator is inactive (`relay_in_service`).
Bookings are validated against the cached catalogue (`CATALOGUE_CACHE_SECONDS`); so that
a container still holding the catalogue from before a deactivation cannot book, every
resource of the relay carries `out_of_service` while it is so, and the booking's own
transaction checks its resource item (`booking_items.capacity_unchanged`): refused there,
404 `not_found`, as for a deactivated resource. The marks are written once the edit is
(an operator may run many relays: more than one transaction holds); a failure to write
them is logged and counted, never the edit's: the cache window (seconds) stays open then.

Two edits at once (an operator and one of its relays re-activated by two admins) must not
leave the marks of the one that read first: each relay's marks are computed from the relay
and its operator as stored (consistent reads) and written only while both are still at the
versions read; overtaken by an edit, they are read and computed again (`MARK_ATTEMPTS`).
The edit committed last reads after every other one, so its marks are the ones that stay.
"""

from __future__ import annotations

from chalicelib.domain.catalogue import relay_in_service
from chalicelib.errors import ConcurrentUpdate
from chalicelib.observability import count, logger
from chalicelib.services.context import Context

MARK_ATTEMPTS = 5


def mark_relays(
    ctx: Context, *, relay_id: str | None = None, operator_id: str | None = None
) -> int:
    """After an edit of `active` on a relay (`relay_id`) or on an operator (`operator_id`:
    all its relays): each of their resources marked out of service, or no longer, as the
    stored catalogue now says. Answers how many resources were marked."""
    if relay_id is not None:
        relay_ids = [relay_id]
    else:
        catalogue = ctx.catalogue.get(fresh=True)
        relay_ids = [r.id for r in catalogue.relays.values() if r.operator_id == operator_id]
    marked = 0
    try:
        for each in relay_ids:
            marked += _mark_relay(ctx, each)
    except Exception:  # the edit stands (written): only the cached-catalogue window stays
        logger().warning(
            "out_of_service_not_marked",
            extra={"relay_id": relay_id, "operator_id": operator_id},
            exc_info=True,
        )
        count("OutOfServiceNotMarked")
    return marked


def _mark_relay(ctx: Context, relay_id: str) -> int:
    """Mark one relay's resources from its item and its operator's as stored now, on
    condition that neither moved before the marks land; else read and compute again."""
    for _attempt in range(MARK_ATTEMPTS):
        stored = ctx.catalogue_store.load_relay(relay_id)  # relay and resources, consistent
        relay = stored.relays.get(relay_id)
        if relay is None:
            return 0
        operator = ctx.versioned.operator(relay.operator_id)
        resources = [r.id for r in stored.resources_of(relay_id)]
        out = not relay_in_service(relay, operator)
        if ctx.versioned.mark_out_of_service(relay, operator, resources, out):
            return len(resources)
    raise ConcurrentUpdate(f"Relay {relay_id} kept changing while its marks were written.")
