"""Credit packs (domain/wallet.py): a booking draws the oldest usable packs first, never an
expired or empty one, and takes exactly what it needs or nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.timezones import PARIS
from chalicelib.domain.wallet import (
    CreditPack,
    credits_remaining,
    credits_value,
    draw_credits,
    pack_expiry,
)
from chalicelib.errors import InsufficientCredits
from tests.support.properties import reproducible

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=PARIS)


def pack(
    purchase_id: str,
    remaining: str | Decimal,
    *,
    days_ago: int = 10,
    expires_in_days: int = 30,
    total: str = "10",
) -> CreditPack:
    bought = NOW - timedelta(days=days_ago)
    return CreditPack(
        purchase_id=purchase_id,
        product_id="pack-10",
        member_id="member-1",
        operator_id=f"op-{purchase_id}",
        credits_total=Decimal(total),
        credits_remaining=Decimal(remaining),
        price_amount=12000,
        purchased_at=bought,
        expires_at=NOW + timedelta(days=expires_in_days),
    )


def test_a_booking_draws_the_oldest_pack_first() -> None:
    packs = [pack("new", "5", days_ago=1), pack("old", "5", days_ago=20)]

    draws = draw_credits(packs, Decimal(1), NOW)

    assert [(d.purchase_id, d.credits) for d in draws] == [("old", Decimal(1))]


def test_a_booking_spills_over_into_the_next_pack() -> None:
    packs = [pack("old", "0.5", days_ago=20), pack("new", "5", days_ago=1)]

    draws = draw_credits(packs, Decimal(1), NOW)

    assert [(d.purchase_id, d.credits) for d in draws] == [
        ("old", Decimal("0.5")),
        ("new", Decimal("0.5")),
    ]


def test_an_expired_pack_is_skipped_even_if_older() -> None:
    packs = [pack("expired", "5", days_ago=40, expires_in_days=0), pack("valid", "5")]

    draws = draw_credits(packs, Decimal(1), NOW)

    assert [d.purchase_id for d in draws] == ["valid"]


def test_a_draw_records_the_pack_key_seller_and_pack_value() -> None:
    (draw,) = draw_credits([pack("p1", "5")], Decimal("0.5"), NOW)

    assert draw.pack_key == f"PACK#{(NOW - timedelta(days=10)).isoformat()}#p1"
    assert (draw.operator_id, draw.pack_price, draw.pack_credits) == ("op-p1", 12000, Decimal(10))


def test_too_few_usable_credits_is_refused_with_what_is_left() -> None:
    packs = [pack("a", "0.5"), pack("expired", "5", expires_in_days=-1)]

    with pytest.raises(InsufficientCredits, match=r"needs 1 credits; you have 0\.5 left"):
        draw_credits(packs, Decimal(1), NOW)


def test_credits_remaining_counts_only_usable_packs() -> None:
    packs = [pack("a", "2.5"), pack("b", "1"), pack("expired", "5", expires_in_days=-1)]

    assert credits_remaining(packs, NOW) == Decimal("3.5")


def test_a_pack_expires_its_validity_days_after_purchase() -> None:
    assert pack_expiry(NOW, 365) == NOW + timedelta(days=365)


def test_a_pack_expiring_now_is_no_longer_usable() -> None:
    assert pack("p", "5", expires_in_days=0).usable(NOW) is False


def test_the_public_pack_shows_what_a_member_needs() -> None:
    assert pack("p1", "4.5").public() == {
        "purchase_id": "p1",
        "product_id": "pack-10",
        "credits_total": Decimal(10),
        "credits_remaining": Decimal("4.5"),
        "expires_at": (NOW + timedelta(days=30)).isoformat(),
    }


# --- properties of pack consumption ---------------------------------------------------------

HALVES = st.integers(min_value=0, max_value=40).map(lambda n: Decimal(n) / 2)
PACKS = st.lists(
    st.tuples(HALVES, st.integers(min_value=0, max_value=60), st.booleans()),
    max_size=6,
).map(
    lambda specs: [
        pack(f"p{i}", remaining, days_ago=age, expires_in_days=30 if valid else -1)
        for i, (remaining, age, valid) in enumerate(specs)
    ]
)
NEEDED = st.sampled_from([Decimal("0.5"), Decimal(1), Decimal("1.5"), Decimal(3)])


@reproducible
@given(packs=PACKS, needed=NEEDED)
def test_a_draw_takes_exactly_what_is_needed_or_nothing(
    packs: list[CreditPack], needed: Decimal
) -> None:
    available = credits_remaining(packs, NOW)
    try:
        draws = draw_credits(packs, needed, NOW)
    except InsufficientCredits:
        assert available < needed
    else:
        assert sum(d.credits for d in draws) == needed


@reproducible
@given(packs=PACKS, needed=NEEDED)
def test_a_draw_never_takes_more_than_a_usable_pack_holds(
    packs: list[CreditPack], needed: Decimal
) -> None:
    by_id = {p.purchase_id: p for p in packs}
    try:
        draws = draw_credits(packs, needed, NOW)
    except InsufficientCredits:
        return
    for draw in draws:
        source = by_id[draw.purchase_id]
        assert source.usable(NOW)
        assert 0 < draw.credits <= source.credits_remaining


@reproducible
@given(packs=PACKS, needed=NEEDED)
def test_only_the_last_pack_drawn_is_left_with_credits(
    packs: list[CreditPack], needed: Decimal
) -> None:
    # Oldest first: every pack drawn before the last one is emptied, and no usable pack
    # older than the last one drawn is left untouched.
    try:
        draws = draw_credits(packs, needed, NOW)
    except InsufficientCredits:
        return
    by_id = {p.purchase_id: p for p in packs}
    for draw in draws[:-1]:
        assert draw.credits == by_id[draw.purchase_id].credits_remaining
    drawn = {d.purchase_id for d in draws}
    last = by_id[draws[-1].purchase_id]
    skipped_older = [
        p
        for p in packs
        if p.usable(NOW)
        and p.purchase_id not in drawn
        and (p.purchased_at, p.purchase_id) < (last.purchased_at, last.purchase_id)
    ]
    assert skipped_older == []


@pytest.mark.parametrize(("total", "price", "each"), [("3", 10000, "0.5"), ("3", 10000, "1")])
def test_a_pack_drawn_to_its_end_is_worth_exactly_its_price(
    total: str, price: int, each: str
) -> None:
    """Each draw carries its slice of the price: 3 credits for 100.00 € drawn as six half
    days or three days add up to 10000, not 10002 or 9999 (each rounded alone)."""
    values, remaining = [], Decimal(total)
    while remaining > 0:
        current = pack("p", remaining, total=total).model_copy(update={"price_amount": price})
        (draw,) = draw_credits([current], Decimal(each), NOW)
        assert draw.value is not None
        values.append(draw.value)
        remaining -= draw.credits
    assert sum(values) == price and max(values) - min(values) <= 1
    assert credits_value(price, Decimal(total), Decimal(0)) == 0
