"""DynamoDB Local fixtures: one server per session, a fresh table and Context per test.

`ddb_server` starts DynamoDB Local in memory on 127.0.0.1 (tools.local_stack; moto_server
stands in where Java is missing, and the run's summary says so; `ddb_real_engine` skips the
tests that need the real engine then). `ddb_ctx` is a Context on a table of its own, built
from infra/, with a fixed clock and a thread-safe fake Stripe; `ddb_network` a small
catalogue in it. Every test in this folder is marked `ddblocal`.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.domain.catalogue import NewOperator, NewRelay, NewResource
from chalicelib.services.catalogue import create_operator, create_relay, create_resource
from chalicelib.services.context import Context
from infra.table import create_table
from tests.conftest import NOW, make_settings
from tests.support.api import operator_body, relay_body, resource_body
from tests.support.fake_stripe import FakeGateway
from tools.local_stack import LocalProcess, free_port, start_dynamodb_local

HERE = Path(__file__).resolve().parent
REGION = "eu-west-3"
BACKEND = pytest.StashKey[str]()

for _name, _value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
    os.environ.setdefault(_name, _value)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.ddblocal)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    backend = config.stash.get(BACKEND, None)
    if backend is not None:
        terminalreporter.write_line(f"ddblocal: {backend}")


@pytest.fixture(scope="session")
def ddb_server(request: pytest.FixtureRequest) -> Iterator[LocalProcess]:
    """One in-memory DynamoDB Local (or moto_server, without Java) for the whole session."""
    process = start_dynamodb_local(free_port(), None)
    if process.name == "moto_server":
        note = (
            f"moto_server stood in for DynamoDB Local (no Java) at {process.url}; "
            "concurrency tests are skipped on it"
        )
    else:
        note = f"DynamoDB Local (in memory) at {process.url}"
    request.config.stash[BACKEND] = note
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def ddb_endpoint(ddb_server: LocalProcess) -> str:
    return ddb_server.url


@pytest.fixture
def ddb_real_engine(ddb_server: LocalProcess) -> None:
    """Skip where moto_server stands in: it does not isolate concurrent transactions (a
    probe sold 8 of 5 free seats), so races only mean something on DynamoDB Local."""
    if ddb_server.name == "moto_server":
        pytest.skip("needs DynamoDB Local (Java): moto_server does not isolate transactions")


class ThreadSafeGateway(FakeGateway):
    """The fake Stripe, one call at a time: Stripe applies idempotency keys atomically."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()

    def create_payment_intent(self, **kwargs: Any) -> Any:
        with self._lock:
            return super().create_payment_intent(**kwargs)

    def retrieve_payment_intent(self, payment_intent_id: str) -> Any:
        with self._lock:
            return super().retrieve_payment_intent(payment_intent_id)

    def cancel_payment_intent(self, payment_intent_id: str, *, idempotency_key: str) -> Any:
        with self._lock:
            return super().cancel_payment_intent(payment_intent_id, idempotency_key=idempotency_key)

    def create_refund(self, **kwargs: Any) -> Any:
        with self._lock:
            return super().create_refund(**kwargs)

    def list_refunds(self, payment_intent_id: str) -> Any:
        with self._lock:
            return super().list_refunds(payment_intent_id)


@pytest.fixture
def ddb_table(ddb_endpoint: str) -> Iterator[Table]:
    """A table of its own (unique name), created from infra/ and deleted afterwards."""
    table = Table(f"relais-{uuid.uuid4().hex[:12]}", REGION, ddb_endpoint)
    # The table's own client: DynamoDB Local keeps one database per access key and region.
    create_table(table.client, table.name)
    yield table
    table.client.delete_table(TableName=table.name)


@pytest.fixture
def ddb_ctx(auth_keys: tuple[Path, Path], ddb_table: Table, ddb_endpoint: str) -> Context:
    settings = make_settings(
        auth_keys[1], DYNAMODB_ENDPOINT_URL=ddb_endpoint, RELAIS_TABLE=ddb_table.name
    )
    return Context(
        settings=settings,
        table=ddb_table,
        clock=FixedClock(NOW),
        gateway_override=ThreadSafeGateway(),
    )


@dataclass(frozen=True)
class Network:
    """One operator and relay (Melun, Mon–Fri 08:00–19:00): an 8-seat pool, a room for 1."""

    operator: str
    relay: str
    pool: str
    room: str


@pytest.fixture
def ddb_network(ddb_ctx: Context) -> Network:
    operator = create_operator(ddb_ctx, NewOperator.model_validate(operator_body()))
    relay = create_relay(ddb_ctx, NewRelay.model_validate(relay_body(operator.id)))
    pool = create_resource(
        ddb_ctx, relay["id"], NewResource.model_validate(resource_body(capacity=8))
    )
    room_body = resource_body(
        name="Salle Seine", kind="meeting_room", capacity=1, rates={"hour": 2000}
    )
    room = create_resource(ddb_ctx, relay["id"], NewResource.model_validate(room_body))
    return Network(operator.id, relay["id"], pool.id, room.id)
