"""Editing the catalogue: operators, relays, products (resources: resource_edits.py), and
the reads of each object itself, whose ETag names the version an edit checks.

Every edit: read the stored object (not the cache), check the caller's `If-Match`, apply
the patch and validate the whole object again, then ONE transaction writes the changed
fields with version+1 on condition that the version is still the one read, together
with the audit entry. Two concurrent edits from the same version: one wins, the other
gets 412 and nothing of it is written.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from chalicelib.adapters.dynamo import strip_keys
from chalicelib.adapters.versioned_store import (
    Key,
    operator_key,
    product_key,
    relay_key,
    resource_key,
)
from chalicelib.auth import Principal
from chalicelib.domain.catalogue import Operator, Product, Relay, Resource, check_vat_number_of
from chalicelib.domain.catalogue_patches import OperatorPatch, ProductPatch, RelayPatch
from chalicelib.domain.editing import (
    Expected,
    apply_patch,
    changed_fields,
    check_if_match,
    sent_fields,
)
from chalicelib.errors import AlreadyExists, ImmutableField, NotFound
from chalicelib.services import audit, opening_exceptions, relay_service
from chalicelib.services.catalogue import product_view, relay_view
from chalicelib.services.context import Context

M = TypeVar("M", bound=BaseModel)
FIXED_AFTER_FIRST_DOCUMENT = ("siren", "siret", "invoice_prefix")


def read(ctx: Context, key: Key, model: type[M], label: str) -> M:
    item = ctx.versioned.read(key)
    if item is None:
        raise NotFound(f"No {label} with that id.")
    return model.model_validate(strip_keys(item))


def get_operator(ctx: Context, operator_id: str) -> Operator:
    """The own GETs read the stored object, never a container's cached catalogue: their
    ETag is the version the next PATCH is checked against, so a stale one would be 412
    again and again until the cache expired (`CATALOGUE_CACHE_SECONDS`)."""
    return read(ctx, operator_key(operator_id), Operator, "operator")


def get_relay(ctx: Context, relay_id: str) -> dict[str, Any]:
    """The relay and its resources as stored (one consistent Query of its partition)."""
    stored = ctx.catalogue_store.load_relay(relay_id)
    relay = stored.relays.get(relay_id)
    if relay is None:
        raise NotFound("No relay with that id.")
    return relay_view(relay, stored.resources_of(relay_id))


def get_resource(ctx: Context, relay_id: str, resource_id: str) -> Resource:
    """As stored; a resource of another relay is not found (its key names its relay)."""
    return read(ctx, resource_key(relay_id, resource_id), Resource, "resource")


def save(
    ctx: Context,
    key: Key,
    before: Any,
    after: Any,
    audit_entry: Any,
    extra: list[dict[str, Any]] | None = None,
    on_extra_failed: Any = None,
) -> Any:
    """Write what changed (one conditional transaction with its audit entry) → the new
    object, version incremented. An edit that changes nothing writes nothing."""
    diff = changed_fields(before, after)
    if not diff:
        return before
    stored = after.model_dump(mode="json")
    items = [*(extra or []), audit.entry_item(ctx, audit_entry)]
    ctx.versioned.update(key, before.version, {k: stored[k] for k in diff}, items, on_extra_failed)
    ctx.catalogue.invalidate()
    return after.model_copy(update={"version": before.version + 1})


def patch_operator(
    ctx: Context,
    principal: Principal,
    operator_id: str,
    if_match: str | Expected | None,
    patch: OperatorPatch,
) -> Operator:
    """`if_match` (the raw header, or a version already read from one) is read once the
    operator is known to exist (404 before 428), as for relays."""
    key = operator_key(operator_id)
    before = read(ctx, key, Operator, "operator")
    check_if_match(before.version, if_match)
    after = apply_patch(before, sent_fields(patch))
    diff = changed_fields(before, after)
    check_vat_number_of(after.vat_number, after.siren, diff)
    extra = _identity_items(ctx, before, after, diff)
    entry = audit.entry(
        ctx, principal, "update", "operator", operator_id, operator_id=operator_id, changes=diff
    )

    def explain(failed: list[int]) -> None:
        if failed and failed[0] < len(extra) and extra[failed[0]].get("Put"):
            raise AlreadyExists(f"SIREN {after.siren} is already used by another operator.")
        raise ImmutableField("A document was issued meanwhile: the identity is now fixed.")

    saved: Operator = save(ctx, key, before, after, entry, extra, explain)
    if "active" in diff:  # its relays take new bookings, or no longer
        relay_service.mark_relays(ctx, operator_id=operator_id)
    return saved


def _identity_items(
    ctx: Context, before: Operator, after: Operator, diff: dict[str, list[Any]]
) -> list[dict[str, Any]]:
    """SIREN, SIRET and invoice prefix change only while no document was issued: refuse
    if one was, and make the change conditional on none being issued meanwhile (this
    year's document head must still be absent); a new SIREN is claimed, the old freed."""
    fixed = [f for f in FIXED_AFTER_FIRST_DOCUMENT if f in diff]
    if not fixed:
        return []
    if ctx.invoices.years(before.id):
        raise ImmutableField(
            f"{', '.join(fixed)} cannot change: this operator has issued documents.",
            errors=[{"field": f, "message": "fixed once a document is issued"} for f in fixed],
        )
    return ctx.versioned.identity_items(before.id, before.siren, after.siren, ctx.clock.now().year)


def patch_relay(
    ctx: Context, principal: Principal, relay_id: str, if_match: str | None, patch: RelayPatch
) -> dict[str, Any]:
    """`if_match` is read once the caller is known to manage the relay (403 before 428)."""
    key = relay_key(relay_id)
    before = read(ctx, key, Relay, "relay")
    principal.require_manager_of(relay_id)
    check_if_match(before.version, if_match)
    after = apply_patch(before, sent_fields(patch))
    entry = audit.entry(
        ctx,
        principal,
        "update",
        "relay",
        relay_id,
        operator_id=before.operator_id,
        relay_id=relay_id,
        changes=changed_fields(before, after),
    )
    extra, explain = opening_exceptions.hours_guard(ctx, before, after)
    saved = save(ctx, key, before, after, entry, extra, explain)
    opening_exceptions.mark_weekly_hours(ctx, before, saved)
    if before.active != saved.active:  # it takes new bookings, or no longer
        relay_service.mark_relays(ctx, relay_id=relay_id)
    return relay_view(saved, ctx.catalogue_store.load_relay(relay_id).resources_of(relay_id))


def get_product(ctx: Context, product_id: str) -> Product:
    """As served: priced with its seller's VAT regime (`product_view`)."""
    return product_view(ctx, _stored_product(ctx, product_id))


def _stored_product(ctx: Context, product_id: str) -> Product:
    return read(ctx, product_key(product_id), Product, "product")


def patch_product(
    ctx: Context,
    principal: Principal,
    product_id: str,
    if_match: str | Expected | None,
    patch: ProductPatch,
) -> Product:
    """`if_match` is read once the product is known to exist (404 before 428)."""
    key = product_key(product_id)
    before = _stored_product(ctx, product_id)
    check_if_match(before.version, if_match)
    changes = sent_fields(patch)
    if patch.price is not None:  # new sales only: purchases keep their frozen price
        changes["price"] = patch.price.to_price().to_dict()
    after = apply_patch(before, changes)
    entry = audit.entry(
        ctx,
        principal,
        "update",
        "product",
        product_id,
        operator_id=before.operator_id,
        changes=changed_fields(before, after),
    )
    return product_view(ctx, save(ctx, key, before, after, entry))
