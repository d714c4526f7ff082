"""Settlement between operators: credits sold by one operator and used at another's relay.

A credit is worth what its pack cost divided by the pack's credits (VAT included), a
membership day what its period cost divided by its days (see UNLIMITED_MEMBERSHIP_DAYS),
each use valued as its slice of the price, so that a pack or a period used up is worth
exactly its price (`wallet.credits_value`, `membership_days_value`);
the seller collected the money, so it owes that value to the operator whose relay
was used. A company booking is sold by the operator that invoices the company (its
monthly invoice collects the booking's price): at another operator's relay it is owed
at that price, VAT included. Amounts owed both ways between two operators are netted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from chalicelib.domain.money import round_half_up


def usage_value(draw: dict[str, Any]) -> int:
    """What a booking's credits drawn on one pack are worth: the value the draw carries
    (its slice of the pack's price, `wallet.CreditDraw.value`), else, for a draw made
    before draws carried it, its credits' share of the price rounded alone."""
    if draw.get("value") is not None:
        return int(draw["value"])
    credits = Decimal(str(draw["credits"]))
    price = Decimal(str(draw.get("pack_price") or 0))
    total = Decimal(str(draw.get("pack_credits") or 1))
    return round_half_up(price * credits / total)


# An unlimited monthly membership has no "days per period" to divide its price by: a day
# of it is valued at 1/20 of the price, about the working days of a month.
UNLIMITED_MEMBERSHIP_DAYS = Decimal(20)


def membership_usage_value(price: int, days_per_period: Decimal | None, days: Decimal) -> int:
    """What `days` of a membership are worth: its period price per day of the period (a
    booking made before bookings carried their `membership_value`)."""
    per_period = days_per_period or UNLIMITED_MEMBERSHIP_DAYS
    return round_half_up(Decimal(price) * days / per_period)


def membership_days_value(
    price: int, days_per_period: Decimal | None, used_before: Decimal, days: Decimal
) -> int:
    """What `days` of a membership period are worth after `used_before` days of it: the
    difference of the value of the days used after and before them, so that the period's
    days are worth its price exactly, never more (an unlimited membership's days beyond
    `UNLIMITED_MEMBERSHIP_DAYS` are worth nothing more: the price is spent)."""
    per_period = days_per_period or UNLIMITED_MEMBERSHIP_DAYS

    def worth(used: Decimal) -> int:
        return price if used >= per_period else round_half_up(Decimal(price) * used / per_period)

    return worth(used_before + days) - worth(used_before)


def settle(usages: Iterable[tuple[str, str, int, str]]) -> dict[str, Any]:
    """`usages`: (seller, host, value in cents, booking id) → gross flows and net balances."""
    gross: dict[tuple[str, str], dict[str, Any]] = {}
    for seller, host, value, booking_id in usages:
        if seller == host or value == 0:
            continue
        flow = gross.setdefault((seller, host), {"amount": 0, "bookings": []})
        flow["amount"] += value
        flow["bookings"].append(booking_id)
    net: dict[tuple[str, str], int] = defaultdict(int)
    for (seller, host), flow in gross.items():
        a, b = sorted((seller, host))
        net[(a, b)] += flow["amount"] if seller == a else -flow["amount"]
    balances = []
    for (a, b), amount in sorted(net.items()):
        if amount:
            debtor, creditor = (a, b) if amount > 0 else (b, a)
            balances.append(
                {
                    "from_operator_id": debtor,
                    "to_operator_id": creditor,
                    "amount": abs(amount),
                    "currency": "EUR",
                }
            )
    flows = [
        {
            "seller_operator_id": s,
            "host_operator_id": h,
            "amount": f["amount"],
            "currency": "EUR",
            "bookings": len(set(f["bookings"])),  # a booking drawn on two packs is one
        }
        for (s, h), f in sorted(gross.items())
    ]
    return {"flows": flows, "balances": balances}
