"""The platform side of routed invoices: `EINVOICE#{operator}` / `{document id}`.

The invoice document itself never changes; its flow id, current status and status
history live here. Created once (conditional put); each new status is written under a
condition on the version read, so two runs never lose or duplicate a status.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item


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
        item = {
            "PK": keys.einvoices_pk(operator_id),
            "SK": keys.einvoice_sk(state["document_id"]),
            **to_item({**state, "version": 1}),
        }
        try:
            self._table.table.put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def update(
        self, operator_id: str, state: dict[str, Any], history: list[dict[str, Any]]
    ) -> bool:
        """Store the new history (and status) if nobody changed the item since it was read."""
        try:
            self._table.table.update_item(
                Key={
                    "PK": keys.einvoices_pk(operator_id),
                    "SK": keys.einvoice_sk(state["document_id"]),
                },
                UpdateExpression="SET #status = :status, history = :history, version = :next",
                ConditionExpression="version = :version",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": history[-1]["code"],
                    ":history": to_item(history),
                    ":version": int(state["version"]),
                    ":next": int(state["version"]) + 1,
                },
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True
