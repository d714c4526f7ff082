"""A month's close racing writers into it, on DynamoDB Local: every entry dated in the
closed month was sealed (numbered at the close); every later one landed in the next. And
FECs made at once while entries are booked: each entry numbered once, without gap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.auth import Principal
from chalicelib.domain.bookkeeping import fee_entry
from chalicelib.domain.catalogue import NewOperator
from chalicelib.domain.fec import FecIndex
from chalicelib.domain.ledger import Chart
from chalicelib.services import entry_numbers, periods
from chalicelib.services.catalogue import create_operator
from chalicelib.services.context import Context
from chalicelib.services.period_close import close_period
from tests.conftest import NOW, PARIS, make_settings
from tests.support.api import operator_body
from tools.local_s3 import start_local_s3
from tools.local_stack import free_port

WRITERS = 12
FECS = 8


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    process = start_local_s3(free_port())
    try:
        yield process.url
    finally:
        process.stop()


@pytest.fixture
def ctx(auth_keys: tuple[Path, Path], ddb_table: Table, ddb_endpoint: str, s3_url: str) -> Context:
    settings = make_settings(
        auth_keys[1],
        DYNAMODB_ENDPOINT_URL=ddb_endpoint,
        RELAIS_TABLE=ddb_table.name,
        S3_ENDPOINT_URL=s3_url,
    )
    return Context(settings=settings, table=ddb_table, clock=FixedClock(NOW))


@pytest.mark.usefixtures("ddb_real_engine")
def test_no_entry_lands_in_october_after_october_closed(ctx: Context) -> None:
    body = operator_body(accounting_start="2026-10")
    operator = create_operator(ctx, NewOperator.model_validate(body)).id
    accountant = Principal(sub="acc-1", groups=frozenset({"accountant"}))
    at = datetime(2026, 12, 1, 8, 0, tzinfo=PARIS)
    barrier = threading.Barrier(WRITERS + 1)

    def write(n: int) -> None:
        barrier.wait(timeout=30)
        lines = fee_entry(operator, f"txn_{n}", date(2026, 10, 31), 10 + n, Chart(), at)
        periods.book(ctx, lines)

    def close() -> None:
        barrier.wait(timeout=30)
        close_period(ctx, accountant, operator, "2026-10")

    with ThreadPoolExecutor(WRITERS + 1) as pool:
        futures = [pool.submit(write, n) for n in range(WRITERS)] + [pool.submit(close)]
        for future in futures:
            future.result(timeout=120)

    ledger = ctx.invoices.ledger(operator, 2026)
    in_october = {line.entry_id for line in ledger if line.entry_date.month == 10}
    numbered = set(ctx.periods.numbers(operator, "2026-10"))
    assert in_october == numbered
    assert len({line.entry_id for line in ledger}) == WRITERS


@pytest.mark.usefixtures("ddb_real_engine")
def test_fecs_made_while_entries_are_booked_number_each_entry_once_without_gap(
    ctx: Context,
) -> None:
    """Writers book fees while eight FECs are made at once (downloads, exports, closes all
    number through `entry_numbers.numbered`): no number is given twice, none is skipped,
    and a number once given is the one every later FEC shows."""
    body = operator_body(accounting_start="2026-10")
    operator = create_operator(ctx, NewOperator.model_validate(body)).id
    at = datetime(2026, 12, 1, 8, 0, tzinfo=PARIS)
    barrier = threading.Barrier(WRITERS + FECS)
    seen: list[dict[str, int]] = []

    def write(n: int) -> None:
        barrier.wait(timeout=30)
        day = date(2026, 11, 30 - n)  # later writers book earlier days
        periods.book(ctx, fee_entry(operator, f"txn_{n}", day, 10 + n, Chart(), at))

    def fec() -> None:
        barrier.wait(timeout=30)
        for _ in range(3):
            index = FecIndex(2026)
            for line in ctx.invoices.ledger(operator, 2026):
                index.add(line)
            seen.append(entry_numbers.numbered(ctx, operator, 2026, 1, index))

    with ThreadPoolExecutor(WRITERS + FECS) as pool:
        futures = [pool.submit(write, n) for n in range(WRITERS)]
        futures += [pool.submit(fec) for _ in range(FECS)]
        for future in futures:
            future.result(timeout=120)

    index = FecIndex(2026)
    for line in ctx.invoices.ledger(operator, 2026):
        index.add(line)
    final = entry_numbers.numbered(ctx, operator, 2026, 1, index)
    assert sorted(final.values()) == list(range(1, WRITERS + 1))
    assert ctx.periods.last_number(operator, 2026) == WRITERS
    for answer in seen:  # every FEC answered the numbers that stayed
        assert answer == {entry: final[entry] for entry in answer}
