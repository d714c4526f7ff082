"""Catalogue items in the table.

Every operator, relay, resource and product also sits in one GSI1 partition,
`CATALOGUE`, so the whole network (a few hundred small items) loads in one Query.
Closures live with their relay and, as a marker, in the relay-day occupancy
partition that every booking transaction checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import Table, strip_keys, to_item
from chalicelib.domain.catalogue import (
    Closure,
    Operator,
    Product,
    Relay,
    Resource,
    product_on_sale,
    relay_in_service,
)
from chalicelib.errors import AlreadyExists


@dataclass
class Catalogue:
    """The whole network, as loaded from the table."""

    operators: dict[str, Operator] = field(default_factory=dict)
    relays: dict[str, Relay] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)

    def resources_of(self, relay_id: str) -> list[Resource]:
        found = [r for r in self.resources.values() if r.relay_id == relay_id]
        return sorted(found, key=lambda r: (r.kind.value, r.name, r.id))

    def relay_in_service(self, relay: Relay) -> bool:
        return relay_in_service(relay, self.operators.get(relay.operator_id))

    def product_on_sale(self, product: Product) -> bool:
        return product_on_sale(product, self.operators.get(product.operator_id))


_ENTITIES: dict[str, type[Any]] = {
    "operator": Operator,
    "relay": Relay,
    "resource": Resource,
    "product": Product,
}


def _catalogue_of(items: Iterable[dict[str, Any]]) -> Catalogue:
    catalogue = Catalogue()
    buckets: dict[str, dict[str, Any]] = {
        "operator": catalogue.operators,
        "relay": catalogue.relays,
        "resource": catalogue.resources,
        "product": catalogue.products,
    }
    for item in items:
        entity = item.get("entity", "")
        if entity in _ENTITIES:
            model = _ENTITIES[entity].model_validate(strip_keys(item))
            buckets[entity][model.id] = model
    return catalogue


class CatalogueStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def load(self) -> Catalogue:
        return _catalogue_of(
            self._table.query_all(
                IndexName="GSI1",
                KeyConditionExpression="GSI1PK = :pk",
                ExpressionAttributeValues={":pk": keys.CATALOGUE_PK},
            )
        )

    def load_relay(self, relay_id: str) -> Catalogue:
        """The relay and its resources as stored now: one consistent Query of its
        partition, from its item (SK `RELAY`) to its last resource (`RESOURCE#…`), which
        leaves its closures (`CLOSURE#…`, sorted before) out. Empty if there is none."""
        return _catalogue_of(
            self._table.query_all(
                KeyConditionExpression="PK = :pk AND SK BETWEEN :relay AND :last",
                ExpressionAttributeValues={
                    ":pk": keys.relay_pk(relay_id),
                    ":relay": keys.RELAY_SK,
                    ":last": f"{keys.resource_sk('')}~",
                },
                ConsistentRead=True,
            )
        )

    def add_operator(self, operator: Operator) -> None:
        """Insert an operator; its SIREN is claimed in the same transaction."""
        items = [
            self._put(keys.operator_pk(operator.id), keys.OPERATOR_SK, "operator", operator),
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": {
                        "PK": keys.siren_pk(operator.siren),
                        "SK": keys.SIREN_SK,
                        "operator_id": operator.id,
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]

        def refuse(reasons: list[str]) -> None:
            raise AlreadyExists(f"SIREN {operator.siren} is already used by another operator.")

        self._table.transact(items, on_cancel=refuse)

    def add_relay(self, relay: Relay) -> None:
        self._put_one(self._put(keys.relay_pk(relay.id), keys.RELAY_SK, "relay", relay))

    def add_resource(self, resource: Resource) -> None:
        self._put_one(
            self._put(
                keys.relay_pk(resource.relay_id),
                keys.resource_sk(resource.id),
                "resource",
                resource,
            )
        )

    def add_product(self, product: Product) -> None:
        self._put_one(self._put(keys.product_pk(product.id), keys.PRODUCT_SK, "product", product))

    def add_closure(self, closure: Closure, extra: list[dict[str, Any]] | None = None) -> None:
        """Record a closure and its marker atomically, with `extra` items (its audit entry);
        a second one for the day is refused."""
        day = closure.date.isoformat()
        record = {
            "PK": keys.relay_pk(closure.relay_id),
            "SK": keys.closure_sk(day),
            "entity": "closure",
            **to_item(closure.model_dump()),
        }
        marker = {
            "PK": keys.occupancy_pk(closure.relay_id, day),
            "SK": keys.CLOSURE_MARKER_SK,
            "reason": closure.reason,
        }
        items = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for item in (record, marker)
        ]
        items.extend(extra or [])

        def refuse(reasons: list[str]) -> None:
            raise AlreadyExists(f"The relay is already closed on {day}.")

        self._table.transact(items, on_cancel=refuse)

    def closure_reason(self, relay_id: str, day: str) -> str | None:
        """Why the relay is closed that day (None: not closed, or no reason given)."""
        marker = self._table.get(keys.occupancy_pk(relay_id, day), keys.CLOSURE_MARKER_SK)
        return str(marker.get("reason") or "") or None if marker else None

    def _put(self, pk: str, sk: str, entity: str, model: Any) -> dict[str, Any]:
        item = {
            "PK": pk,
            "SK": sk,
            "GSI1PK": keys.CATALOGUE_PK,
            "GSI1SK": keys.catalogue_sk(entity, model.id),
            "entity": entity,
            **to_item(model.model_dump()),
        }
        return {
            "Put": {
                "TableName": self._table.name,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def _put_one(self, put: dict[str, Any]) -> None:
        try:
            self._table.table.put_item(**{k: v for k, v in put["Put"].items() if k != "TableName"})
        except self._table.exceptions.ConditionalCheckFailedException as exc:
            raise AlreadyExists("An item with this id already exists.") from exc
