"""Members ready to book by each payment: card, credits (a big pack), membership (an
unlimited one, paid up for the bench's horizon) and company (an employee)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from bench.stack import NOW, World
from chalicelib.domain.membership import Membership, MembershipStatus
from chalicelib.domain.payment import Purchase
from chalicelib.domain.wallet import CreditPack

KINDS = ("card", "credits", "membership", "company")
SIREN = "552100554"


@dataclass(frozen=True)
class Payer:
    kind: str
    member: str
    token: str


def _credits(world: World, member: str) -> None:
    purchase = Purchase(
        id=f"pur_bench{member.replace('-', '')[:15]:0<15}",
        member_id=member,
        product_id="prd_bench",
        operator_id=world.operator,
        amount=100,
        credits=Decimal(100_000),
        validity_days=365,
        created_at=NOW,
    )
    world.ctx.payments.add_purchase(purchase)
    pack = CreditPack(
        purchase_id=purchase.id,
        product_id=purchase.product_id,
        member_id=member,
        operator_id=world.operator,
        credits_total=Decimal(100_000),
        credits_remaining=Decimal(100_000),
        price_amount=100,
        purchased_at=NOW,
        expires_at=NOW + timedelta(days=365),
    )
    assert world.ctx.payments.complete_purchase(purchase, pack, NOW)


def _membership(world: World, member: str) -> None:
    world.ctx.memberships.add(
        Membership(
            id="mbs_benchmembership00",
            member_id=member,
            product_id="prd_bench",
            product_name="Nomade illimité",
            operator_id=world.operator,
            amount=9900,
            vat_rate="20.00",
            payment_method_type="card",
            status=MembershipStatus.active,
            days_per_period=None,
            anchor=NOW.date(),
            period=1,
            current_period_start=NOW - timedelta(days=1),
            current_period_end=NOW + timedelta(days=120),
            next_charge_at=NOW + timedelta(days=120),
            created_at=NOW,
        )
    )


def _company(world: World, member: str) -> None:
    admin = world.token("bench-admin", "admin")
    body = {
        "name": "Atelier Brie SAS",
        "siren": SIREN,
        "vat_number": "FR96552100554",
        "billing_address": {
            "line1": "12 rue de la Gare",
            "postcode": "77300",
            "city": "Fontainebleau",
            "country": "FR",
        },
        "billing_email": "compta@atelier-brie.fr",
        "operator_id": world.operator,
    }
    company = world.handler.call("POST", "/v1/companies", body, token=admin)
    assert company.status == 201, company.body
    path = f"/v1/companies/{company.body['id']}/members"
    added = world.handler.call("POST", path, {"member_id": member}, token=admin)
    assert added.status in (200, 201), added.body


_READY: dict[int, dict[str, Payer]] = {}


def payers(world: World) -> dict[str, Payer]:
    """One member per payment kind, each set up once per world."""
    if id(world.ctx) in _READY:
        return _READY[id(world.ctx)]
    seeds = {"credits": _credits, "membership": _membership, "company": _company}
    ready: dict[str, Payer] = {}
    for kind in KINDS:
        member = f"bench-{kind}"
        if kind in seeds:
            seeds[kind](world, member)
        ready[kind] = Payer(kind, member, world.token(member))
    _READY[id(world.ctx)] = ready
    return ready
