"""Use cases of the network catalogue: operators, relays, resources, closures, products."""

from __future__ import annotations

from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.audit import created
from chalicelib.domain.catalogue import (
    NewOperator,
    NewProduct,
    NewRelay,
    NewResource,
    Operator,
    Product,
    ProductKind,
    Relay,
    RelayCategory,
    Resource,
    product_as_sold,
)
from chalicelib.domain.editing import as_json
from chalicelib.domain.geo import Location, distance_km
from chalicelib.domain.identifiers import new_id
from chalicelib.domain.timezones import PARIS
from chalicelib.errors import InvalidState, NotFound, ValidationFailed
from chalicelib.services import audit
from chalicelib.services.context import Context
from chalicelib.services.paging import Sorted


def _audit_created(
    ctx: Context, by: Principal | None, entity: str, model: Any, **where: str | None
) -> None:
    """The creation's audit entry, right after it (`by` is None for seeding scripts)."""
    if by is not None:
        changes = created(as_json(model))
        audit.record(ctx, by, "create", entity, model.id, changes=changes, **where)


def create_operator(ctx: Context, new: NewOperator, by: Principal | None = None) -> Operator:
    now = ctx.clock.now()
    this_month = now.astimezone(PARIS).strftime("%Y-%m")
    if new.accounting_start and new.accounting_start > this_month:
        raise ValidationFailed(
            "The first accounting period cannot be in the future.", field="accounting_start"
        )
    fields = {**new.model_dump(), "accounting_start": new.accounting_start or this_month}
    operator = Operator(**fields, id=new_id("op"), created_at=now)
    ctx.catalogue_store.add_operator(operator)
    ctx.catalogue.invalidate()
    _audit_created(ctx, by, "operator", operator, operator_id=operator.id)
    return operator


def list_operators(ctx: Context) -> list[Operator]:
    """By name then id: `page_list` resumes after the (name, id) of the last one served."""
    return Sorted(ctx.catalogue.get().operators.values(), key=lambda o: (o.name, o.id))


def get_operator(ctx: Context, operator_id: str) -> Operator:
    operator = ctx.catalogue.get().operators.get(operator_id)
    if operator is None:
        operator = ctx.catalogue.get(fresh=True).operators.get(operator_id)
    if operator is None:
        raise NotFound(f"No operator with id {operator_id!r}.")
    return operator


def create_relay(ctx: Context, new: NewRelay, by: Principal | None = None) -> dict[str, Any]:
    get_operator(ctx, new.operator_id)
    relay = Relay(**new.model_dump(), id=new_id("rly"), created_at=ctx.clock.now())
    ctx.catalogue_store.add_relay(relay)
    ctx.catalogue.invalidate()
    _audit_created(ctx, by, "relay", relay, operator_id=relay.operator_id, relay_id=relay.id)
    return relay_view(relay, [])


def list_relays(
    ctx: Context, category: RelayCategory | None, near: Location | None
) -> list[dict[str, Any]]:
    catalogue = ctx.catalogue.get()
    relays = [
        r
        for r in catalogue.relays.values()
        if catalogue.relay_in_service(r) and (category is None or r.category == category)
    ]
    views = [relay_view(r, catalogue.resources_of(r.id)) for r in relays]
    # Sorted by (name, id), or (distance_km, id) near a place: `page_list` resumes after
    # the key of the last relay served.
    if near is None:
        return Sorted(views, key=lambda v: (v["name"], v["id"]))
    for view in views:
        here = Location(lat=view["location"]["lat"], lon=view["location"]["lon"])
        view["distance_km"] = round(distance_km(near, here), 2)
    return Sorted(views, key=lambda v: (float(v["distance_km"]), v["id"]))


def relay_view(relay: Relay, resources: list[Resource]) -> dict[str, Any]:
    view = relay.model_dump(mode="json")
    view["resources"] = [r.model_dump(mode="json") for r in resources]
    return view


def create_resource(
    ctx: Context, relay_id: str, new: NewResource, by: Principal | None = None
) -> Resource:
    relay = ctx.catalogue.relay(relay_id)
    resource = Resource(
        **new.model_dump(), id=new_id("res"), relay_id=relay_id, created_at=ctx.clock.now()
    )
    ctx.catalogue_store.add_resource(resource)
    ctx.catalogue.invalidate()
    where = {"operator_id": relay.operator_id, "relay_id": relay_id}
    _audit_created(ctx, by, "resource", resource, **where)
    return resource


def product_for_sale(ctx: Context, product_id: str, kind: ProductKind) -> Product:
    """The product as stored now (not as a container's cached catalogue last saw it: a
    product deactivated, or repriced, a moment ago is not sold as it was), if it is on
    sale: NotFound, InvalidState (no longer sold) or ValidationFailed (the other kind)."""
    catalogue = ctx.catalogue.get(fresh=True)
    product = catalogue.products.get(product_id)
    if product is None:
        raise NotFound(f"No product with id {product_id!r}.")
    if not catalogue.product_on_sale(product):
        raise InvalidState("This product is no longer sold.")
    if product.kind is not kind:
        elsewhere = (
            "Memberships are taken out with POST /v1/memberships."
            if kind is ProductKind.credit_pack
            else "Credit packs are bought with POST /v1/purchases."
        )
        raise ValidationFailed(elsewhere, field="product_id")
    return product_as_sold(product, catalogue.operators.get(product.operator_id))


def list_products(ctx: Context) -> list[Product]:
    catalogue = ctx.catalogue.get()
    products = [
        product_as_sold(p, catalogue.operators.get(p.operator_id))
        for p in catalogue.products.values()
        if catalogue.product_on_sale(p)
    ]
    return Sorted(products, key=lambda p: (p.kind.value, p.name, p.id))


def product_view(ctx: Context, product: Product) -> Product:
    """A product as served to anyone (its own GET, PATCH and creation answers): priced
    with its seller's VAT regime."""
    return product_as_sold(product, ctx.catalogue.get().operators.get(product.operator_id))


def create_product(ctx: Context, new: NewProduct, by: Principal | None = None) -> Product:
    seller = get_operator(ctx, new.operator_id)
    fields = new.model_dump(exclude={"price"})
    product = Product(
        **fields,
        price=new.price.to_price().to_dict(),
        id=new_id("prd"),
        created_at=ctx.clock.now(),
    )
    ctx.catalogue_store.add_product(product)
    ctx.catalogue.invalidate()
    _audit_created(ctx, by, "product", product, operator_id=product.operator_id)
    return product_as_sold(product, seller)
