"""Routes of the network catalogue."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, field_validator

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.domain.catalogue import (
    Closure,
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
from chalicelib.services import catalogue

bp = Blueprint(__name__)


class RelayFilters(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    category: RelayCategory | None = None
    near: str | None = None

    @field_validator("near")
    @classmethod
    def _near(cls, value: str | None) -> str | None:
        if value is not None:
            parse_near(value)
        return value

    def location(self) -> Location | None:
        return parse_near(self.near) if self.near else None


def _items(items: list[Any]) -> dict[str, Any]:
    return {"items": items, "next_cursor": None}


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
)
def create_operator(call: Call) -> Any:
    call.principal.require_admin()
    return catalogue.create_operator(call.ctx, call.body)


@endpoint(
    bp,
    "/v1/operators",
    "GET",
    summary="List operators",
    tag="catalogue",
    response=list[Operator],
    errors=(403,),
)
def list_operators(call: Call) -> Any:
    call.principal.require_books_access()
    return _items(catalogue.list_operators(call.ctx))


@endpoint(
    bp,
    "/v1/operators/{operator_id}",
    "GET",
    summary="Read an operator",
    tag="catalogue",
    response=Operator,
    errors=(403, 404),
)
def get_operator(call: Call) -> Any:
    call.principal.require_books_access()
    return catalogue.get_operator(call.ctx, call.params["operator_id"])


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
)
def create_relay(call: Call) -> Any:
    call.principal.require_admin()
    return catalogue.create_relay(call.ctx, call.body)


@endpoint(
    bp,
    "/v1/relays",
    "GET",
    summary="List relays, optionally nearest first",
    tag="catalogue",
    auth="public",
    query=RelayFilters,
    errors=(422,),
)
def list_relays(call: Call) -> Any:
    filters: RelayFilters = call.query
    return _items(catalogue.list_relays(call.ctx, filters.category, filters.location()))


@endpoint(
    bp,
    "/v1/relays/{relay_id}",
    "GET",
    summary="A relay with its resources",
    tag="catalogue",
    auth="public",
    errors=(404,),
)
def get_relay(call: Call) -> Any:
    return catalogue.get_relay(call.ctx, call.params["relay_id"])


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
)
def create_resource(call: Call) -> Any:
    call.principal.require_admin()
    return catalogue.create_resource(call.ctx, call.params["relay_id"], call.body)


@endpoint(
    bp,
    "/v1/relays/{relay_id}/closures",
    "POST",
    summary="Close a relay for a day (cancels that day's bookings)",
    tag="catalogue",
    body=NewClosure,
    response=Closure,
    status=201,
    idempotent=True,
    errors=(403, 404, 409, 422),
)
def create_closure(call: Call) -> Any:
    return catalogue.close_relay_day(call.ctx, call.principal, call.params["relay_id"], call.body)


@endpoint(
    bp,
    "/v1/products",
    "GET",
    summary="Network products (credit packs, memberships)",
    tag="catalogue",
    auth="public",
    response=list[Product],
)
def list_products(call: Call) -> Any:
    return _items(catalogue.list_products(call.ctx))


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
)
def create_product(call: Call) -> Any:
    call.principal.require_admin()
    return catalogue.create_product(call.ctx, call.body)
