"""A member's erasure (`DELETE /v1/me`, GDPR art. 17), within what the law lets us erase.

What happens, in this order:

1. Every future seat-taking booking (held or confirmed, not started yet) is cancelled
   through `bookings.release_with_policy`, exactly as if the member had cancelled it: the
   seat is freed, a card payment is refunded (with its credit note) or credits restored
   when cancelled in time, nothing otherwise; a pending hold's PaymentIntent is cancelled.
   Bookings under way or over are left to finish (`release_no_shows` completes them).
2. The billing profile is anonymised: the name becomes
   "Membre supprimé"; email, billing address, company name, SIREN and VAT number are
   removed; `erased_at` records when. Invoices issued later (e.g. for a refund) name
   "Membre supprimé".
3. The calendar feed is revoked: its secret URL answers 404.

What is NOT touched, on purpose: invoices, credit notes and ledger lines. They are frozen
copies made at issue time (hash-chained, with the buyer as they were then) and French law
requires keeping them for 10 years (art. L123-22 Code de commerce): a legal obligation,
the GDPR art. 17(3)(b) exception. So are payment and refund records (Stripe
references) and the bookings themselves, which only carry the member's opaque `sub`, not
their name or email. Point-in-time recovery backups age out after 35 days.

Safe to repeat: a second call finds nothing to cancel, keeps the first `erased_at`, and
finds no feed to revoke.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from chalicelib.auth import Principal
from chalicelib.domain.booking import CANCELLABLE, Booking
from chalicelib.errors import InvalidState
from chalicelib.services import bookings, calendars
from chalicelib.services.context import Context

ANONYMOUS_NAME = "Membre supprimé"
CANCEL_ATTEMPTS = 3


def erase_member(ctx: Context, principal: Principal) -> None:
    now = ctx.clock.now()
    for booking in list(future_bookings(ctx, principal.sub, now)):
        _cancel(ctx, booking)
    anonymise_profile(ctx, principal.sub, now)
    calendars.revoke_feed(ctx, principal.sub)


def future_bookings(ctx: Context, member_id: str, now: datetime) -> Iterator[Booking]:
    """The member's bookings that hold a seat and have not started yet."""
    low = (now.astimezone(UTC).date() - timedelta(days=1)).isoformat()
    cursor: str | None = None
    while True:
        page, cursor = ctx.bookings.page_for_member(member_id, (low, "9999"), None, 100, cursor)
        yield from (b for b in page if b.status in CANCELLABLE and b.start > now)
        if cursor is None:
            return


def _cancel(ctx: Context, booking: Booking) -> None:
    for _attempt in range(CANCEL_ATTEMPTS):
        try:
            bookings.release_with_policy(ctx, booking, force_refund=False)
            return
        except InvalidState:
            # Changed meanwhile (paid, expired, cancelled): cancel what it is now, if anything.
            fresh = ctx.bookings.get(booking.id)
            if fresh is None or fresh.status not in CANCELLABLE:
                return
            booking = fresh
    raise InvalidState(f"Booking {booking.id} keeps changing; please retry the erasure.")


def anonymise_profile(ctx: Context, member_id: str, now: datetime) -> None:
    """Replace the billing profile by an anonymous one (what invoices issued later copy)."""
    existing = ctx.profiles.get(member_id) or {}
    ctx.profiles.put(
        member_id,
        {
            "name": ANONYMOUS_NAME,
            "language": existing.get("language") or "fr",
            "erased_at": existing.get("erased_at") or now.astimezone(UTC).isoformat(),
        },
    )
