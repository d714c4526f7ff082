"""Each operator's accounting settings: `ACCOUNTING#{operator}` / `SETTINGS`.

No item: the defaults, at version 1. A change is one transaction: the settings put on
condition of the version read (absent counts as version 1), with the items the service
adds (the audit entry, the check that the period the change applies from is still open).
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item
from chalicelib.errors import PreconditionFailed


class SettingsMoved(Exception):
    """An item given with the change failed its condition (the period moved meanwhile)."""


class AccountingSettingsStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, operator_id: str, consistent: bool = True) -> dict[str, Any] | None:
        """`{settings, version, updated_at, updated_by}`, or None (never changed)."""
        key = keys.accounting_settings(operator_id)
        item = self._table.get(key["PK"], key["SK"], consistent=consistent)
        return strip_keys(item) if item else None

    def replace(
        self,
        operator_id: str,
        expected: int,
        settings: dict[str, Any],
        facts: dict[str, Any],
        extra: list[dict[str, Any]],
    ) -> None:
        """Store `settings` as version `expected + 1`, with `extra` in the same transaction.
        Stale version → PreconditionFailed; an `extra` item failing → SettingsMoved."""
        key = keys.accounting_settings(operator_id)
        condition = "#version = :expected"
        if expected == 1:
            condition = "attribute_not_exists(PK) OR " + condition
        put = {
            "Put": {
                "TableName": self._table.name,
                "Item": {
                    **key,
                    "entity": "accounting_settings",
                    "settings": to_item(settings),
                    "version": expected + 1,
                    **to_item(facts),
                },
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":expected": expected},
            }
        }

        def explain(reasons: list[str]) -> None:
            if reasons[0] == "ConditionalCheckFailed":
                current = self.get(operator_id)
                version = int(current["version"]) if current else 1
                raise PreconditionFailed(
                    f"The accounting settings are at version {version}, not {expected}:"
                    " read them again."
                )
            raise SettingsMoved()

        self._table.transact([put, *extra], on_cancel=explain)

    def start_month_check(self, operator_id: str, start_month: int) -> dict[str, Any]:
        """A transaction item that fails once the fiscal year's first month is no longer
        `start_month` (absent settings, or settings without it, count as January)."""
        condition = "#s.#m = :m"
        if start_month == 1:
            condition = "attribute_not_exists(PK) OR attribute_not_exists(#s.#m) OR " + condition
        return {
            "ConditionCheck": {
                "TableName": self._table.name,
                "Key": keys.accounting_settings(operator_id),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#s": "settings", "#m": "fiscal_year_start_month"},
                "ExpressionAttributeValues": {":m": start_month},
            }
        }
