"""Asynchronous exports in the table.

Export item `PK=EXPORT#{id}`, `SK=EXPORT`: kind, operator, parameters, status, the
current run's `run_id`, `attempts` and `lease_until`, then the file's key, size and
SHA-256 (or the failure's reason). Each run notes in `object_keys` the S3 key it is
about to write, before writing it, so the files of runs that died are known without
listing the bucket. While not finished it has a marker `PK=EXPORTS_OPEN`,
`SK={created_at}#{id}`, which the sweeping job lists; the marker is deleted with the
final status, in one transaction. A finished export has a `ttl` (epoch seconds, the
same moment as its `available_until`): DynamoDB deletes it some time after its file is
gone, and until then the service answers it as missing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys
from chalicelib.domain.exports import DONE, FAILED, PENDING, RUNNING


class ExportStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def create(self, export: dict[str, Any]) -> bool:
        """Store a new pending export and its open marker; False if the id exists (a
        retried request with the same Idempotency-Key). An export past its `ttl` (its
        file gone, DynamoDB not yet done deleting it) is replaced by the new one."""
        now = int(datetime.fromisoformat(str(export["created_at"])).timestamp())
        item = {**keys.export(export["id"]), "entity": "export", **export, "status": PENDING}
        marker = {**keys.open_export(export["created_at"], export["id"]), "entity": "export_open"}

        def on_cancel(reasons: list[str]) -> None:
            raise _Exists

        try:
            self._table.transact(
                [
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(PK) OR #ttl <= :now",
                            "ExpressionAttributeNames": {"#ttl": "ttl"},
                            "ExpressionAttributeValues": {":now": now},
                        }
                    },
                    {"Put": {"TableName": self._table.name, "Item": marker}},
                ],
                on_cancel,
            )
        except _Exists:
            return False
        return True

    def get(self, export_id: str) -> dict[str, Any] | None:
        item = self._table.get_key(keys.export(export_id))
        return strip_keys(item) if item else None

    def open_exports(self) -> list[dict[str, Any]]:
        """Every export not yet done or failed, oldest first."""
        markers = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.EXPORTS_OPEN_PK},
            ConsistentRead=True,
        )
        found = []
        for marker in markers:
            export_id = str(marker["SK"]).rsplit("#", 1)[1]
            export = self.get(export_id)
            if export is not None:
                found.append(export)
        return found

    def claim(self, export_id: str, run_id: str, now: str, lease_until: str) -> bool:
        """Take the export for one run: pending, or running under a lease run out."""
        try:
            self._table.table.update_item(
                Key=keys.export(export_id),
                UpdateExpression=(
                    "SET #s = :running, run_id = :run, lease_until = :lease, started_at = :now"
                    " ADD attempts :one"
                ),
                ConditionExpression=(
                    "attribute_exists(PK)"
                    " AND (#s = :pending OR (#s = :running AND lease_until <= :now))"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":running": RUNNING,
                    ":pending": PENDING,
                    ":run": run_id,
                    ":lease": lease_until,
                    ":now": now,
                    ":one": 1,
                },
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def note_key(self, export_id: str, run_id: str, key: str) -> list[str] | None:
        """Before a run writes `key`: add it to the export's `object_keys`, while the
        run still holds the export. The keys every run noted (this one's too), or None
        when the run lost the export to another."""
        try:
            answer = self._table.table.update_item(
                Key=keys.export(export_id),
                UpdateExpression="ADD object_keys :key",
                ConditionExpression="#s = :running AND run_id = :run",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":key": {key},
                    ":running": RUNNING,
                    ":run": run_id,
                },
                ReturnValues="ALL_NEW",
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return None
        return sorted(str(k) for k in answer["Attributes"].get("object_keys") or ())

    def release(self, export_id: str, run_id: str) -> bool:
        """Back to pending after a run that failed for a passing reason."""
        try:
            self._table.table.update_item(
                Key=keys.export(export_id),
                UpdateExpression="SET #s = :pending REMOVE run_id, lease_until",
                ConditionExpression="#s = :running AND run_id = :run",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":pending": PENDING,
                    ":running": RUNNING,
                    ":run": run_id,
                },
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def finish(
        self, export: dict[str, Any], run_id: str | None, status: str, facts: dict[str, Any]
    ) -> bool:
        """Set the final status (`done` with the file's facts, or `failed` with the
        reason) and drop the open marker; only the run holding the export (`run_id`), or
        anyone when `run_id` is None (giving up after the last attempt). False: the run
        lost its lease to another."""
        if status not in (DONE, FAILED):
            raise ValueError(f"not a final status: {status}")
        names = {"#s": "status", **{f"#{k}": k for k in facts}}
        values: dict[str, Any] = {":final": status, **{f":{k}": v for k, v in facts.items()}}
        sets = ", ".join(["#s = :final", *(f"#{k} = :{k}" for k in facts)])
        if run_id is None:
            condition = "#s IN (:pending, :running)"
            values.update({":pending": PENDING, ":running": RUNNING})
        else:
            condition = "#s = :running AND run_id = :run"
            values.update({":running": RUNNING, ":run": run_id})

        def on_cancel(reasons: list[str]) -> None:
            raise _Exists

        try:
            self._table.transact(
                [
                    {
                        "Update": {
                            "TableName": self._table.name,
                            "Key": keys.export(export["id"]),
                            "UpdateExpression": f"SET {sets} REMOVE lease_until",
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._table.name,
                            "Key": keys.open_export(export["created_at"], export["id"]),
                        }
                    },
                ],
                on_cancel,
            )
        except _Exists:
            return False
        return True


class _Exists(Exception):
    """A condition of the transaction failed."""
