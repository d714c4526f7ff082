"""Routes of company accounts, and of payments recorded against company invoices."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.catalogue_edits import versioned
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.domain.company import (
    Company,
    CompanyDetail,
    CompanyMember,
    CompanyStatement,
    NewCompany,
    NewCompanyMember,
    NewInvoicePayment,
    RecordedPayment,
    StatementQuery,
)
from chalicelib.services import companies, company_payments

bp = Blueprint(__name__)


@endpoint(
    bp,
    "/v1/companies",
    "POST",
    summary="Create a company account that pays for its employees",
    tag="companies",
    body=NewCompany,
    response=Company,
    status=201,
    idempotent=True,
    errors=(403, 404, 409, 422),
    role="admin",
)
def create_company(call: Call) -> Any:
    return companies.create_company(call.ctx, call.principal, call.body)


@endpoint(
    bp,
    "/v1/companies/{company_id}",
    "GET",
    summary="Read a company account and its members",
    tag="companies",
    response=CompanyDetail,
    errors=(403, 404),
    role="books",
)
def get_company(call: Call) -> Any:
    return versioned(companies.company_detail(call.ctx, call.principal, call.params["company_id"]))


@endpoint(
    bp,
    "/v1/companies/{company_id}/members",
    "POST",
    summary="Attach a member to a company account (payment: company)",
    tag="companies",
    body=NewCompanyMember,
    response=CompanyMember,
    status=201,
    idempotent=True,
    errors=(403, 404, 409, 422),
    role="admin",
)
def add_member(call: Call) -> Any:
    return companies.add_member(
        call.ctx, call.principal, call.params["company_id"], call.body.member_id
    )


@endpoint(
    bp,
    "/v1/companies/{company_id}/statement",
    "GET",
    summary="A company's bookings of a month and their consolidated invoice",
    tag="companies",
    query=StatementQuery,
    response=CompanyStatement,
    errors=(403, 404, 422),
    role="books",
)
def statement(call: Call) -> Any:
    query: StatementQuery = call.query
    return companies.statement(call.ctx, call.params["company_id"], *query.year_month())


@endpoint(
    bp,
    "/v1/invoices/{invoice_id}/payments",
    "POST",
    summary="Record a bank transfer or SEPA debit received for an invoice due by transfer "
    "(a company's, or a settlement between operators)",
    tag="invoices",
    body=NewInvoicePayment,
    response=RecordedPayment,
    status=201,
    idempotent=True,
    errors=(403, 404, 409, 422),
    role="books",
)
def record_payment(call: Call) -> Any:
    body: NewInvoicePayment = call.body
    return company_payments.record_company_payment(
        call.ctx,
        call.principal,
        call.params["invoice_id"],
        amount=body.amount,
        method=body.method,
        paid_at=body.paid_at,
        reference=body.reference,
    )
