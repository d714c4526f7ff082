"""The bench's own world: DynamoDB Local, a table from infra/, a Context, a small network,
and the Chalice app behind its test client with dev tokens."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.handler import Handler
from bench.server import Loopback, loopback
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.config import Settings
from chalicelib.domain.catalogue import NewOperator, NewRelay, NewResource
from chalicelib.services.catalogue import create_operator, create_relay, create_resource
from chalicelib.services.context import Context
from infra.table import create_table
from tests.support.fake_stripe_memberships import MembershipFakeGateway
from tools.dev_auth import ensure_dev_keys, mint_token
from tools.local_stack import LOCAL_CREDENTIALS, REGION, free_port, start_dynamodb_local

# The service clock stands still on a Tuesday morning; the bench books the next days.
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=ZoneInfo("Europe/Paris"))
DAY = date(2026, 12, 2)
ISSUER, AUDIENCE = "https://auth.bench", "relais-bench"
WEBHOOK_SECRET = "whsec_bench"
OPEN = {d: [["08:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


class Tokens:
    """Dev tokens the app trusts (signed with the bench's own key)."""

    def __init__(self, private_key: Path) -> None:
        self._key = private_key

    def __call__(self, sub: str, *groups: str) -> str:
        return mint_token(self._key, sub=sub, groups=list(groups), issuer=ISSUER, audience=AUDIENCE)


@dataclass
class World:
    backend: str
    ctx: Context
    app: Any
    handler: Handler  # app(event, context), as Lambda calls it: also used to set up
    http: Loopback  # the loopback server (tools/loopback_server.py) on 127.0.0.1
    token: Tokens
    operator: str
    relay: str
    pool: str
    resources: list[str]
    gateway: MembershipFakeGateway


def _seed(ctx: Context) -> tuple[str, str, list[str]]:
    """One operator, one relay open 08:00–19:00 on weekdays, four resources."""
    operator = create_operator(
        ctx,
        NewOperator(
            name="SCIC Relais 77",
            legal_form="SCIC SAS",
            siren="732829320",
            vat_regime="normal",
            address={"line1": "2 place Praslin", "postcode": "77000", "city": "Melun"},
            invoice_prefix="RL",
            email="compta@relais77.fr",
        ),
    )
    relay = create_relay(
        ctx,
        NewRelay(
            name="Gare de Melun",
            operator_id=operator.id,
            category="station",
            address={"line1": "Place Gallieni", "postcode": "77000", "city": "Melun"},
            location={"lat": 48.5275, "lon": 2.6553},
            opening_hours=OPEN,
        ),
    )
    specs = [
        ("Open space", "hot_desk", 500, {"day": 1500, "half_day": 900, "hour": 400}),
        ("Salle Seine", "meeting_room", 1, {"hour": 2000, "half_day": 6000}),
        ("Bureau 1", "office", 1, {"day": 6000, "hour": 1200}),
        ("Cabine", "phone_booth", 1, {"hour": 500}),
    ]
    resources = [
        create_resource(
            ctx,
            relay["id"],
            NewResource(name=name, kind=kind, capacity=capacity, rates=rates),
        ).id
        for name, kind, capacity, rates in specs
    ]
    return operator.id, relay["id"], resources


def _use_dummy_credentials() -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(LOCAL_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = REGION


@contextmanager
def world() -> Iterator[World]:
    """Everything the bench needs, torn down (DynamoDB Local stopped) on the way out."""
    _use_dummy_credentials()
    from app import app
    from chalicelib.api.wiring import use_context

    process = start_dynamodb_local(free_port(), None)
    try:
        with tempfile.TemporaryDirectory(prefix="relais-bench-") as tmp:
            private_key, jwks = ensure_dev_keys(Path(tmp))
            table = Table(f"bench-{uuid.uuid4().hex[:8]}", REGION, process.url)
            create_table(table.client, table.name)
            settings = Settings(
                RELAIS_TABLE=table.name,
                AWS_REGION=REGION,
                DYNAMODB_ENDPOINT_URL=process.url,
                AUTH_JWKS_FILE=str(jwks),
                AUTH_ISSUER=ISSUER,
                AUTH_AUDIENCE=AUDIENCE,
                CATALOGUE_CACHE_SECONDS=3600,
                STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            )
            gateway = MembershipFakeGateway()  # Stripe in memory: answers at once
            ctx = Context(settings, table, FixedClock(NOW), gateway_override=gateway)
            operator, relay, resources = _seed(ctx)
            use_context(ctx)
            try:
                with loopback(app) as http:
                    yield World(
                        backend=process.name,
                        ctx=ctx,
                        app=app,
                        handler=Handler(app),
                        http=http,
                        token=Tokens(private_key),
                        operator=operator,
                        relay=relay,
                        pool=resources[0],
                        resources=resources,
                        gateway=gateway,
                    )
            finally:
                use_context(None)
    finally:
        process.stop()
