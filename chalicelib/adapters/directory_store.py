"""Buyers' electronic addresses from the directory: `DIRECTORY#{siren}` / `ADDRESS`.

What the accredited platform's directory answered for a SIREN (its electronic address,
BT-49, scheme 0225), or that it knows none, with the day it was asked
(services/directory.py decides when to ask again). The directory is national, so one
item per SIREN serves every operator invoicing that business.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item


class DirectoryStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, siren: str) -> dict[str, Any] | None:
        item = self._table.get_key(keys.directory_address(siren))
        return strip_keys(item) if item else None

    def put(self, siren: str, address: str | None, looked_up_on: str) -> None:
        """The latest answer wins (two runs asking at once store the same thing)."""
        entry = {"siren": siren, "address": address, "looked_up_on": looked_up_on}
        self._table.table.put_item(Item={**keys.directory_address(siren), **to_item(entry)})
