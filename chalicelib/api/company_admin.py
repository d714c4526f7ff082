"""Routes administering company accounts: list, edit (If-Match), remove an employee."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.catalogue_edits import versioned
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import PageQuery
from chalicelib.domain.catalogue_patches import CompanyPatch
from chalicelib.domain.company import Company, CompanyDetail
from chalicelib.services import companies, company_admin

bp = Blueprint(__name__)


@endpoint(
    bp,
    "/v1/companies",
    "GET",
    summary="List company accounts",
    tag="companies",
    query=PageQuery,
    response=list[Company],
    errors=(403, 422),
    role="admin",
)
def list_companies(call: Call) -> Any:
    query: PageQuery = call.query
    items, next_cursor = company_admin.list_companies(call.ctx, query.limit, query.cursor)
    return {"items": items, "next_cursor": next_cursor}


@endpoint(
    bp,
    "/v1/companies/{company_id}",
    "PATCH",
    summary="Edit a company account's billing fields or active (If-Match)",
    tag="companies",
    body=CompanyPatch,
    response=CompanyDetail,
    errors=(403, 404, 412, 422, 428),
    role="admin",
)
def patch_company(call: Call) -> Any:
    # If-Match is read once the company is found (an unknown id: 404, not 428).
    company = company_admin.patch_company(
        call.ctx, call.principal, call.params["company_id"], call.headers.get("if-match"), call.body
    )
    return versioned(companies.with_members(call.ctx, company))


@endpoint(
    bp,
    "/v1/companies/{company_id}/members/{member_id}",
    "DELETE",
    summary="Remove an employee; their company bookings from today on are cancelled",
    tag="companies",
    status=204,
    produces="text/plain",
    errors=(403, 404),
    role="admin",
)
def remove_member(call: Call) -> Any:
    company_admin.remove_member(
        call.ctx, call.principal, call.params["company_id"], call.params["member_id"]
    )
    return Response(body="", status_code=204)
