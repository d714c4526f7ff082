"""The fault suite's crash sweeps again, on DynamoDB Local instead of moto: the same
flows crashed after their k-th call and retried, with the real engine's transactions,
conditions and cancellation reasons. `table` (and the `settings` naming it) point at a
table of its own on the session's DynamoDB Local (moto_server where Java is missing);
everything else, the API and the fake Stripe included, is the suite's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters.dynamo import Table
from chalicelib.config import Settings
from infra.table import create_table
from tests.conftest import make_settings
from tests.integration.ddblocal.conftest import (  # noqa: F401 (fixtures)
    REGION,
    ddb_endpoint,
    ddb_server,
)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.ddblocal)


@pytest.fixture
def settings(auth_keys: tuple[Path, Path], ddb_endpoint: str) -> Settings:  # noqa: F811
    return make_settings(
        auth_keys[1],
        DYNAMODB_ENDPOINT_URL=ddb_endpoint,
        RELAIS_TABLE=f"relais-faults-{uuid.uuid4().hex[:12]}",
    )


@pytest.fixture
def table(settings: Settings, ddb_endpoint: str) -> Iterator[Table]:  # noqa: F811
    table = Table(settings.table_name, REGION, ddb_endpoint)
    create_table(table.client, table.name)
    yield table
    table.client.delete_table(TableName=table.name)
