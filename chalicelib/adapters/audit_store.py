"""Audit entries in the table: append-only, paged newest first.

- `AUDIT#{operator_id or NETWORK}#{YYYY-MM}` / `{at UTC}#{id}`: an operator's trail, month
  by month (DESIGN.md);
- GSI1 `AUDIT#{YYYY-MM}` / `{at UTC}#{id}`: the whole network's trail of a month, so an
  unfiltered listing is one Query per month too.
An entry is put with `attribute_not_exists`: never overwritten.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item
from chalicelib.domain.audit import AuditEntry

audit_pk = keys.audit_pk
network_pk = keys.audit_month_pk


class AuditStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def append_item(self, entry: AuditEntry) -> dict[str, Any]:
        """The transaction item appending `entry` (joins the change's own transaction)."""
        at = entry.at.astimezone(UTC)
        sort = keys.audit_sk(at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), entry.id)
        month = at.strftime("%Y-%m")
        item = {
            "PK": audit_pk(entry.operator_id, month),
            "SK": sort,
            "GSI1PK": network_pk(month),
            "GSI1SK": sort,
            **to_item(entry.model_dump(mode="json")),
            "entity": "audit",  # the item's type, as every item has; `kind` is the audited one
            "kind": entry.entity,
        }
        return {
            "Put": {
                "TableName": self._table.name,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def append(self, entry: AuditEntry) -> None:
        put = self.append_item(entry)["Put"]
        self._table.table.put_item(Item=put["Item"], ConditionExpression=put["ConditionExpression"])

    def page(
        self,
        operator_id: str | None,
        month: str,
        filters: dict[str, str],
        limit: int,
        cursor: str | None,
    ) -> tuple[list[AuditEntry], str | None]:
        """One page of a month's entries, newest first, `filters` on attributes."""
        if operator_id:
            query: dict[str, Any] = {
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": audit_pk(operator_id, month)},
            }
        else:
            query = {
                "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": {":pk": network_pk(month)},
            }
        query["ScanIndexForward"] = False
        if filters:
            names = {f"#{k}": ("kind" if k == "entity" else k) for k in filters}
            query["FilterExpression"] = " AND ".join(f"#{k} = :{k}" for k in filters)
            query["ExpressionAttributeNames"] = names
            query["ExpressionAttributeValues"].update({f":{k}": v for k, v in filters.items()})
        items, next_cursor = self._table.query_page(limit, cursor, **query)
        entries = [AuditEntry.model_validate({**strip_keys(i), "entity": i["kind"]}) for i in items]
        return entries, next_cursor
