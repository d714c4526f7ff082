"""Company accounts in the table: companies, their employees, their bookings per month,
and the payments received for their invoices.

- Company: `COMPANY#{id}` / `COMPANY`; GSI1 `COMPANIES` / `{id}`, so the monthly job
  lists every company with one Query.
- SIREN claim: `SIREN#{siren}` / `COMPANY#{operator}`, one account per SIREN and
  invoicing operator (beside the operators' own claim, `SIREN#{siren}` / `SIREN`).
- Employee: `COMPANY#{id}` / `MEMBER#{sub}`: a company and its employees in one Query.
- Membership link: `MEMBER#{sub}` / `COMPANY` → company id; one company per member.
- Month index: `COMPANYBOOKINGS#{company}#{yyyy-mm}` / `{date}#{booking}`, written in
  the booking transaction and deleted in the cancelling one: a company-month is one
  exact Query.
- Payment state: `INVOICEPAY#{invoice}` / `STATE`, amount due and paid; GSI1
  `UNPAID#{operator}` / `{issued date}#{number}` while not paid in full (a sparse index:
  an operator's unpaid company invoices are one Query).
- Payment: `INVOICEPAY#{invoice}` / `PAYMENT#{reference}`; GSI2
  `COMPANYPAYMENTS#{operator}` / `{paid date}#{id}` (a month's receipts, for VAT).

The invoice document itself is never touched: what was paid lives beside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item
from chalicelib.domain.booking import Booking, BookingStatus
from chalicelib.domain.company import Company, CompanyMember, month_key
from chalicelib.domain.documents import Document
from chalicelib.errors import AlreadyExists, NotFound

BATCH_GET_MAX = 100


class PaymentRecorded(Exception):
    """A payment with this reference is already recorded for the invoice."""


class PaymentStateMoved(Exception):
    """Another payment, or a credit note, changed the invoice's paid or due amount
    meanwhile (or its VAT month closed): read it again."""


def month_index_pk(company_id: str, year: int, month: int) -> str:
    return keys.company_bookings_pk(company_id, month_key(year, month))


class CompanyStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- companies -----------------------------------------------------------------
    def add(self, company: Company) -> None:
        """Insert a company; its SIREN is claimed for its operator in the same transaction."""
        item = {
            **keys.company(company.id),
            "GSI1PK": keys.COMPANIES_PK,
            "GSI1SK": company.id,
            "entity": "company",
            **to_item(company.model_dump()),
        }
        claim = {
            **keys.company_siren(company.siren, company.operator_id),
            "company_id": company.id,
        }
        items = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": it,
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for it in (item, claim)
        ]

        def refuse(reasons: list[str]) -> None:
            raise AlreadyExists(
                f"SIREN {company.siren} already has a company account with this operator."
            )

        self._table.transact(items, on_cancel=refuse)

    def get(self, company_id: str) -> Company | None:
        item = self._table.get_key(keys.company(company_id))
        return Company.model_validate(strip_keys(item)) if item else None

    def all(self) -> Iterator[Company]:
        """Every company, by id: one Query on the `COMPANIES` partition of GSI1."""
        for item in self._table.query_all(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": keys.COMPANIES_PK},
        ):
            yield Company.model_validate(strip_keys(item))

    # -- employees -----------------------------------------------------------------
    def add_member(self, company_id: str, member_id: str, now: datetime) -> CompanyMember:
        """Attach a member; again to the same company changes nothing, to another is refused."""
        stamp = now.isoformat()
        link = {
            "Update": {
                "TableName": self._table.name,
                "Key": keys.key(keys.member_pk(member_id), keys.MEMBER_COMPANY_SK),
                "UpdateExpression": "SET company_id = :c, added_at = if_not_exists(added_at, :t)",
                "ConditionExpression": "attribute_not_exists(PK) OR company_id = :c",
                "ExpressionAttributeValues": {":c": company_id, ":t": stamp},
            }
        }
        employee = {
            "Update": {
                "TableName": self._table.name,
                "Key": keys.key(keys.company_pk(company_id), keys.member_pk(member_id)),
                "UpdateExpression": "SET entity = :e, company_id = :c, member_id = :m, "
                "added_at = if_not_exists(added_at, :t)",
                "ExpressionAttributeValues": {
                    ":e": "company_member",
                    ":c": company_id,
                    ":m": member_id,
                    ":t": stamp,
                },
            }
        }
        exists = {
            "ConditionCheck": {
                "TableName": self._table.name,
                "Key": keys.company(company_id),
                "ConditionExpression": "attribute_exists(PK)",
            }
        }

        def explain(reasons: list[str]) -> None:
            if reasons[0] == "ConditionalCheckFailed":
                raise NotFound(f"No company with id {company_id!r}.")
            raise AlreadyExists("This member already belongs to another company account.")

        self._table.transact([exists, link, employee], on_cancel=explain)
        item = self._table.get(keys.company_pk(company_id), keys.member_pk(member_id))
        assert item is not None
        return CompanyMember.model_validate(strip_keys(item))

    def members(self, company_id: str) -> list[CompanyMember]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :m)",
            ExpressionAttributeValues={
                ":pk": keys.company_pk(company_id),
                ":m": keys.MEMBER_PREFIX,
            },
        )
        return [CompanyMember.model_validate(strip_keys(i)) for i in items]

    def company_id_of(self, member_id: str) -> str | None:
        item = self._table.get(keys.member_pk(member_id), keys.MEMBER_COMPANY_SK)
        return str(item["company_id"]) if item else None

    # -- bookings per company and month ------------------------------------------------
    def company_booking_items(self, booking: Booking) -> list[dict[str, Any]]:
        """The `extra` items of the booking transaction (`BookingStore.create`): the
        company-month index entry. Nothing for a booking not paid by a company."""
        if not booking.company_id:
            return []
        item = {
            **self._index_key(booking),
            "entity": "company_booking",
            "booking_id": booking.id,
            "company_id": booking.company_id,
            "member_id": booking.member_id,
            "date": booking.date.isoformat(),
        }
        return [{"Put": {"TableName": self._table.name, "Item": item}}]

    def company_release_items(self, booking: Booking, to: BookingStatus) -> list[dict[str, Any]]:
        """The `extra` items of a release (`BookingStore.release`): a cancelled (or
        expired) company booking leaves the index; a no-show stays, it is billed."""
        if not booking.company_id or to not in (BookingStatus.cancelled, BookingStatus.expired):
            return []
        return [{"Delete": {"TableName": self._table.name, "Key": self._index_key(booking)}}]

    def booking_ids(self, company_id: str, year: int, month: int) -> list[str]:
        """Ids of the company's bookings dated in that month, in date order: one Query."""
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": month_index_pk(company_id, year, month)},
            ConsistentRead=True,
        )
        return [str(i["booking_id"]) for i in items]

    def bookings(self, booking_ids: list[str]) -> list[Booking]:
        """The bookings of these ids (BatchGetItem, 100 at a time), in the given order."""
        found: dict[str, Booking] = {}
        for start in range(0, len(booking_ids), BATCH_GET_MAX):
            wanted = [
                keys.booking(i) for i in dict.fromkeys(booking_ids[start : start + BATCH_GET_MAX])
            ]
            request: dict[str, Any] = {self._table.name: {"Keys": wanted, "ConsistentRead": True}}
            while request:
                response = self._table.resource.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table.name, []):
                    booking = Booking.model_validate(strip_keys(item))
                    found[booking.id] = booking
                request = response.get("UnprocessedKeys") or {}
        return [found[i] for i in dict.fromkeys(booking_ids) if i in found]

    def _index_key(self, booking: Booking) -> dict[str, str]:
        assert booking.company_id
        return {
            "PK": month_index_pk(booking.company_id, booking.date.year, booking.date.month),
            "SK": keys.company_booking_sk(booking.date.isoformat(), booking.id),
        }

    # -- payments of company invoices --------------------------------------------------
    def open_payment_state(self, invoice: dict[str, Any]) -> None:
        """The paid-amount record of a company invoice, created once (never reset)."""
        typed = Document.of(invoice)
        item = {
            "PK": keys.invoice_payments_pk(typed.id),
            "SK": keys.INVOICE_PAYMENT_STATE_SK,
            "entity": "invoice_payment_state",
            "GSI1PK": keys.unpaid_pk(typed.operator_id),
            "GSI1SK": keys.dated_sk(typed.issued_on, typed.number),
            "invoice_id": typed.id,
            "number": typed.number,
            "company_id": typed.company_id,
            "operator_id": typed.operator_id,
            "issued_at": typed.issued_at,
            "due_date": typed.payment.due_date,
            "amount_due": typed.totals.incl_vat,
            "amount_paid": 0,
            "status": "due",
        }
        try:
            self._table.table.put_item(
                Item=to_item(item), ConditionExpression="attribute_not_exists(PK)"
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return

    def payment_state(self, invoice_id: str) -> dict[str, Any] | None:
        item = self._table.get(keys.invoice_payments_pk(invoice_id), keys.INVOICE_PAYMENT_STATE_SK)
        return _state(item) if item else None

    def credit_notes_applied(self, invoice_id: str) -> list[str]:
        """The ids of the credit notes that lowered what a company invoice asks for."""
        item = self._table.get(keys.invoice_payments_pk(invoice_id), keys.INVOICE_PAYMENT_STATE_SK)
        return sorted((item or {}).get("credit_notes") or [])

    def payment(self, invoice_id: str, reference: str) -> dict[str, Any] | None:
        item = self._table.get(
            keys.invoice_payments_pk(invoice_id), keys.invoice_payment_sk(reference)
        )
        return strip_keys(item) if item else None

    def payments_of(self, invoice_id: str) -> list[dict[str, Any]]:
        """The payments recorded on a company invoice, oldest first (by day received)."""
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": keys.invoice_payments_pk(invoice_id),
                ":prefix": keys.invoice_payment_sk(""),
            },
            ConsistentRead=True,
        )
        payments = [strip_keys(item) for item in items]
        return sorted(payments, key=lambda p: (str(p.get("paid_on")), str(p.get("recorded_at"))))

    def record_payment(
        self,
        record: dict[str, Any],
        paid_before: int,
        amount_due: int,
        checks: list[dict[str, Any]] | None = None,
        extra: list[dict[str, Any]] | None = None,
    ) -> None:
        """Put the payment and move the paid amount from `paid_before`, in one transaction
        with `checks` (its VAT month still open) and `extra` (its audit entry); paid in
        full, the invoice leaves the unpaid index. Conditioned on both amounts read
        (`paid_before`, `amount_due`): the status is decided from them, and a credit note
        applied meanwhile (`apply_credit_note` lowers what is due) would make it wrong.
        Indexed by the day its VAT is declared (`vat_on`; older records: `paid_on`)."""
        paid_after = paid_before + int(record["amount"])
        full = paid_after >= amount_due
        status = "paid" if full else "partially_paid"
        item = {
            "PK": keys.invoice_payments_pk(record["invoice_id"]),
            "SK": keys.invoice_payment_sk(record["reference"]),
            "entity": "company_payment",
            "GSI2PK": keys.company_payments_pk(record["operator_id"]),
            "GSI2SK": keys.dated_sk(record.get("vat_on") or record["paid_on"], record["id"]),
            **to_item(record),
        }
        update = "SET amount_paid = :after, #status = :status"
        if full:
            update += " REMOVE GSI1PK, GSI1SK"
        items = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": keys.key(
                        keys.invoice_payments_pk(record["invoice_id"]),
                        keys.INVOICE_PAYMENT_STATE_SK,
                    ),
                    "UpdateExpression": update,
                    "ConditionExpression": "amount_paid = :before AND amount_due = :due",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":after": paid_after,
                        ":before": paid_before,
                        ":due": amount_due,
                        ":status": status,
                    },
                }
            },
            *(checks or []),
            *(extra or []),
        ]

        def explain(reasons: list[str]) -> None:
            if reasons[0] == "ConditionalCheckFailed":
                raise PaymentRecorded(record["reference"])
            raise PaymentStateMoved()  # paid or credited meanwhile, or its VAT month closing

        self._table.transact(items, on_cancel=explain)

    def apply_credit_note(self, invoice_id: str, credit_note_id: str, amount: int) -> None:
        """Lower what a company invoice asks for by a credit note issued against it, once
        per credit note (its id is kept in a set); an invoice the payments now cover in
        full becomes paid and leaves the unpaid index."""
        key = keys.key(keys.invoice_payments_pk(invoice_id), keys.INVOICE_PAYMENT_STATE_SK)
        applied = self._table.exceptions.ConditionalCheckFailedException  # a retry
        with contextlib.suppress(applied):
            self._table.table.update_item(
                Key=key,
                UpdateExpression="SET amount_due = amount_due - :amount ADD credit_notes :ids",
                ConditionExpression="attribute_exists(PK) AND NOT contains(credit_notes, :id)",
                ExpressionAttributeValues={
                    ":amount": amount,
                    ":ids": {credit_note_id},
                    ":id": credit_note_id,
                },
            )
        try:
            self._table.table.update_item(
                Key=key,
                UpdateExpression="SET #status = :paid REMOVE GSI1PK, GSI1SK",
                ConditionExpression="amount_paid >= amount_due AND #status <> :paid",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":paid": "paid"},
            )
        except self._table.exceptions.ConditionalCheckFailedException:
            return  # still something to pay, or already marked paid

    def unpaid(self, operator_id: str, low: str, high: str) -> list[dict[str, Any]]:
        """Company invoices of an operator not paid in full, issued between the two dates."""
        items = self._table.query_all(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk AND GSI1SK BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": keys.unpaid_pk(operator_id),
                ":low": low,
                ":high": f"{high}~",
            },
        )
        return [_state(i) for i in items]

    def payments_received(self, operator_id: str, low: str, high: str) -> list[dict[str, Any]]:
        """Payments of an operator's company invoices whose VAT is declared between the two
        dates (`vat_on`: the day received, or the first open day after a closed month)."""
        items = self._table.query_all(
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk AND GSI2SK BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": keys.company_payments_pk(operator_id),
                ":low": low,
                ":high": f"{high}~",
            },
        )
        return [strip_keys(i) for i in items]


def _state(item: dict[str, Any]) -> dict[str, Any]:
    state = strip_keys(item)
    due, paid = int(state["amount_due"]), int(state["amount_paid"])
    return {
        "invoice_id": state["invoice_id"],
        "number": state["number"],
        "company_id": state.get("company_id"),  # none on a settlement between operators
        "operator_id": state["operator_id"],
        "issued_at": state["issued_at"],
        "due_date": state.get("due_date"),
        "amount_due": due,
        "amount_paid": paid,
        "amount_remaining": max(due - paid, 0),
        "status": state["status"],
    }
