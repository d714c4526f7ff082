"""An operator's accounting settings: reading them (every ledger writer does), and the
accountant's change (`domain/accounting_settings.py` says when one is accepted).

A change is ONE transaction: the settings put on condition of the version the caller
read (`If-Match`), its audit entry, and the check that the period it applies from (the
first open one, or the operator's first period when nothing is closed) is still open, so
a close racing the change makes the change fail (409) rather than land in a fiscal year
that meanwhile has a closed period; and, for a new fiscal year start, the check that no
FEC has numbered entries (a FEC numbering with the old start meanwhile checks the start
in its own transaction, so one of the two fails). A close reads the settings only once its month is
marked `closing`, so it never works with settings that change under it.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.accounting_settings_store import SettingsMoved
from chalicelib.auth import Principal
from chalicelib.domain import periods as rules
from chalicelib.domain.accounting_settings import (
    AccountingSettingsInput,
    change_refusal,
    settings_dict,
    settings_of,
)
from chalicelib.domain.catalogue import Operator
from chalicelib.domain.editing import Expected, check_version
from chalicelib.domain.ledger import AccountingSettings
from chalicelib.errors import SettingsLocked
from chalicelib.services import audit, periods
from chalicelib.services.catalogue import get_operator
from chalicelib.services.context import Context


def settings_for(ctx: Context, operator_id: str, fresh: bool = True) -> AccountingSettings:
    """The settings the operator's ledger lines are written with (defaults if never set).

    `fresh=False` (the ledger writers: invoices, fees, payouts, transfers) reads them
    eventually consistent, half the read's cost on the paying paths: a writer may then
    miss a change made within the last second, the same as a writer that read the
    settings just before the change; the close, the FEC and the archives read them fresh."""
    stored = ctx.accounting_settings.get(operator_id, consistent=fresh)
    return settings_of(stored["settings"] if stored else None)


def first_open_period(ctx: Context, operator_id: str) -> str | None:
    """The first period neither closed nor closing; None while none was ever closed."""
    known = periods.statuses(ctx, operator_id)
    if not any(status != rules.OPEN for status in known.values()):
        return None
    return rules.first_open(min(known), known)


def operator_for_settings(ctx: Context, principal: Principal, operator_id: str) -> Operator:
    """The operator, for an accountant or an admin (403 for others, 404 if unknown)."""
    principal.require_books_access()
    return get_operator(ctx, operator_id)


def view(ctx: Context, principal: Principal, operator_id: str) -> dict[str, Any]:
    """The settings as answered, with their `version` and whether a change is possible
    now (`changeable`: the fiscal year of the first open period has no closed one)."""
    operator_for_settings(ctx, principal, operator_id)
    return _answer(ctx, operator_id)


def _answer(ctx: Context, operator_id: str) -> dict[str, Any]:
    stored = ctx.accounting_settings.get(operator_id) or {}
    settings = settings_of(stored.get("settings"))
    first_open = first_open_period(ctx, operator_id)
    start = settings.fiscal_year_start_month
    return {
        "operator_id": operator_id,
        **settings_dict(settings),
        "version": int(stored.get("version") or 1),
        "updated_at": stored.get("updated_at"),
        "updated_by": stored.get("updated_by"),
        "first_open_period": first_open,
        "changeable": first_open is None or int(first_open[5:7]) == start,
    }


def replace(
    ctx: Context,
    principal: Principal,
    operator_id: str,
    expected: Expected,
    wanted: AccountingSettingsInput,
) -> dict[str, Any]:
    """Replace the settings (see the module's docstring): 412 on a stale version, 409
    `accounting_settings_locked` when the fiscal year they would apply to has a closed
    period. A change that changes nothing writes nothing."""
    operator = operator_for_settings(ctx, principal, operator_id)
    stored = ctx.accounting_settings.get(operator_id) or {}
    version = check_version(int(stored.get("version") or 1), expected)
    before, after = settings_of(stored.get("settings")), wanted.to_settings()
    if before == after:
        return _answer(ctx, operator_id)
    first_open = first_open_period(ctx, operator_id)
    new_start = after.fiscal_year_start_month != before.fiscal_year_start_month
    numbered = new_start and ctx.periods.numbers_given(operator_id)
    refusal = change_refusal(before, after, first_open, numbered)
    if refusal:
        raise SettingsLocked(refusal)
    old, new = settings_dict(before), settings_dict(after)
    changes = _changes(old, new)
    entry = audit.entry(
        ctx,
        principal,
        "update",
        "accounting_settings",
        operator_id,
        operator_id=operator_id,
        changes=changes,
    )
    facts = {
        "updated_at": ctx.clock.now().isoformat(timespec="seconds"),
        "updated_by": principal.sub,
    }
    guards = [ctx.periods.open_check(operator_id, first_open or _first_period(operator))]
    if new_start:  # and no FEC numbers entries meanwhile with the old start
        guards.append(ctx.periods.no_numbers_check(operator_id))
    try:
        ctx.accounting_settings.replace(
            operator_id, version, new, facts, [audit.entry_item(ctx, entry), *guards]
        )
    except SettingsMoved as exc:
        raise SettingsLocked(
            "A period was closed, or a FEC numbered entries, meanwhile: read the settings"
            " again before changing them."
        ) from exc
    return _answer(ctx, operator_id)


def _first_period(operator: Operator) -> str:
    return periods.start_month(operator)


def _changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """`{"chart.bank": [before, after], …}` for what differs."""
    changes: dict[str, list[Any]] = {}
    for part in ("chart", "journals"):
        for name, value in new[part].items():
            if old[part].get(name) != value:
                changes[f"{part}.{name}"] = [old[part].get(name), value]
    start = "fiscal_year_start_month"
    if old[start] != new[start]:
        changes[start] = [old[start], new[start]]
    return changes
