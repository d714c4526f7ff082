"""Credit packs and how a booking draws on them: oldest pack first, never an expired one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.money import round_half_up
from chalicelib.errors import InsufficientCredits


class CreditPack(BaseModel):
    """Credits bought with one purchase, usable at every relay of the network."""

    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    purchase_id: str
    product_id: str
    member_id: str
    operator_id: str
    credits_total: Decimal
    credits_remaining: Decimal
    price_amount: int
    purchased_at: datetime
    expires_at: datetime
    # Set when the purchase was refunded in full: the pack is withdrawn for good (its
    # unused credits zeroed, nothing given back to it by a cancelled booking).
    revoked: bool = False

    @property
    def sort_key(self) -> str:
        return f"PACK#{self.purchased_at.isoformat()}#{self.purchase_id}"

    def usable(self, now: datetime) -> bool:
        return not self.revoked and self.expires_at > now and self.credits_remaining > 0

    def public(self) -> dict[str, object]:
        return {
            "purchase_id": self.purchase_id,
            "product_id": self.product_id,
            "credits_total": self.credits_total,
            "credits_remaining": self.credits_remaining,
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True)
class CreditDraw:
    """Credits taken from one pack for one booking (kept to give them back)."""

    pack_key: str
    purchase_id: str
    operator_id: str  # the seller of the pack
    credits: Decimal
    pack_price: int = 0  # what the whole pack cost (VAT incl.), to value the credits used
    pack_credits: Decimal = Decimal(1)
    # What these credits are worth (cents, VAT incl.): their slice of the pack's price, as
    # the difference of the value of the credits used after and before them
    # (`credits_value`), so that a pack used up is worth exactly its price, however many
    # bookings drew on it (each rounded alone, six half days of a 3-credit pack came to
    # two cents more than it cost).
    value: int | None = None


def pack_expiry(purchased_at: datetime, validity_days: int) -> datetime:
    return purchased_at + timedelta(days=validity_days)


def credits_value(price: int, total: Decimal, used: Decimal) -> int:
    """What the first `used` credits of a pack of `total` that cost `price` are worth."""
    if used >= total:
        return price
    return round_half_up(Decimal(price) * used / total)


def draw_credits(packs: list[CreditPack], needed: Decimal, now: datetime) -> list[CreditDraw]:
    """Take `needed` credits from the oldest usable packs first."""
    draws: list[CreditDraw] = []
    missing = needed
    for pack in sorted(packs, key=lambda p: (p.purchased_at, p.purchase_id)):
        if missing <= 0:
            break
        if not pack.usable(now):
            continue
        taken = min(pack.credits_remaining, missing)
        used = pack.credits_total - pack.credits_remaining
        value = credits_value(pack.price_amount, pack.credits_total, used + taken)
        draws.append(
            CreditDraw(
                pack.sort_key,
                pack.purchase_id,
                pack.operator_id,
                taken,
                pack.price_amount,
                pack.credits_total,
                value - credits_value(pack.price_amount, pack.credits_total, used),
            )
        )
        missing -= taken
    if missing > 0:
        raise InsufficientCredits(
            f"This booking needs {needed} credits; you have {needed - missing} left."
        )
    return draws


def restored_credits(
    draws: list[dict[str, Any]], packs: list[CreditPack], now: datetime
) -> Decimal:
    """What a cancelled booking really gave back, usable: its draws on packs still in force
    (a pack refunded in full meanwhile takes nothing back, see `PaymentStore.revoke_pack`;
    a credit going back to a pack expired since can no longer be spent)."""
    live = {p.sort_key for p in packs if not p.revoked and p.expires_at > now}
    return sum((Decimal(str(d["credits"])) for d in draws if d.get("pack_key") in live), Decimal(0))


def credits_remaining(packs: list[CreditPack], now: datetime) -> Decimal:
    return sum((p.credits_remaining for p in packs if p.usable(now)), Decimal(0))
