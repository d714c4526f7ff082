"""A member's erasure (`DELETE /v1/me`, GDPR art. 17), within what the law lets us erase.

What happens, in this order (each step safe to run again after a crash):

1. Every membership of the member stops renewing (`cancel_requested`, as issue 12 asks:
   "at period end"): a paid period runs to its end and is not refunded (the member
   chose to leave; the cancellation policy gives no pro-rata), nothing is charged again
   and the membership becomes `cancelled` when the period ends; an unpaid one
   (`incomplete`, `past_due`) is cancelled at once, so no retry charges it. The Stripe
   customer behind each membership is deleted with its saved card or SEPA mandate (its
   name and email go with it; past payments stay refundable); a retry finds it gone.
2. The member leaves their company account: the link is removed exactly as
   `DELETE /v1/companies/{id}/members/{member_id}` removes it (`company_admin.
   unlink_employee`, with its audit entry naming the member as actor). Their company
   bookings are not swept as a removal sweeps them (whatever the deadline): the member,
   not the company, ends the promise, so step 3 cancels them per policy like the others.
3. Every future seat-taking booking (held or confirmed, not started yet), company ones
   included, is cancelled through `bookings.release_with_policy`, exactly as if the
   member had cancelled it: the seat is freed; cancelled in time, a card payment is
   refunded (with its credit note), credits restored, a membership day given back, a
   company booking dropped from the company's month; later, nothing is given back and a
   company booking stays on its monthly invoice, as a day used. A pending hold's
   PaymentIntent is cancelled. Bookings under way or over are left to finish
   (`release_no_shows` completes them). The link going first changes none of this, so
   an erasure retried after a crash between the two ends the same. The PaymentIntent
   of each credit-pack purchase not paid yet is cancelled too (`call_off_purchases`).
4. The billing profile is anonymised: the name becomes
   "Membre supprimé"; email, billing address, company name, SIREN and VAT number are
   removed; `erased_at` records when. Invoices issued later (e.g. for a refund) name
   "Membre supprimé".
5. The calendar feed is revoked: its secret URL answers 404.

What is NOT touched, on purpose: invoices, credit notes and ledger lines. They are frozen
copies made at issue time (hash-chained, with the buyer as they were then) and French law
requires keeping them for 10 years (art. L123-22 Code de commerce): a legal obligation,
the GDPR art. 17(3)(b) exception. So are payment and refund records (Stripe
references) and the bookings themselves, which only carry the member's opaque `sub`, not
their name or email. Point-in-time recovery backups age out after 35 days.

Safe to repeat: a second call finds the memberships already ending, no company link, nothing
to cancel, keeps the first `erased_at`, and finds no feed to revoke.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from chalicelib.auth import Principal
from chalicelib.domain.booking import CANCELLABLE, Booking
from chalicelib.domain.membership import MembershipStatus, cancel_requested
from chalicelib.errors import InvalidState, NotFound
from chalicelib.services import bookings, calendars, company_admin, memberships, payments
from chalicelib.services.context import Context

ANONYMOUS_NAME = "Membre supprimé"
CANCEL_ATTEMPTS = 3


def erase_member(ctx: Context, principal: Principal) -> None:
    now = ctx.clock.now()
    end_memberships(ctx, principal.sub, now)
    leave_company(ctx, principal)
    for booking in list(future_bookings(ctx, principal.sub, now)):
        _cancel(ctx, booking)
    call_off_purchases(ctx, principal.sub)
    anonymise_profile(ctx, principal.sub, now)
    calendars.revoke_feed(ctx, principal.sub)


def end_memberships(ctx: Context, member_id: str, now: datetime) -> None:
    """No membership of the member renews: paid periods run out, unpaid ones end now; the
    Stripe customer of each (name, email, saved card or SEPA mandate) is deleted, since
    nothing will be charged to it again."""
    for membership in ctx.memberships.of_member(member_id):
        if membership.status is not MembershipStatus.cancelled:
            ctx.memberships.update(member_id, membership.id, lambda m: cancel_requested(m, now))
        if membership.customer_id is not None:
            memberships.gateway(ctx).delete_customer(membership.customer_id)


def leave_company(ctx: Context, principal: Principal) -> None:
    """Off the company account. Its company bookings are left to the policy sweep: a late
    one stays billed to the company (a removal's forced cancel would drop it)."""
    company_id = ctx.companies.company_id_of(principal.sub)
    if company_id is None:
        return
    company = ctx.companies.get(company_id)
    if company is not None:
        with contextlib.suppress(NotFound):  # an administrator removed them meanwhile
            company_admin.unlink_employee(ctx, principal, company, principal.sub)


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


def call_off_purchases(ctx: Context, member_id: str) -> None:
    """Cancel the PaymentIntent of each pack purchase not paid yet (a checkout page left
    open would otherwise charge the erased member). One Stripe cannot cancel (paid in the
    meantime, or unreachable: logged) is granted as any paid purchase is."""
    for purchase in ctx.payments.pending_purchases(member_id):
        if purchase.payment_intent_id:
            payments.drop_intent(ctx, purchase.id, purchase.payment_intent_id)


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
