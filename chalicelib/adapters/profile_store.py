"""Members' billing profiles: one item per member (`MEMBER#{sub}` / `PROFILE`)."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item


class ProfileStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, member_id: str) -> dict[str, Any] | None:
        """The profile as stored (without keys), or None if the member has none."""
        item = self._table.get_key(keys.profile(member_id))
        return strip_keys(item) if item else None

    def create(self, member_id: str, profile: dict[str, Any]) -> bool:
        """Write a first profile; False (nothing written) if the member has one already."""
        try:
            self._table.table.put_item(
                Item={**keys.profile(member_id), **to_item(profile)},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def put(self, member_id: str, profile: dict[str, Any]) -> None:
        """Replace the member's profile by `profile` (every attribute not in it is dropped)."""
        self._table.table.put_item(Item={**keys.profile(member_id), **to_item(profile)})
