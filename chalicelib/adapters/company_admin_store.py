"""Company accounts for administrators: listing (GSI1 `COMPANIES`, by id) and removing an
employee (both sides of the link, conditioned on it, with the audit entry)."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys
from chalicelib.domain.company import Company
from chalicelib.errors import NotFound

COMPANIES = keys.COMPANIES_PK


class CompanyAdminStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def page(self, limit: int, cursor: str | None) -> tuple[list[Company], str | None]:
        items, next_cursor = self._table.query_page(
            limit,
            cursor,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": COMPANIES},
        )
        return [Company.model_validate(strip_keys(i)) for i in items], next_cursor

    def unlink(self, company_id: str, member_id: str, audit_item: dict[str, Any]) -> None:
        """Detach the member from the company, once: NotFound if they were not attached."""
        link = {
            "Delete": {
                "TableName": self._table.name,
                "Key": keys.key(keys.member_pk(member_id), keys.MEMBER_COMPANY_SK),
                "ConditionExpression": "company_id = :c",
                "ExpressionAttributeValues": {":c": company_id},
            }
        }
        employee = {
            "Delete": {
                "TableName": self._table.name,
                "Key": keys.key(keys.company_pk(company_id), keys.member_pk(member_id)),
                "ConditionExpression": "attribute_exists(PK)",
            }
        }

        def explain(reasons: list[str]) -> None:
            raise NotFound("This member is not an employee of this company.")

        self._table.transact([link, employee, audit_item], on_cancel=explain)
