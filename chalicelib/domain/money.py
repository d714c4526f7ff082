"""Money: integer cents, VAT-inclusive prices (B2C) and VAT rates as 2-decimal strings.

Pure: no I/O. Every amount is an ``int`` of euro cents; every VAT rate a ``Decimal``
quantized to two places (``Decimal("20.00")``), shown on the wire as ``"20.00"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from chalicelib.errors import ValidationFailed

CURRENCY = "EUR"
DEFAULT_VAT_RATE = Decimal("20.00")

_CENT = Decimal(1)
_RATE_QUANTUM = Decimal("0.01")
_MAX_RATE = Decimal(100)
# Plain ASCII only: Decimal() would also accept "1e2", "NaN", " 20" or Arabic-Indic digits.
_RATE_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,2})?")


def round_half_up(value: Decimal) -> int:
    """Round to an integer number of cents, ties away from zero (symmetric for credit notes)."""
    with localcontext() as ctx:
        # Enough digits that quantize never fails on large invoice totals.
        ctx.prec = 60
        return int(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def parse_vat_rate(text: str, field: str = "vat_rate") -> Decimal:
    """``"20"``, ``"5.5"``, ``"5.50"`` -> ``Decimal("5.50")``; 0 to 100, at most two decimals."""
    if not isinstance(text, str) or not _RATE_RE.fullmatch(text):
        raise ValidationFailed(
            "vat_rate must be a decimal string between 0 and 100 with at most two decimals, "
            'e.g. "20.00"',
            field=field,
        )
    return _checked_rate(Decimal(text), field)


def format_vat_rate(rate: Decimal) -> str:
    """``Decimal("5.5")`` -> ``"5.50"``."""
    return f"{rate.quantize(_RATE_QUANTUM):f}"


def _checked_rate(rate: Decimal, field: str) -> Decimal:
    try:
        quantized = rate.quantize(_RATE_QUANTUM)
    except InvalidOperation:
        quantized = None
    if quantized is None or quantized != rate or not Decimal(0) <= rate <= _MAX_RATE:
        raise ValidationFailed(
            "vat_rate must be between 0 and 100 with at most two decimals", field=field
        )
    return quantized


def _as_rate(vat_rate: Decimal | str) -> Decimal:
    if isinstance(vat_rate, Decimal):
        return _checked_rate(vat_rate, "vat_rate")
    return parse_vat_rate(vat_rate)


@dataclass(frozen=True)
class Price:
    """A VAT-inclusive price split into its net and VAT parts (amount = excl + vat)."""

    amount: int
    amount_excl_vat: int
    vat_amount: int
    vat_rate: Decimal
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        # A price that does not add up would put wrong figures on a legal invoice.
        if self.amount_excl_vat + self.vat_amount != self.amount:
            raise ValueError("amount must equal amount_excl_vat + vat_amount")

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "currency": self.currency,
            "amount_excl_vat": self.amount_excl_vat,
            "vat_amount": self.vat_amount,
            "vat_rate": format_vat_rate(self.vat_rate),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Price:
        """Inverse of ``to_dict``; accepts the ``Decimal`` numbers DynamoDB hands back."""
        return cls(
            amount=int(raw["amount"]),
            amount_excl_vat=int(raw["amount_excl_vat"]),
            vat_amount=int(raw["vat_amount"]),
            vat_rate=_as_rate(str(raw["vat_rate"])),
            currency=str(raw.get("currency", CURRENCY)),
        )

    def negated(self) -> Price:
        """The mirror price of a credit note."""
        return Price(-self.amount, -self.amount_excl_vat, -self.vat_amount, self.vat_rate)


def price_from_incl_vat(amount_incl_vat: int, vat_rate: Decimal | str) -> Price:
    """Split a VAT-inclusive amount: VAT = amount * rate / (100 + rate), rounded half up.

    The VAT is what gets rounded (not the net) so that the customer pays exactly
    ``amount`` and the net absorbs the rounding, as on a French till receipt.
    """
    rate = _as_rate(vat_rate)
    vat = round_half_up(Decimal(amount_incl_vat) * rate / (_MAX_RATE + rate))
    return Price(
        amount=amount_incl_vat,
        amount_excl_vat=amount_incl_vat - vat,
        vat_amount=vat,
        vat_rate=rate,
    )


def prorate(rate_cents: int, minutes: int, per_minutes: int = 60) -> int:
    """Price of ``minutes`` at ``rate_cents`` per ``per_minutes``, rounded half up."""
    if per_minutes <= 0:
        raise ValueError("per_minutes must be positive")
    return round_half_up(Decimal(rate_cents) * minutes / per_minutes)
