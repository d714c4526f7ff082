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
"""

from __future__ import annotations

from chalicelib.observability import count, logger
from chalicelib.services.context import Context


def mark_relays(
    ctx: Context, *, relay_id: str | None = None, operator_id: str | None = None
) -> int:
    """After an edit of `active` on a relay (`relay_id`) or on an operator (`operator_id`:
    all its relays): each of their resources marked out of service, or no longer, as the
    stored catalogue now says. Answers how many resources were marked."""
    catalogue = ctx.catalogue.get(fresh=True)
    relays = [
        relay
        for relay in catalogue.relays.values()
        if relay.id == relay_id or relay.operator_id == operator_id
    ]
    marked = 0
    try:
        for relay in relays:
            out = not catalogue.relay_in_service(relay)
            for resource in catalogue.resources_of(relay.id):
                ctx.versioned.mark_out_of_service(relay.id, resource.id, out)
                marked += 1
    except Exception:  # the edit stands (written): only the cached-catalogue window stays
        logger().warning(
            "out_of_service_not_marked",
            extra={"relay_id": relay_id, "operator_id": operator_id},
            exc_info=True,
        )
        count("OutOfServiceNotMarked")
    return marked
