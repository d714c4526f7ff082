"""Routes of the network catalogue."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.catalogue_edits import versioned
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.queries import Near, PageQuery
from chalicelib.api.schemas import ClosureCreated, RelayOut
from chalicelib.domain.catalogue import (
    NewClosure,
    NewOperator,
    NewProduct,
    NewRelay,
    NewResource,
    Operator,
    Product,
    RelayCategory,
    Resource,
)
from chalicelib.domain.geo import Location, parse_near
from chalicelib.services import catalogue, catalogue_edits, closures
from chalicelib.services.paging import page_list

bp = Blueprint(__name__)


class RelayFilters(PageQuery):
    category: RelayCategory | None = Field(default=None, description="Only relays of this kind.")
    near: Near | None = None

    def location(self) -> Location | None:
        return parse_near(self.near) if self.near else None


def _page(items: list[Any], query: PageQuery, scope: str) -> dict[str, Any]:
    page, next_cursor = page_list(items, query.limit, query.cursor, scope)
    return {"items": page, "next_cursor": next_cursor}


@endpoint(
    bp,
    "/v1/operators",
    "POST",
    summary="Create an operator (legal entity)",
    tag="catalogue",
    body=NewOperator,
    response=Operator,
    status=201,
    idempotent=True,
    errors=(403, 409, 422),
    role="admin",
)
def create_operator(call: Call) -> Any:
    return catalogue.create_operator(call.ctx, call.body, call.principal)


@endpoint(
    bp,
    "/v1/operators",
    "GET",
    summary="List operators",
    tag="catalogue",
    query=PageQuery,
    response=list[Operator],
    errors=(403,),
    role="books",
)
def list_operators(call: Call) -> Any:
    return _page(catalogue.list_operators(call.ctx), call.query, "operators")


@endpoint(
    bp,
    "/v1/operators/{operator_id}",
    "GET",
    summary="Read an operator",
    tag="catalogue",
    response=Operator,
    errors=(403, 404),
    role="books",
)
def get_operator(call: Call) -> Any:
    return versioned(catalogue_edits.get_operator(call.ctx, call.params["operator_id"]))


@endpoint(
    bp,
    "/v1/relays",
    "POST",
    summary="Create a relay",
    tag="catalogue",
    body=NewRelay,
    status=201,
    idempotent=True,
    errors=(403, 404, 422),
    role="admin",
    response=RelayOut,
)
def create_relay(call: Call) -> Any:
    return catalogue.create_relay(call.ctx, call.body, call.principal)


@endpoint(
    bp,
    "/v1/relays",
    "GET",
    summary="List relays, optionally nearest first",
    tag="catalogue",
    auth="public",
    query=RelayFilters,
    errors=(422,),
    response=list[RelayOut],
)
def list_relays(call: Call) -> Any:
    filters: RelayFilters = call.query
    relays = catalogue.list_relays(call.ctx, filters.category, filters.location())
    return _page(relays, filters, f"relays|{filters.category}|{filters.near}")


@endpoint(
    bp,
    "/v1/relays/{relay_id}",
    "GET",
    summary="A relay with its resources",
    tag="catalogue",
    auth="public",
    errors=(404,),
    response=RelayOut,
)
def get_relay(call: Call) -> Any:
    return versioned(catalogue_edits.get_relay(call.ctx, call.params["relay_id"]))


@endpoint(
    bp,
    "/v1/relays/{relay_id}/resources",
    "POST",
    summary="Add a bookable resource",
    tag="catalogue",
    body=NewResource,
    response=Resource,
    status=201,
    idempotent=True,
    errors=(403, 404, 422),
    role="admin",
)
def create_resource(call: Call) -> Any:
    return catalogue.create_resource(call.ctx, call.params["relay_id"], call.body, call.principal)


@endpoint(
    bp,
    "/v1/relays/{relay_id}/closures",
    "POST",
    summary="Close a relay for a day (cancels that day's bookings)",
    tag="catalogue",
    body=NewClosure,
    response=ClosureCreated,
    status=201,
    idempotent=True,
    errors=(403, 404, 409, 422),
    role="staff",
)
def create_closure(call: Call) -> Any:
    return closures.create(call.ctx, call.principal, call.params["relay_id"], call.body)


@endpoint(
    bp,
    "/v1/products",
    "GET",
    summary="Network products (credit packs, memberships)",
    tag="catalogue",
    query=PageQuery,
    auth="public",
    response=list[Product],
)
def list_products(call: Call) -> Any:
    return _page(catalogue.list_products(call.ctx), call.query, "products")


@endpoint(
    bp,
    "/v1/products",
    "POST",
    summary="Create a product",
    tag="catalogue",
    body=NewProduct,
    response=Product,
    status=201,
    idempotent=True,
    errors=(403, 404, 422),
    role="admin",
)
def create_product(call: Call) -> Any:
    return catalogue.create_product(call.ctx, call.body, call.principal)
