"""Invoice issuance for one operator: the gapless counter is a serial point. Invoices/s
issued one after another, then by 8 concurrent issuers (threads, each with its own
Context and boto3 session), with the conflicts the counter met and the retries."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from bench.stack import NOW, World
from bench.stats import Row
from bench.units import sale_issue
from chalicelib.adapters import invoice_store
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.errors import ConcurrentUpdate
from chalicelib.services.context import Context

ISSUERS = 8
SECTION = "invoice issuance, one operator (gapless numbers), DynamoDB Local"


@contextmanager
def counted() -> Iterator[Counter[str]]:
    """Attempts at the counter and how they ended (InvoiceStore.issue, wrapped)."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    original = invoice_store.InvoiceStore.issue

    def issue(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            original(self, *args, **kwargs)
        except invoice_store.HeadMoved:
            with lock:
                seen["head_moved"] += 1
            raise
        except Exception:
            with lock:
                seen["other"] += 1
            raise
        with lock:
            seen["issued"] += 1

    invoice_store.InvoiceStore.issue = issue  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        invoice_store.InvoiceStore.issue = original  # type: ignore[method-assign]


def _own_world(world: World) -> World:
    """The same table and data through a Context (and boto3 resource) of its own."""
    settings = world.ctx.settings
    table = Table(world.ctx.table.name, settings.aws_region, settings.dynamodb_endpoint_url)
    ctx = Context(world.ctx.settings, table, FixedClock(NOW), gateway_override=world.gateway)
    return World(**{**world.__dict__, "ctx": ctx})


def issuance(world: World, n: int) -> list[Row]:
    tag = str(time.time_ns())
    sale_issue(world, f"warm-{tag}")()
    with counted() as sequential:
        began = time.perf_counter()
        for i in range(n):
            sale_issue(world, f"seq-{tag}-{i}")()
        seq_seconds = time.perf_counter() - began
    workers = [_own_world(world) for _ in range(ISSUERS)]
    for w in workers:
        sale_issue(w, f"warm-{tag}-{id(w)}")()  # each session's connections open

    gave_up: list[int] = []
    gave_up_lock = threading.Lock()

    def run(k: int) -> None:
        issue_k = [sale_issue(workers[k], f"par-{tag}-{k}-{i}") for i in range(n // ISSUERS)]
        for issue in issue_k:
            try:
                issue()
            except ConcurrentUpdate:  # ISSUE_ATTEMPTS conflicts in a row: given up
                with gave_up_lock:
                    gave_up.append(k)

    with counted() as parallel:
        began = time.perf_counter()
        with ThreadPoolExecutor(ISSUERS) as pool:
            list(pool.map(run, range(ISSUERS)))
        par_seconds = time.perf_counter() - began
    seq_rate = sequential["issued"] / seq_seconds
    par_rate = parallel["issued"] / par_seconds
    tries = parallel["issued"] + parallel["head_moved"] + parallel["other"]
    return [
        Row(SECTION, "sequential, invoices/s", f"{seq_rate:.1f}", f"n={n}", figure=seq_rate),
        Row(
            SECTION,
            f"{ISSUERS} concurrent issuers, invoices/s",
            f"{par_rate:.1f}",
            f"n={parallel['issued']}",
            figure=par_rate,
        ),
        Row(SECTION, "ratio concurrent / sequential", f"{par_rate / seq_rate:.2f}x"),
        Row(
            SECTION,
            "counter conflicts (HeadMoved, retried)",
            f"{parallel['head_moved']}",
            f"{parallel['head_moved'] / max(parallel['issued'], 1):.2f} per invoice; "
            f"{tries} attempts for {parallel['issued']} invoices; other failures "
            f"{parallel['other']}; given up {len(gave_up)}; "
            f"sequential conflicts {sequential['head_moved']}",
        ),
    ]
