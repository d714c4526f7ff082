"""Conditional writes of editable objects: one transaction, conditioned on the version.

An edit is ONE `TransactWriteItems`: the object's update (`version` = the one the caller
read, then +1; an item stored before versions existed has none and reads as 1), its audit
entry, and whatever condition checks the edit needs (occupancy, SIREN claims...). Either
everything is written or nothing is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.booking_items import OUT_OF_SERVICE
from chalicelib.adapters.capacity_checks import fits_capacity, hours_marker, slots_empty
from chalicelib.adapters.dynamo import MAX_TRANSACTION_ITEMS, Table, strip_keys, to_item
from chalicelib.domain.catalogue import Operator, Relay
from chalicelib.errors import NotFound, PreconditionFailed

Key = keys.Key


class NewerMarkers(Exception):
    """Hours markers a later edit wrote (their positions in the transaction)."""

    def __init__(self, positions: set[int]) -> None:
        super().__init__(f"{len(positions)} newer hours markers")
        self.positions = positions


def _newer_ones(reasons: list[str]) -> None:
    raise NewerMarkers({i for i, r in enumerate(reasons) if r == "ConditionalCheckFailed"})


class MarksRefused(Exception):
    """Items of an out-of-service marking whose condition failed (their positions)."""

    def __init__(self, positions: set[int]) -> None:
        super().__init__(f"{len(positions)} conditions failed")
        self.positions = positions


def _refused(reasons: list[str]) -> None:
    raise MarksRefused({i for i, r in enumerate(reasons) if r == "ConditionalCheckFailed"})


def operator_key(operator_id: str) -> Key:
    return keys.key(keys.operator_pk(operator_id), keys.OPERATOR_SK)


def relay_key(relay_id: str) -> Key:
    return keys.key(keys.relay_pk(relay_id), keys.RELAY_SK)


def resource_key(relay_id: str, resource_id: str) -> Key:
    return keys.key(keys.relay_pk(relay_id), keys.resource_sk(resource_id))


def product_key(product_id: str) -> Key:
    return keys.key(keys.product_pk(product_id), keys.PRODUCT_SK)


def closure_key(relay_id: str, day: str) -> Key:
    return keys.key(keys.relay_pk(relay_id), keys.closure_sk(day))


def company_key(company_id: str) -> Key:
    return keys.company(company_id)


def version_condition(expected: int) -> tuple[str, dict[str, Any]]:
    """The condition 'the item exists and is at version `expected`' (missing version = 1)."""
    condition = "attribute_exists(PK) AND (#version = :expected"
    if expected == 1:
        condition += " OR attribute_not_exists(#version)"
    return condition + ")", {":expected": expected}


class VersionedStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def identity_items(
        self, operator_id: str, old_siren: str, new_siren: str, year: int
    ) -> list[dict[str, Any]]:
        """What an operator's identity change needs in its transaction: the new SIREN
        claimed and the old one freed (if it changes), and the year's document head still
        absent (no document issued meanwhile)."""
        table = self._table.name
        items: list[dict[str, Any]] = []
        if new_siren != old_siren:
            claim = {
                **keys.key(keys.siren_pk(new_siren), keys.SIREN_SK),
                "operator_id": operator_id,
            }
            items.append(
                {
                    "Put": {
                        "TableName": table,
                        "Item": claim,
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
            old = keys.key(keys.siren_pk(old_siren), keys.SIREN_SK)
            items.append({"Delete": {"TableName": table, "Key": old}})
        head = {
            "TableName": table,
            "Key": keys.document_head(operator_id, year),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
        return [*items, {"ConditionCheck": head}]

    def capacity_checks(
        self, relay_id: str, resource_id: str, days: list[tuple[str, int]], capacity: int
    ) -> list[dict[str, Any]]:
        """One check per (day, first slot) that the resource's slots fit `capacity`."""
        return [
            fits_capacity(self._table.name, relay_id, resource_id, day, capacity, first)
            for day, first in days
        ]

    def empty_slot_checks(
        self, relay_id: str, checks: list[tuple[str, str, list[int]]]
    ) -> list[dict[str, Any]]:
        """One check per (resource, day, slot indices) that those slots hold no seat."""
        return [
            slots_empty(self._table.name, relay_id, resource_id, day, indices)
            for resource_id, day, indices in checks
        ]

    def hours_markers(
        self, relay_id: str, markers: list[tuple[str, list[int]]], version: int
    ) -> list[dict[str, Any]]:
        """Per (day, slots closed that day): its hours marker, for the transaction of the
        relay's edit that makes it `version` (the one the marker names)."""
        return [
            hours_marker(self._table.name, relay_id, day, closed, version)
            for day, closed in markers
        ]

    def write_hours_markers(
        self, relay_id: str, markers: list[tuple[str, list[int]]], version: int
    ) -> int:
        """Per (day, slots closed that day), outside any transaction of the edit: each
        written unless a later edit of the relay wrote that day's marker meanwhile (its
        version is kept). Answers how many were written."""
        items = [
            hours_marker(self._table.name, relay_id, day, closed, version, if_newer=True)
            for day, closed in markers
        ]
        return sum(
            self._write_newer(items[i : i + MAX_TRANSACTION_ITEMS])
            for i in range(0, len(items), MAX_TRANSACTION_ITEMS)
        )

    def _write_newer(self, items: list[dict[str, Any]]) -> int:
        """Conditional puts in one transaction; those whose condition fails (a newer
        marker) are left out and the others written again. How many were written."""
        while items:
            try:
                self._table.transact(items, on_cancel=_newer_ones)
                return len(items)
            except NewerMarkers as exc:
                items = [item for i, item in enumerate(items) if i not in exc.positions]
        return 0

    def operator(self, operator_id: str) -> Operator | None:
        """The operator as stored now (a consistent read), for its relays' marks."""
        item = self.read(operator_key(operator_id))
        return Operator.model_validate(strip_keys(item)) if item else None

    def mark_out_of_service(
        self, relay: Relay, operator: Operator | None, resource_ids: list[str], out: bool
    ) -> bool:
        """Set (or remove) the `out_of_service` mark of the relay's resources, which every
        booking transaction checks; not a versioned edit. Computed from `relay` and
        `operator` as read, it is written only while both are still at those versions
        (checked in the same transaction): False, nothing written, if either moved since
        (a later edit's marks must not be overwritten by these). A resource deleted
        meanwhile is left out."""
        checks = [self._still_at(relay_key(relay.id), relay.version)]
        if operator is not None:
            checks.append(self._still_at(operator_key(operator.id), operator.version))
        marks = [self._mark(relay.id, resource_id, out) for resource_id in resource_ids]
        size = MAX_TRANSACTION_ITEMS - len(checks)
        return all(
            self._write_marks(checks, marks[i : i + size]) for i in range(0, len(marks), size)
        )

    def _still_at(self, key: Key, version: int) -> dict[str, Any]:
        condition, values = version_condition(version)
        check = {
            "TableName": self._table.name,
            "Key": key,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": values,
        }
        return {"ConditionCheck": check}

    def _mark(self, relay_id: str, resource_id: str, out: bool) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": resource_key(relay_id, resource_id),
            "UpdateExpression": "SET #oos = :yes" if out else "REMOVE #oos",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeNames": {"#oos": OUT_OF_SERVICE},
        }
        if out:
            update["ExpressionAttributeValues"] = {":yes": True}
        return {"Update": update}

    def _write_marks(self, checks: list[dict[str, Any]], marks: list[dict[str, Any]]) -> bool:
        """One transaction: the checks and the marks. False if a check failed; marks on
        resources deleted meanwhile are dropped and the others written again."""
        while marks:
            try:
                self._table.transact([*checks, *marks], on_cancel=_refused)
                return True
            except MarksRefused as exc:
                if any(i < len(checks) for i in exc.positions):
                    return False
                marks = [m for i, m in enumerate(marks, len(checks)) if i not in exc.positions]
        return True

    def read(self, key: Key) -> dict[str, Any] | None:
        return self._table.get(key["PK"], key["SK"])

    def update(
        self,
        key: Key,
        expected: int,
        changes: dict[str, Any],
        extra: list[dict[str, Any]],
        on_extra_failed: Callable[[list[int]], None] | None = None,
    ) -> None:
        """Set `changes` (None removes the attribute) and version+1, with `extra` items."""
        names = {"#version": "version"}
        values: dict[str, Any] = {":next": expected + 1}
        sets, removes = ["#version = :next"], []
        for i, (name, value) in enumerate(sorted(changes.items())):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :f{i}")
                values[f":f{i}"] = to_item(value)
        condition, condition_values = version_condition(expected)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        item = {
            "Update": {
                "TableName": self._table.name,
                "Key": key,
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {**values, **condition_values},
            }
        }
        self._write(key, expected, [item, *extra], on_extra_failed)

    def delete(
        self,
        key: Key,
        expected: int,
        extra: list[dict[str, Any]],
        on_extra_failed: Callable[[list[int]], None] | None = None,
    ) -> None:
        condition, values = version_condition(expected)
        item = {
            "Delete": {
                "TableName": self._table.name,
                "Key": key,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": values,
            }
        }
        self._write(key, expected, [item, *extra], on_extra_failed)

    def _write(
        self,
        key: Key,
        expected: int,
        items: list[dict[str, Any]],
        on_extra_failed: Callable[[list[int]], None] | None,
    ) -> None:
        def explain(reasons: list[str]) -> None:
            if reasons[0] == "ConditionalCheckFailed":
                current = self.read(key)
                if current is None:
                    raise NotFound("No such object.")
                raise PreconditionFailed(
                    f"The object is at version {int(current.get('version', 1))}, "
                    f"not {expected}: read it again."
                )
            failed = [i - 1 for i, r in enumerate(reasons) if r == "ConditionalCheckFailed"]
            if on_extra_failed is not None:
                on_extra_failed(failed)
            raise PreconditionFailed("The object changed meanwhile: read it again.")

        self._table.transact(items, on_cancel=explain)
