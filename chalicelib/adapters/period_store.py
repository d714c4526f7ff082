"""Accounting periods and the entry numbers fixed when a period closes.

Period item `PK=PERIOD#{operator}`, `SK={YYYY-MM}`: `status` (`closing` while its close
runs, then `closed`; no item = open), close date and actor, archive hashes, the highest
`EcritureNum` of its entries and the frozen VAT report. Writers put
`open_check` in their own transaction, so a close racing a write either sees the write
(and seals it) or makes it fail and be booked in the next open month.

Entry numbers `PK=FECNUM#{operator}#{YYYY-MM}` (the entry's month), `SK={entry_id}`: one
item per entry, written once, by the first FEC that holds the entry (a download, an
export, or its month's close). The fiscal year's last number is kept on
`PK=FECSEQ#{operator}`, `SK={year}`: numbers are handed out by a transaction that moves it
from the value read and writes each number only where none is, so two FECs made at once
never give one number twice nor one entry two numbers, and a crash leaves no gap. The
same transactions mark the operator numbered (`SK=numbered`: its fiscal year's first
month no longer changes) and check the first month is still the one they numbered for.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import MAX_TRANSACTION_ITEMS, Table
from chalicelib.domain.periods import CLOSED, CLOSING, OPEN


class PeriodMoved(Exception):
    """The period (or the one before it) changed state meanwhile."""


class NumbersMoved(Exception):
    """Another FEC handed out numbers meanwhile: read them again and start over."""


class PeriodStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def periods(self, operator_id: str) -> dict[str, dict[str, Any]]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.periods_pk(operator_id)},
            ConsistentRead=True,
        )
        return {str(item["SK"]): item for item in items}

    def open_check(self, operator_id: str, month: str) -> dict[str, Any]:
        """A transaction item that fails once `month` is being closed or closed."""
        return {
            "ConditionCheck": {
                "TableName": self._table.name,
                "Key": keys.period(operator_id, month),
                "ConditionExpression": "attribute_not_exists(PK) OR #s = :open",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":open": OPEN},
            }
        }

    def begin_close(
        self, operator_id: str, month: str, previous: str | None, facts: dict[str, Any]
    ) -> None:
        """Mark `month` as closing (writers stop landing in it); `facts` (close date,
        actor, reason) are kept from the first attempt when a close is retried."""
        names = {"#s": "status", **{f"#{k}": k for k in facts}}
        values: dict[str, Any] = {":closing": CLOSING, ":open": OPEN}
        sets = ["#s = :closing"]
        for key, value in facts.items():
            values[f":{key}"] = value
            sets.append(f"#{key} = if_not_exists(#{key}, :{key})")
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": keys.period(operator_id, month),
                    "UpdateExpression": "SET " + ", ".join(sets),
                    "ConditionExpression": "attribute_not_exists(PK) OR #s IN (:open, :closing)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        if previous is not None:
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table.name,
                        "Key": keys.period(operator_id, previous),
                        "ConditionExpression": "#s = :closed",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":closed": CLOSED},
                    }
                }
            )

        def moved(reasons: list[str]) -> None:
            raise PeriodMoved(month)

        self._table.transact(items, on_cancel=moved)

    def abort_close(self, operator_id: str, month: str, facts: list[str]) -> None:
        """Give a `closing` month back to the writers (its books could not be sealed),
        without the facts of that attempt (a later close records its own)."""
        names = {"#s": "status", **{f"#{k}": k for k in facts}}
        removed = f" REMOVE {', '.join(f'#{k}' for k in facts)}" if facts else ""
        with contextlib.suppress(self._table.exceptions.ConditionalCheckFailedException):
            self._table.table.update_item(
                Key=keys.period(operator_id, month),
                UpdateExpression=f"SET #s = :open{removed}",
                ConditionExpression="#s = :closing",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":open": OPEN, ":closing": CLOSING},
            )

    def finish_close(self, operator_id: str, month: str, facts: dict[str, Any]) -> dict[str, Any]:
        names = {"#s": "status", **{f"#{k}": k for k in facts}}
        values: dict[str, Any] = {":closed": CLOSED, ":closing": CLOSING}
        values.update({f":{k}": v for k, v in facts.items()})
        sets = ", ".join(["#s = :closed", *(f"#{k} = :{k}" for k in facts)])
        try:
            response = self._table.table.update_item(
                Key=keys.period(operator_id, month),
                UpdateExpression=f"SET {sets}",
                ConditionExpression="#s = :closing",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self._table.exceptions.ConditionalCheckFailedException as exc:
            raise PeriodMoved(month) from exc
        item: dict[str, Any] = response["Attributes"]
        return item

    def last_number(self, operator_id: str, year: int) -> int | None:
        """The last `EcritureNum` handed out in fiscal year `year` (None: none yet)."""
        item = self._table.table.get_item(
            Key=keys.entry_number_counter(operator_id, year), ConsistentRead=True
        ).get("Item")
        return int(item["last"]) if item else None

    def numbers_given(self, operator_id: str) -> bool:
        """Whether any `EcritureNum` of the operator was handed out."""
        key = keys.entry_numbers_given(operator_id)
        return self._table.get(key["PK"], key["SK"], consistent=True) is not None

    def no_numbers_check(self, operator_id: str) -> dict[str, Any]:
        """A transaction item that fails once any `EcritureNum` was handed out."""
        return {
            "ConditionCheck": {
                "TableName": self._table.name,
                "Key": keys.entry_numbers_given(operator_id),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def hand_out_numbers(
        self,
        operator_id: str,
        year: int,
        last: int | None,
        numbers: list[tuple[str, str, int]],
        guard: dict[str, Any] | None = None,
    ) -> None:
        """Write `(entry_id, month, number)` for entries numbered `last + 1` onwards, in
        transactions of up to 97 entries that each move the year's counter on from the
        value the previous one left (from `last`, None for a year without a counter),
        mark the operator as numbered and hold `guard` (the check that the fiscal year
        the numbers were computed for is still the operator's).
        Raises NumbersMoved when the counter moved, an entry already has its number or
        the guard failed: the transactions before stay written (each is whole), nothing
        after is."""
        size = MAX_TRANSACTION_ITEMS - 3
        counter = keys.entry_number_counter(operator_id, year)
        given = {
            "Update": {
                "TableName": self._table.name,
                "Key": keys.entry_numbers_given(operator_id),
                "UpdateExpression": "SET #y = if_not_exists(#y, :y)",
                "ExpressionAttributeNames": {"#y": "first_year"},
                "ExpressionAttributeValues": {":y": year},
            }
        }
        checks = [given, *([guard] if guard else [])]
        for start in range(0, len(numbers), size):
            chunk = numbers[start : start + size]
            moved = {
                "Update": {
                    "TableName": self._table.name,
                    "Key": counter,
                    "UpdateExpression": "SET #last = :new",
                    "ConditionExpression": (
                        "attribute_not_exists(PK)" if last is None else "#last = :old"
                    ),
                    "ExpressionAttributeNames": {"#last": "last"},
                    "ExpressionAttributeValues": {
                        ":new": chunk[-1][2],
                        **({} if last is None else {":old": last}),
                    },
                }
            }
            puts = [
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": {
                            **keys.key(keys.entry_numbers_pk(operator_id, month), entry_id),
                            "num": number,
                        },
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
                for entry_id, month, number in chunk
            ]

            def taken(reasons: list[str]) -> None:
                raise NumbersMoved(f"{operator_id} {year}")

            self._table.transact([moved, *checks, *puts], on_cancel=taken)
            last = chunk[-1][2]

    def numbers(self, operator_id: str, month: str) -> dict[str, int]:
        """The `EcritureNum` handed out to the entries dated in `month`."""
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.entry_numbers_pk(operator_id, month)},
            ConsistentRead=True,
        )
        return {str(item["SK"]): int(item["num"]) for item in items}
