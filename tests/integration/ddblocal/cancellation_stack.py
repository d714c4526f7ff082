"""One local stack for the cancellation table: the app served over real HTTP (chalice's
local server in a thread) on DynamoDB Local and localstripe, with a clock the test moves.

Each cell of the table gets an operator, a relay and a hot-desk pool of its own, so the
documents, the FEC and the VAT report of that operator are exactly the cell's; credit packs
and memberships are sold by one network operator, so the clearing between it and the
cell's operator is the cell's too.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.domain.catalogue import (
    NewOperator,
    NewRelay,
    NewResource,
    Operator,
    Relay,
    Resource,
)
from chalicelib.domain.identifiers import new_id
from chalicelib.domain.membership import Membership, MembershipStatus
from chalicelib.services.context import Context
from tests.support.api import AUDIENCE, ISSUER, operator_body, relay_body, resource_body
from tests.support.fake_stripe import signed_event
from tools.dev_auth import mint_token
from tools.localstripe_server import CARD_SUCCEEDS, confirm_as_browser

PARIS_NOW = datetime.fromisoformat("2026-12-01T07:00:00+01:00")  # a Tuesday
DAY = "2026-12-03"  # Thursday: the desk opens 08:00, 49 h after PARIS_NOW
DAY_START = datetime.fromisoformat(f"{DAY}T08:00:00+01:00")
PRICE = 1500  # a day of hot desk, VAT 20 % included: 1250 + 250


def luhn_siren(rng: random.Random) -> str:
    """A random SIREN with a valid Luhn check digit (operators need distinct ones)."""
    digits = [rng.randrange(10) for _ in range(8)]
    for check in range(10):
        number = [*digits, check]
        total = 0
        for index, digit in enumerate(reversed(number)):
            doubled = digit * 2 if index % 2 else digit
            total += doubled - 9 if doubled > 9 else doubled
        if total % 10 == 0:
            return "".join(map(str, number))
    raise AssertionError("unreachable")


class Http:
    """The API over a real socket."""

    def __init__(self, base_url: str, private_key: Path) -> None:
        self.base_url = base_url
        self._key = private_key
        self._session = requests.Session()

    def token(self, sub: str, *groups: str) -> str:
        return mint_token(
            self._key,
            sub=sub,
            groups=list(groups),
            issuer=ISSUER,
            audience=AUDIENCE,
            email=f"{sub}@example.org",
            name=f"Personne {sub}",
        )

    def call(
        self, method: str, path: str, token: str | None = None, body: Any = None, **kw: Any
    ) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if method in ("POST", "PUT", "PATCH") and "Idempotency-Key" not in headers:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        return self._session.request(
            method, self.base_url + path, headers=headers, json=body, timeout=30, **kw
        )

    def ok(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        answer = self.call(method, path, token, body)
        assert answer.status_code in (200, 201, 204), (method, path, answer.text[:600])
        return answer.json() if answer.content else None

    def close(self) -> None:
        self._session.close()


@dataclass
class Stack:
    http: Http
    ctx: Context
    clock: FixedClock
    gateway: StripeGateway
    admin: str
    network_operator: str
    pack_product: str
    rng: random.Random

    sites: list[dict[str, str]] = field(default_factory=list)

    def new_site(self, label: str) -> dict[str, str]:
        """An operator of its own with one relay and a 3-seat hot-desk pool, over HTTP
        (or one of those `prepare_sites` wrote beforehand)."""
        if self.sites:
            return self.sites.pop()
        body = operator_body(name=f"Relais {label}", siren=luhn_siren(self.rng))
        del body["vat_number"]  # it derives from the SIREN; not needed here
        operator = self.http.ok("POST", "/v1/operators", self.admin, body)
        relay = self.http.ok("POST", "/v1/relays", self.admin, relay_body(operator["id"]))
        pool = self.http.ok(
            "POST", f"/v1/relays/{relay['id']}/resources", self.admin, resource_body()
        )
        return {"operator": operator["id"], "relay": relay["id"], "pool": pool["id"]}

    def prepare_sites(self, count: int) -> None:
        """Write `count` sites straight into the catalogue, then reload it once: through
        the API each write reloads the whole (growing) catalogue, which made the table
        quadratic in time. The catalogue is set-up here, not under test."""
        store, now = self.ctx.catalogue_store, self.clock.now()
        for index in range(count):
            body = operator_body(name=f"Relais {index}", siren=luhn_siren(self.rng))
            del body["vat_number"]
            new_operator = NewOperator.model_validate(body).model_dump()
            operator = Operator(**new_operator, id=new_id("op"), created_at=now)
            store.add_operator(operator)
            new_relay = NewRelay.model_validate(relay_body(operator.id))
            relay = Relay(**new_relay.model_dump(), id=new_id("rly"), created_at=now)
            store.add_relay(relay)
            new_pool = NewResource.model_validate(resource_body())
            pool = Resource(
                **new_pool.model_dump(), id=new_id("res"), relay_id=relay.id, created_at=now
            )
            store.add_resource(pool)
            self.sites.append({"operator": operator.id, "relay": relay.id, "pool": pool.id})
        self.ctx.catalogue.invalidate()

    def pay(self, intent_id: str) -> None:
        """The browser pays with 4242…; the signed success event reaches the webhook."""
        confirm_as_browser(self.gateway, intent_id, CARD_SUCCEEDS)
        intent = self.gateway.client.v1.payment_intents.retrieve(intent_id).to_dict()
        payload, header = signed_event(
            "payment_intent.succeeded", intent, self.ctx.settings.stripe_webhook_secret
        )
        answer = self.http.call(
            "POST",
            "/v1/webhooks/stripe",
            data=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
        assert answer.status_code == 200, answer.text

    def refunded_at_stripe(self, intent_id: str) -> int:
        refunds = self.gateway.client.v1.refunds.list(params={"payment_intent": intent_id}).data
        return sum(int(r.amount) for r in refunds if r.status == "succeeded")

    def buy_pack(self, member: str) -> None:
        bought = self.http.ok("POST", "/v1/purchases", member, {"product_id": self.pack_product})
        self.pay(bought["payment"]["payment_intent_id"])

    def give_membership(self, member_id: str) -> None:
        """An active membership (10 days a month) sold by the network operator, its first
        period paid — set straight in the store: how it was paid is not under test here."""
        start = datetime.fromisoformat("2026-12-01T00:00:00+01:00")
        self.ctx.memberships.add(
            Membership(
                id=new_id("mbr"),
                member_id=member_id,
                product_id="prd_nomade",
                product_name="Nomade",
                operator_id=self.network_operator,
                amount=9900,
                vat_rate="20.00",
                payment_method_type="card",
                status=MembershipStatus.active,
                days_per_period=Decimal(10),
                anchor=start.date(),
                period=1,
                current_period_start=start,
                current_period_end=start + timedelta(days=31),
                billing_period=2,
                next_charge_at=start + timedelta(days=31),
                created_at=start,
            )
        )


def serve(app: Any, ctx: Context) -> Iterator[str]:
    """chalice's local server for `app` on a free loopback port, in a thread."""
    from chalicelib.api.wiring import use_context
    from tools.loopback_server import serving

    use_context(ctx)
    try:
        with serving(app) as port:
            yield f"http://127.0.0.1:{port}"
    finally:
        use_context(None)


def build_table(endpoint: str) -> Table:
    from infra.table import create_table

    table = Table(f"relais-cancel-{uuid.uuid4().hex[:10]}", "eu-west-3", endpoint)
    create_table(table.client, table.name)
    return table
