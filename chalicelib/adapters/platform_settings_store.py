"""Each operator's accredited platform: `PLATFORM#{operator}` / `SETTINGS`, and its own
Chorus Pro API account: `PLATFORM#{operator}` / `CHORUS` (`kind` "pa" / "chorus").

Only what is not secret is here (the flow API's URL, the OAuth2 token URL, the client id);
the client secret is an SSM SecureString (`adapters/secrets.OperatorSecrets`), never in
the table. Each write bumps `version`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item


class PlatformSettingsStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, operator_id: str, kind: str = "pa") -> dict[str, Any] | None:
        key = keys.platform_settings(operator_id, kind)
        item = self._table.get(key["PK"], key["SK"])
        return _flat(item) if item else None

    def put(self, operator_id: str, settings: dict[str, Any], kind: str = "pa") -> dict[str, Any]:
        """Store `settings` (without any secret) as the next version; answers what is stored."""
        key = keys.platform_settings(operator_id, kind)
        answer = self._table.table.update_item(
            Key=key,
            UpdateExpression="SET #data = :data ADD version :one",
            ExpressionAttributeNames={"#data": "settings"},
            ExpressionAttributeValues={":data": to_item(settings), ":one": 1},
            ReturnValues="ALL_NEW",
        )
        return _flat(answer["Attributes"])

    def delete(self, operator_id: str, version: int, kind: str = "pa") -> bool:
        """Remove the settings if still at `version`; False if they changed or are gone."""
        key = keys.platform_settings(operator_id, kind)
        try:
            self._table.table.delete_item(
                Key=key,
                ConditionExpression="version = :version",
                ExpressionAttributeValues={":version": version},
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _flat(item: dict[str, Any]) -> dict[str, Any]:
    item = strip_keys(item)
    return {**item["settings"], "version": int(item["version"])}
