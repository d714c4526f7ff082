"""The platform side of routed invoices: `EINVOICE#{operator}` / `{document id}`.

The invoice document itself never changes; its flow id, current status, status history
and the last error (a failed validation, a refusal) live here. Created once (conditional
put); every later write is conditioned on the version read, so two runs never lose or
duplicate a status.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item
from chalicelib.domain.lifecycle import current_status


class EInvoiceStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, operator_id: str, document_id: str) -> dict[str, Any] | None:
        item = self._table.get(keys.einvoices_pk(operator_id), keys.einvoice_sk(document_id))
        return strip_keys(item) if item else None

    def all(self, operator_id: str) -> list[dict[str, Any]]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.einvoices_pk(operator_id)},
        )
        return [strip_keys(item) for item in items]

    def create(self, operator_id: str, state: dict[str, Any]) -> bool:
        """False if the document was routed already (another run)."""
        return self._put(operator_id, {**state, "version": 1}, "attribute_not_exists(PK)", {})

    def replace(self, operator_id: str, read: dict[str, Any], state: dict[str, Any]) -> bool:
        """Store `state` in place of `read`, if nobody changed the item since it was read."""
        version = int(read["version"])
        return self._put(
            operator_id,
            {**state, "version": version + 1},
            "version = :version",
            {":version": version},
        )

    def save(
        self, operator_id: str, read: dict[str, Any] | None, state: dict[str, Any]
    ) -> dict[str, Any] | None:
        """`state` created (`read` None) or stored in place of `read`, answered as stored
        (with its version) for a later `replace`; None if another writer was first."""
        if read is None:
            return {**state, "version": 1} if self.create(operator_id, state) else None
        if not self.replace(operator_id, read, state):
            return None
        return {**state, "version": int(read["version"]) + 1}

    def update(
        self, operator_id: str, state: dict[str, Any], history: list[dict[str, Any]]
    ) -> bool:
        """Store the new history and the status it gives (the furthest of the current
        attempt, `domain/lifecycle.current_status`) if nobody changed the item since it
        was read."""
        status = current_status(history, int(state.get("attempt") or 1))
        return self.replace(operator_id, state, {**state, "status": status, "history": history})

    def _put(
        self, operator_id: str, state: dict[str, Any], condition: str, values: dict[str, Any]
    ) -> bool:
        item = {
            "PK": keys.einvoices_pk(operator_id),
            "SK": keys.einvoice_sk(state["document_id"]),
            **to_item(state),
        }
        extra: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        try:
            self._table.table.put_item(Item=item, ConditionExpression=condition, **extra)
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True
