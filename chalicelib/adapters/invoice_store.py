"""Invoices, credit notes and ledger lines in the table.

Per operator and year one head item holds the last number and hash; issuing is
one transaction: move the head from n to n+1 (conditioned on n), put document
n+1, claim its source (payment or refund id), put its ledger lines. Documents are
stored as their exact JSON text, so the hash chain can be recomputed byte for byte.
No update or delete path exists for documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table
from chalicelib.adapters.period_store import PeriodMoved
from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import GENESIS_HASH
from chalicelib.domain.ledger import JOURNAL_LABELS, Journal, LedgerLine


class HeadMoved(Exception):
    """Another document took the number meanwhile: read the head again."""


class SourceTaken(Exception):
    """This payment or refund already has its document."""


class EntryWritten(Exception):
    """This ledger entry is already in the books."""


@dataclass(frozen=True)
class BookedPeriods:
    """Where a document is booked: its sales entry's month, the month its VAT counts in,
    and the checks that these months (and its ledger's) are still open."""

    period: str | None = None
    vat_period: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)

    def attributes(self) -> dict[str, str]:
        found = {"period": self.period, "vat_period": self.vat_period}
        return {k: v for k, v in found.items() if v}


class InvoiceStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def head(self, operator_id: str, year: int) -> tuple[int, str]:
        item = self._table.get_key(keys.document_head(operator_id, year))
        if not item:
            return 0, GENESIS_HASH
        return int(item["last_number"]), str(item["last_hash"])

    def years(self, operator_id: str) -> list[int]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.document_heads_pk(operator_id)},
        )
        return sorted(int(i["SK"]) for i in items)

    def by_source(self, source: str) -> str | None:
        item = self._table.get_key(keys.document_source(source))
        return str(item["document_id"]) if item else None

    def issue(
        self,
        document: dict[str, Any],
        year: int,
        sequence: int,
        source: str,
        ledger: list[LedgerLine],
        periods: BookedPeriods | None = None,
    ) -> None:
        """`periods`: the months the document is booked in and the period checks that
        must hold in the same transaction (a closed month raises `PeriodMoved`)."""
        typed = Document.of(document)
        operator_id = typed.operator_id
        booked = periods or BookedPeriods()
        head_update: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": keys.document_head(operator_id, year),
            "UpdateExpression": "SET last_number = :n, last_hash = :h",
            "ExpressionAttributeValues": {":n": sequence, ":h": typed.hash},
        }
        if sequence == 1:
            head_update["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            head_update["ConditionExpression"] = "last_number = :previous"
            head_update["ExpressionAttributeValues"][":previous"] = sequence - 1
        items = [
            {"Update": head_update},
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": {
                        **self._document_item(document, year, sequence),
                        **booked.attributes(),
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": {
                        **keys.document_source(source),
                        "document_id": typed.id,
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            *[
                {"Put": {"TableName": self._table.name, "Item": _ledger_item(line, i)}}
                for i, line in enumerate(ledger)
            ],
            *booked.checks,
        ]

        def explain(reasons: list[str]) -> None:
            if reasons[2] == "ConditionalCheckFailed":
                raise SourceTaken(source)
            if "ConditionalCheckFailed" in reasons[len(items) - len(booked.checks) :]:
                raise PeriodMoved(operator_id)
            raise HeadMoved()

        self._table.transact(items, on_cancel=explain)

    def add_ledger(self, lines: list[LedgerLine], checks: list[dict[str, Any]]) -> bool:
        """Ledger lines that come with no document (payouts, fees, transfers), in one
        transaction with `checks` (open periods) and a claim of each entry, so an entry
        is written once even when a retry would date it elsewhere. False: already written.
        Raises `PeriodMoved` when a checked period closed meanwhile."""
        if not lines:
            return True
        entries = sorted({(line.operator_id, line.entry_id) for line in lines})
        claims = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": {**keys.ledger_entry_claim(operator, entry), "entity": "claim"},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for operator, entry in entries
        ]
        puts = [
            {"Put": {"TableName": self._table.name, "Item": _ledger_item(line, i)}}
            for i, line in enumerate(lines)
        ]
        items = [*claims, *puts, *checks]
        if len(items) > 100:
            raise ValueError(f"{len(items)} items: too many for one transaction")

        def explain(reasons: list[str]) -> None:
            if "ConditionalCheckFailed" in reasons[: len(claims)]:
                raise EntryWritten()
            raise PeriodMoved(lines[0].operator_id)

        try:
            self._table.transact(items, on_cancel=explain)
        except EntryWritten:
            return False
        return True

    def entry_written(self, operator_id: str, entry_id: str) -> bool:
        """Whether `add_ledger` wrote that entry (its claim exists)."""
        return self._table.get_key(keys.ledger_entry_claim(operator_id, entry_id)) is not None

    def ledger_month(self, operator_id: str, month: str) -> list[LedgerLine]:
        """The lines dated in `month` (YYYY-MM), in key order."""
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :month)",
            ExpressionAttributeValues={
                ":pk": keys.ledger_pk(operator_id, int(month[:4])),
                ":month": month,
            },
            ConsistentRead=True,
        )
        return [_ledger_line(json.loads(i["body"])) for i in items]

    def booked_documents(self, operator_id: str, year: int) -> list[dict[str, Any]]:
        """A year's documents as `{number, body, period, vat_period}` (the months they
        were booked in; documents issued before periods existed have none)."""
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.documents_pk(operator_id, year)},
            ConsistentRead=True,
        )
        return [
            {
                "number": str(i["number"]),
                "body": str(i["body"]),
                "period": i.get("period"),
                "vat_period": i.get("vat_period"),
            }
            for i in items
        ]

    def get(self, operator_id: str, year: int, sequence: int) -> dict[str, Any] | None:
        item = self._table.get(keys.documents_pk(operator_id, year), keys.document_sk(sequence))
        return json.loads(item["body"]) if item else None

    def raw_documents(self, operator_id: str, year: int) -> list[tuple[str, str]]:
        """(number, stored JSON text) of a year's documents, in number order."""
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.documents_pk(operator_id, year)},
            ConsistentRead=True,
        )
        return [(str(i["number"]), str(i["body"])) for i in items]

    def page(
        self,
        *,
        member_id: str | None,
        operator_id: str | None,
        span: tuple[str, str],
        doc_type: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        if member_id:
            index, pk, prefix = "GSI1", keys.member_pk(member_id), keys.MEMBER_INVOICE_PREFIX
        else:
            index, pk, prefix = "GSI2", keys.operator_documents_pk(str(operator_id)), ""
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": f"{index}PK = :pk AND {index}SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": pk,
                ":low": prefix + span[0],
                ":high": prefix + span[1] + "~",
            },
        }
        if doc_type:
            query["FilterExpression"] = "doc_type = :type"
            query["ExpressionAttributeValues"][":type"] = doc_type
        items, next_cursor = self._table.query_page(limit, cursor, **query)
        return [json.loads(i["body"]) for i in items], next_cursor

    def ledger(self, operator_id: str, year: int) -> list[LedgerLine]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.ledger_pk(operator_id, year)},
            ConsistentRead=True,
        )
        return [_ledger_line(json.loads(i["body"])) for i in items]

    def _document_item(self, document: dict[str, Any], year: int, sequence: int) -> dict[str, Any]:
        typed = Document.of(document)
        item = {
            "PK": keys.documents_pk(typed.operator_id, year),
            "SK": keys.document_sk(sequence),
            "entity": "document",
            "id": typed.id,
            "number": typed.number,
            "doc_type": typed.type,
            "issued_at": typed.issued_at,
            "GSI2PK": keys.operator_documents_pk(typed.operator_id),
            "GSI2SK": keys.operator_document_sk(typed.issued_on, typed.number),
            # the text as issued (its key order too): the chain is recomputed from it
            "body": json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        }
        if typed.member_id:
            item["GSI1PK"] = keys.member_pk(typed.member_id)
            item["GSI1SK"] = keys.member_invoice_sk(typed.issued_on, typed.number)
        return item


def _ledger_item(line: LedgerLine, index: int) -> dict[str, Any]:
    body = {
        "entry_id": line.entry_id,
        "journal": str(line.journal),
        "entry_date": line.entry_date.isoformat(),
        "account": line.account,
        "account_label": line.account_label,
        "label": line.label,
        "piece_ref": line.piece_ref,
        "piece_date": line.piece_date.isoformat(),
        "debit": line.debit,
        "credit": line.credit,
        "aux_account": line.aux_account,
        "aux_label": line.aux_label,
        "recorded_at": line.recorded_at.isoformat() if line.recorded_at else None,
        "operator_id": line.operator_id,
    }
    if line.journal_label and line.journal_label != JOURNAL_LABELS.get(line.journal):
        body["journal_label"] = line.journal_label  # an operator's own journal code
    if line.letter_with:
        body["letter_with"] = line.letter_with
    return {
        "PK": keys.ledger_pk(line.operator_id, line.entry_date.year),
        "SK": keys.ledger_sk(line.entry_date.isoformat(), line.entry_id, index),
        "entity": "ledger",
        "body": json.dumps(body, ensure_ascii=False),
    }


def _journal(code: str) -> str:
    """A default journal code as its `Journal` member, an operator's own code as is."""
    return Journal(code) if code in JOURNAL_CODES else code


JOURNAL_CODES = frozenset(j.value for j in Journal)


def _ledger_line(body: dict[str, Any]) -> LedgerLine:
    return LedgerLine(
        entry_id=body["entry_id"],
        journal=_journal(body["journal"]),
        journal_label=body.get("journal_label", ""),
        letter_with=body.get("letter_with", ""),
        entry_date=date.fromisoformat(body["entry_date"]),
        account=body["account"],
        account_label=body["account_label"],
        label=body["label"],
        piece_ref=body["piece_ref"],
        piece_date=date.fromisoformat(body["piece_date"]),
        debit=int(body["debit"]),
        credit=int(body["credit"]),
        aux_account=body["aux_account"],
        aux_label=body["aux_label"],
        operator_id=body.get("operator_id", ""),
        recorded_at=datetime.fromisoformat(body["recorded_at"]) if body["recorded_at"] else None,
    )
