"""Shared fixtures: a moto table, a fixed clock, the app behind chalice's test client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.api.wiring import use_context
from chalicelib.config import Settings
from chalicelib.services.context import Context
from infra.table import create_table
from tests.support.api import AUDIENCE, ISSUER, Api, create_network
from tests.support.fake_stripe import FakeGateway
from tools.dev_auth import ensure_dev_keys
from tools.local_gateway import install as install_local_gateway

PARIS = ZoneInfo("Europe/Paris")
# A Tuesday morning: bookings for the next days are in the future and within the horizon.
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=PARIS)

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")


@pytest.fixture(scope="session")
def auth_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_dev_keys(tmp_path_factory.mktemp("keys"))


def make_settings(jwks: Path, **overrides: Any) -> Settings:
    values = {
        "RELAIS_TABLE": "relais-test",
        "AWS_REGION": "eu-west-3",
        "AUTH_JWKS_FILE": str(jwks),
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        # Cached as deployed (30 s by default): each test has its own Context, and every
        # catalogue write invalidates its copy, as in one Lambda container.
        "CATALOGUE_CACHE_SECONDS": 300,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def settings(auth_keys: tuple[Path, Path]) -> Settings:
    return make_settings(auth_keys[1])


# moto replaces boto3's default session at each start unless told not to: a new session
# loads botocore's endpoint and model data again (~50 ms a test). Backends are still reset.
MOTO_CONFIG = {"core": {"reset_boto3_session": False}}


@pytest.fixture
def table(settings: Settings) -> Iterator[Table]:
    with mock_aws(config=MOTO_CONFIG):
        create_table(boto3.client("dynamodb", region_name="eu-west-3"), settings.table_name)
        yield Table(settings.table_name, "eu-west-3")


@pytest.fixture
def stripe_fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def ctx(
    settings: Settings, table: Table, clock: FixedClock, stripe_fake: FakeGateway
) -> Iterator[Context]:
    context = Context(settings=settings, table=table, clock=clock, gateway_override=stripe_fake)
    use_context(context)
    yield context
    use_context(None)


@pytest.fixture
def api(ctx: Context, auth_keys: tuple[Path, Path]) -> Iterator[Api]:
    from app import app

    install_local_gateway()  # unknown routes answered as the deployed gateway does
    with Client(app) as client:
        yield Api(client, auth_keys[0])


@pytest.fixture
def admin(api: Api) -> str:
    return api.token("admin-1", "admin")


@pytest.fixture
def member(api: Api) -> str:
    return api.token("member-1")


@pytest.fixture
def network(api: Api, admin: str) -> dict[str, str]:
    """One operator, one relay in Melun, a 3-seat hot-desk pool and a meeting room."""
    return create_network(api, admin)


@pytest.fixture
def accountant(api: Api) -> str:
    return api.token("accountant-1", "accountant")
