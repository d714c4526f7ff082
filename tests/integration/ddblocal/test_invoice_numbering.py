"""Gapless numbering and the hash chain under concurrent issuance, on DynamoDB Local."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.invoice import GENESIS_HASH, Sale, chain_hash
from chalicelib.services import invoicing
from chalicelib.services.accounting import integrity
from chalicelib.services.context import Context
from tests.integration.ddblocal.conftest import Network

ISSUERS = 16


def issue_one(ctx: Context, network: Network, n: int) -> dict[str, Any]:
    return invoicing.issue(
        ctx,
        operator_id=network.operator,
        source=f"test-payment-{n}",
        buyer={"name": f"Client {n}", "address": None},
        member_id=f"member-{n}",
        sales=[Sale(f"Journée {n}", 1500 + n, Decimal("20.00"), date(2026, 12, 2))],
        payment={
            "status": "paid",
            "method": "card",
            "paid_at": "2026-12-01T07:00:00+01:00",
            "provider_ref": f"pi_{n}",
        },
    )


@pytest.mark.usefixtures("ddb_real_engine")
def test_concurrent_issuances_get_numbers_1_to_n_with_no_gap_and_a_valid_chain(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    # GIVEN many payments invoiced at the same moment
    barrier = threading.Barrier(ISSUERS)

    def racer(n: int) -> dict[str, Any]:
        barrier.wait(timeout=30)
        return issue_one(ddb_ctx, ddb_network, n)

    with ThreadPoolExecutor(ISSUERS) as pool:
        documents = list(pool.map(racer, range(ISSUERS), timeout=120))
    # THEN numbers are exactly 1..N, each once
    numbers = sorted(int(d["number"].rsplit("-", 1)[1]) for d in documents)
    assert numbers == list(range(1, ISSUERS + 1))
    # AND each stored document chains onto the one before it
    stored = ddb_ctx.table.table.query(
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": f"DOC#{ddb_network.operator}#2026"},
    )["Items"]
    previous = GENESIS_HASH
    for item in sorted(stored, key=lambda i: i["SK"]):
        document = json.loads(item["body"])
        assert document["previous_hash"] == previous
        assert document["hash"] == chain_hash(document, previous)
        previous = document["hash"]
    assert integrity(ddb_ctx, ddb_network.operator) == {
        "ok": True,
        "documents_checked": ISSUERS,
        "first_broken_number": None,
    }


@pytest.mark.usefixtures("ddb_real_engine")
def test_the_same_source_issued_concurrently_gives_one_document(
    ddb_ctx: Context, ddb_network: Network
) -> None:
    barrier = threading.Barrier(6)

    def racer(_: int) -> dict[str, Any]:
        barrier.wait(timeout=30)
        return issue_one(ddb_ctx, ddb_network, 7)

    with ThreadPoolExecutor(6) as pool:
        documents = list(pool.map(racer, range(6), timeout=120))
    assert {d["number"] for d in documents} == {"RL-2026-000001"}
