"""Use cases of the network catalogue: operators, relays, resources, closures, products."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.catalogue import (
    NewOperator,
    NewProduct,
    NewRelay,
    NewResource,
    Operator,
    Product,
    Relay,
    RelayCategory,
    Resource,
)
from chalicelib.domain.geo import Location, distance_km
from chalicelib.domain.identifiers import new_id
from chalicelib.errors import NotFound
from chalicelib.services.context import Context


def create_operator(ctx: Context, new: NewOperator) -> Operator:
    operator = Operator(**new.model_dump(), id=new_id("op"), created_at=ctx.clock.now())
    ctx.catalogue_store.add_operator(operator)
    ctx.catalogue.invalidate()
    return operator


def list_operators(ctx: Context) -> list[Operator]:
    return sorted(ctx.catalogue.get().operators.values(), key=lambda o: (o.name, o.id))


def get_operator(ctx: Context, operator_id: str) -> Operator:
    operator = ctx.catalogue.get().operators.get(operator_id)
    if operator is None:
        operator = ctx.catalogue.get(fresh=True).operators.get(operator_id)
    if operator is None:
        raise NotFound(f"No operator with id {operator_id!r}.")
    return operator


def create_relay(ctx: Context, new: NewRelay) -> dict[str, Any]:
    get_operator(ctx, new.operator_id)
    relay = Relay(**new.model_dump(), id=new_id("rly"), created_at=ctx.clock.now())
    ctx.catalogue_store.add_relay(relay)
    ctx.catalogue.invalidate()
    return relay_view(relay, [])


def list_relays(
    ctx: Context, category: RelayCategory | None, near: Location | None
) -> list[dict[str, Any]]:
    catalogue = ctx.catalogue.get()
    relays = [
        r
        for r in catalogue.relays.values()
        if r.active and (category is None or r.category == category)
    ]
    views = [relay_view(r, catalogue.resources_of(r.id)) for r in relays]
    if near is None:
        return sorted(views, key=lambda v: (v["name"], v["id"]))
    for view in views:
        here = Location(lat=view["location"]["lat"], lon=view["location"]["lon"])
        view["distance_km"] = round(distance_km(near, here), 2)
    return sorted(views, key=lambda v: (v["distance_km"], v["id"]))


def get_relay(ctx: Context, relay_id: str) -> dict[str, Any]:
    relay = ctx.catalogue.relay(relay_id)
    return relay_view(relay, ctx.catalogue.get().resources_of(relay_id))


def relay_view(relay: Relay, resources: list[Resource]) -> dict[str, Any]:
    view = relay.model_dump(mode="json")
    view["resources"] = [r.model_dump(mode="json") for r in resources]
    return view


def create_resource(ctx: Context, relay_id: str, new: NewResource) -> Resource:
    ctx.catalogue.relay(relay_id)
    resource = Resource(
        **new.model_dump(), id=new_id("res"), relay_id=relay_id, created_at=ctx.clock.now()
    )
    ctx.catalogue_store.add_resource(resource)
    ctx.catalogue.invalidate()
    return resource


def list_products(ctx: Context) -> list[Product]:
    products = [p for p in ctx.catalogue.get().products.values() if p.active]
    return sorted(products, key=lambda p: (p.kind, p.name, p.id))


def create_product(ctx: Context, new: NewProduct) -> Product:
    get_operator(ctx, new.operator_id)
    fields = new.model_dump(exclude={"price"})
    product = Product(
        **fields,
        price=new.price.to_price().to_dict(),
        id=new_id("prd"),
        created_at=ctx.clock.now(),
    )
    ctx.catalogue_store.add_product(product)
    ctx.catalogue.invalidate()
    return product
