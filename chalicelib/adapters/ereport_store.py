"""E-reporting files in the table: `EREPORT#{operator}` / `{kind}#{period start}#{nn}`.

A file is written once, under a condition that its key is new: two runs that build the
same period at the same time store it once (the loser reads the winner's). Files are
never rewritten; a correction is the next sequence number (a corrective `RE` report).
Only the transmission state changes: `produced` → `submitted` (with the platform's flow
id) or `rejected` (with its answer), once, under a condition on the current status.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item


class ReportTaken(Exception):
    """Another run stored this kind, period and sequence first."""


class EReportStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def of_period(self, operator_id: str, kind: str, period_start: str) -> list[dict[str, Any]]:
        """The files of one kind and period, oldest first."""
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": keys.ereports_pk(operator_id),
                ":prefix": keys.ereport_prefix(kind, period_start),
            },
            ConsistentRead=True,
        )
        return [strip_keys(item) for item in items]

    def all(self, operator_id: str) -> list[dict[str, Any]]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.ereports_pk(operator_id)},
        )
        return [strip_keys(item) for item in items]

    def add(self, operator_id: str, report: dict[str, Any]) -> None:
        item = {
            "PK": keys.ereports_pk(operator_id),
            "SK": keys.ereport_sk(report["kind"], report["period_start"], report["sequence"]),
            **to_item(report),
        }
        client_errors = self._table.exceptions
        try:
            self._table.table.put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
        except client_errors.ConditionalCheckFailedException as exc:
            raise ReportTaken(item["SK"]) from exc

    def mark(
        self, operator_id: str, report: dict[str, Any], status: str, outcome: dict[str, Any]
    ) -> bool:
        """Record the transmission of a `produced` report; False if another run did."""
        client_errors = self._table.exceptions
        try:
            self._table.table.update_item(
                Key={
                    "PK": keys.ereports_pk(operator_id),
                    "SK": keys.ereport_sk(
                        report["kind"], report["period_start"], int(report["sequence"])
                    ),
                },
                UpdateExpression="SET #status = :status, transmission = :outcome",
                ConditionExpression="#status = :produced",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": status,
                    ":outcome": to_item(outcome),
                    ":produced": "produced",
                },
            )
        except client_errors.ConditionalCheckFailedException:
            return False
        return True
