"""The audit trail: entries for every write by an administrator, accountant or manager.

A change made in one transaction carries its entry in that transaction (`entry_item`);
other writes append theirs right after (`record`). `list_entries` pages newest first.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.auth import Principal
from chalicelib.domain.audit import AuditEntry, created, safe_changes
from chalicelib.domain.identifiers import new_id
from chalicelib.services.context import Context
from chalicelib.services.paging import Page, chain_pages

STAFF_GROUPS = ("admin", "accountant", "manager:")
MAX_MONTHS = 120
PARIS = ZoneInfo("Europe/Paris")


def is_staff(principal: Principal) -> bool:
    return any(g.startswith(STAFF_GROUPS) for g in principal.groups)


def entry(
    ctx: Context,
    principal: Principal,
    action: str,
    entity: str,
    entity_id: str,
    *,
    operator_id: str | None = None,
    relay_id: str | None = None,
    changes: dict[str, list[Any]] | None = None,
) -> AuditEntry:
    return AuditEntry(
        id=new_id("aud"),
        at=ctx.clock.now(),
        actor=principal.sub,
        roles=sorted(principal.groups),
        action=action,
        entity=entity,
        entity_id=entity_id,
        operator_id=operator_id,
        relay_id=relay_id,
        changes=safe_changes(changes or {}),
    )


def entry_item(ctx: Context, audit: AuditEntry) -> dict[str, Any]:
    """The transaction item that appends `audit` along with the change it records."""
    return ctx.audit_log.append_item(audit)


def creation_items(
    ctx: Context,
    principal: Principal,
    entity: str,
    entity_id: str,
    operator_id: str,
    record: dict[str, Any],
) -> list[dict[str, Any]]:
    """The transaction items of the audit entry of `record` created by `principal`: one
    for staff, none for anyone else (entries are kept for staff writes)."""
    if not is_staff(principal):
        return []
    made = entry(
        ctx,
        principal,
        "create",
        entity,
        entity_id,
        operator_id=operator_id,
        changes=created(record),
    )
    return [entry_item(ctx, made)]


def record(
    ctx: Context, principal: Principal, action: str, entity: str, entity_id: str, **details: Any
) -> None:
    """Append an entry right after a write made outside a transaction (staff only)."""
    if is_staff(principal):
        ctx.audit_log.append(entry(ctx, principal, action, entity, entity_id, **details))


def months_between(low: date, high: date) -> list[str]:
    """`YYYY-MM` of every month from `high` down to `low` (newest first)."""
    months, year, month = [], high.year, high.month
    while (year, month) >= (low.year, low.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def list_entries(
    ctx: Context,
    span: tuple[date, date],
    filters: dict[str, str],
    limit: int,
    cursor: str | None,
) -> tuple[list[AuditEntry], str | None]:
    """Entries from `span[0]` to `span[1]` (inclusive), newest first, one Query per month
    (of the operator's partition when `operator_id` is given, else the network's)."""
    operator_id = filters.pop("operator_id", None)
    low, high = span
    store = ctx.audit_log

    def month_page(month: str) -> Page:
        def page(size: int, inner: str | None) -> tuple[list[Any], str | None]:
            found, after = store.page(operator_id, month, filters, size, inner)
            return [e for e in found if low <= e.at.astimezone(PARIS).date() <= high], after

        return page

    # Partitions are UTC months, dates are Paris dates: look one day beyond each end.
    months = months_between(low - timedelta(days=1), high + timedelta(days=1))
    pages = [month_page(m) for m in months]
    scope = f"audit|{operator_id}|{sorted(filters.items())}|{low}|{high}"
    return chain_pages(pages, limit, cursor, scope)
