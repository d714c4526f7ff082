"""PATCH of the catalogue over HTTP: If-Match and versions, validation, invariants."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.dynamo import Table
from chalicelib.api.wiring import use_context
from chalicelib.config import Settings
from chalicelib.services.context import Context
from tests.support.api import (
    Answer,
    Api,
    assert_problem,
    booked,
    error_fields,
    operator_body,
    relay_body,
)
from tests.support.fake_stripe import FakeGateway

IBAN = "FR7630006000011234567890189"


def patch(api: Api, path: str, body: Any, token: str, version: int | None) -> Answer:
    headers = {} if version is None else {"If-Match": f'"{version}"'}
    return api.request("PATCH", path, body, token=token, headers=headers)


# -- versions and If-Match --------------------------------------------------------------


def test_operator_is_served_with_version_1_and_its_etag(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    answer = api.get(f"/v1/operators/{network['operator']}", token=admin)
    assert (answer.json["version"], answer.headers["ETag"]) == (1, '"1"')


def test_patch_with_the_current_version_changes_the_field_and_increments_it(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    path = f"/v1/operators/{network['operator']}"
    answer = patch(api, path, {"name": "SCIC Relais 77-Sud"}, admin, 1)
    assert (answer.status, answer.json["name"], answer.json["version"]) == (
        200,
        "SCIC Relais 77-Sud",
        2,
    )
    assert answer.headers["ETag"] == '"2"'


def test_patch_without_if_match_is_refused_with_428(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    path = f"/v1/operators/{network['operator']}"
    assert_problem(patch(api, path, {"name": "X"}, admin, None), 428, "precondition_required")


def test_patch_with_a_stale_version_is_refused_and_changes_nothing(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    path = f"/v1/operators/{network['operator']}"
    assert patch(api, path, {"name": "First"}, admin, 1).status == 200
    assert_problem(patch(api, path, {"name": "Second"}, admin, 1), 412, "precondition_failed")
    assert api.get(path, token=admin).json["name"] == "First"


# -- the own GET answers the stored version, whichever container serves it ----------------


@pytest.fixture
def other_container(
    settings: Settings, table: Table, clock: FixedClock, stripe_fake: FakeGateway, ctx: Context
) -> Iterator[Context]:
    """A second Lambda container on the same table, with its own catalogue cache
    (`CATALOGUE_CACHE_SECONDS`); a test picks the one that answers with `use_context`."""
    other = Context(settings=settings, table=table, clock=clock, gateway_override=stripe_fake)
    yield other
    use_context(ctx)


def own_path(network: dict[str, str], which: str) -> str:
    return {
        "operator": f"/v1/operators/{network['operator']}",
        "relay": f"/v1/relays/{network['relay']}",
        "resource": f"/v1/relays/{network['relay']}/resources/{network['pool']}",
    }[which]


@pytest.mark.parametrize("which", ["operator", "relay", "resource"])
def test_the_own_get_answers_the_version_an_edit_in_another_container_stored(
    api: Api,
    admin: str,
    network: dict[str, str],
    ctx: Context,
    other_container: Context,
    which: str,
) -> None:
    """Its ETag is the version the next PATCH is checked against: one from a container's
    cached catalogue would be 412 again and again until the cache expired."""
    path = own_path(network, which)
    use_context(other_container)  # GIVEN container B served it (its cache is filled)
    assert api.get(path, token=admin).headers["ETag"] == '"1"'
    use_context(ctx)  # WHEN container A takes an edit
    assert patch(api, path, {"name": "Renamed"}, admin, 1).status == 200

    use_context(other_container)  # THEN B answers the stored object and version
    answer = api.get(path, token=admin)
    assert (answer.headers["ETag"], answer.json["version"], answer.json["name"]) == (
        '"2"',
        2,
        "Renamed",
    )


def test_the_relay_get_lists_its_resources_as_stored_after_an_edit_in_another_container(
    api: Api, admin: str, network: dict[str, str], ctx: Context, other_container: Context
) -> None:
    use_context(other_container)
    api.get(own_path(network, "relay"))
    use_context(ctx)
    assert patch(api, own_path(network, "resource"), {"name": "Plateau"}, admin, 1).status == 200

    use_context(other_container)
    resources = api.get(own_path(network, "relay")).json["resources"]
    (pool,) = [r for r in resources if r["id"] == network["pool"]]
    assert (pool["name"], pool["version"], len(resources)) == ("Plateau", 2, 2)


def test_a_resource_is_not_found_under_another_relay(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    other = api.post("/v1/relays", relay_body(network["operator"], name="Mairie"), token=admin)
    answer = api.get(f"/v1/relays/{other.json['id']}/resources/{network['pool']}")
    assert_problem(answer, 404, "not_found")


def test_unknown_and_read_only_fields_are_each_named(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    body = {"id": "op_x", "version": 9, "created_at": "2026-01-01T00:00:00Z", "colour": "red"}
    answer = patch(api, f"/v1/operators/{network['operator']}", body, admin, 1)
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"id", "version", "created_at", "colour"}


def test_a_new_name_with_a_line_break_is_refused(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    answer = patch(api, f"/v1/relays/{network['relay']}", {"name": "Gare\nde Melun"}, admin, 1)
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"name"}
    assert api.get(f"/v1/relays/{network['relay']}").json["name"] == "Gare de Melun"


def test_patch_is_for_administrators(api: Api, member: str, network: dict[str, str]) -> None:
    answer = patch(api, f"/v1/operators/{network['operator']}", {"name": "X"}, member, 1)
    assert_problem(answer, 403, "forbidden")


# -- operators --------------------------------------------------------------------------


def test_a_valid_iban_is_stored_compact(api: Api, admin: str, network: dict[str, str]) -> None:
    body = {"iban": "FR76 3000 6000 0112 3456 7890 189", "bic": "AGRIFRPP"}
    answer = patch(api, f"/v1/operators/{network['operator']}", body, admin, 1)
    assert (answer.json["iban"], answer.json["bic"]) == (IBAN, "AGRIFRPP")


def test_an_invalid_iban_is_refused(api: Api, admin: str, network: dict[str, str]) -> None:
    body = {"iban": "FR7630006000011234567890188"}
    answer = patch(api, f"/v1/operators/{network['operator']}", body, admin, 1)
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"iban"}


def test_siren_may_change_while_no_document_was_issued(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    body = {"siren": "552100554", "siret": None, "vat_number": None}
    answer = patch(api, f"/v1/operators/{network['operator']}", body, admin, 1)
    assert (answer.status, answer.json["siren"]) == (200, "552100554")


def test_old_siren_is_free_again_after_a_change(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    body = {"siren": "552100554", "siret": None, "vat_number": None}
    patch(api, f"/v1/operators/{network['operator']}", body, admin, 1)
    again = api.post("/v1/operators", operator_body(invoice_prefix="BN"), token=admin)
    assert again.status == 201, again.json


def test_siren_is_immutable_once_a_document_was_issued(
    api: Api, admin: str, network: dict[str, str], ctx: Context
) -> None:
    head = {"PK": f"DOCHEADS#{network['operator']}", "SK": "2026", "last_number": 1}
    ctx.table.table.put_item(Item={**head, "last_hash": "0" * 64})
    answer = patch(api, f"/v1/operators/{network['operator']}", {"invoice_prefix": "ZZ"}, admin, 1)
    assert_problem(answer, 409, "immutable_field")
    assert error_fields(answer) == {"invoice_prefix"}


# -- relays -----------------------------------------------------------------------------


def test_the_relay_manager_edits_the_opening_hours(api: Api, network: dict[str, str]) -> None:
    manager = api.token("mgr-1", f"manager:{network['relay']}")
    hours = {"mon": [["09:00", "18:00"]]}
    answer = patch(api, f"/v1/relays/{network['relay']}", {"opening_hours": hours}, manager, 1)
    assert answer.json["opening_hours"]["mon"] == [["09:00", "18:00"]]


def test_a_manager_of_another_relay_cannot_edit_it(api: Api, network: dict[str, str]) -> None:
    manager = api.token("mgr-2", "manager:rly_other")
    answer = patch(api, f"/v1/relays/{network['relay']}", {"name": "X"}, manager, 1)
    assert_problem(answer, 403, "forbidden")


def test_operator_id_of_a_relay_never_changes(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    answer = patch(api, f"/v1/relays/{network['relay']}", {"operator_id": "op_x"}, admin, 1)
    assert error_fields(answer) == {"operator_id"}


@pytest.fixture
def inactive_relay(api: Api, admin: str, network: dict[str, str]) -> dict[str, Any]:
    confirmed = booked(api, admin, network["pool"], payment="none")
    answer = patch(api, f"/v1/relays/{network['relay']}", {"active": False}, admin, 1)
    assert answer.status == 200, answer.json
    return confirmed


def test_an_inactive_relay_is_not_listed(
    api: Api, network: dict[str, str], inactive_relay: dict[str, Any]
) -> None:
    ids = [r["id"] for r in api.get("/v1/relays").json["items"]]
    assert network["relay"] not in ids


def test_an_inactive_relay_refuses_new_bookings_with_404(
    api: Api, member: str, network: dict[str, str], inactive_relay: dict[str, Any]
) -> None:
    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": "2026-12-03", "unit": "day", "payment": "card"},
        token=member,
    )
    assert_problem(answer, 404, "not_found")


def test_existing_bookings_of_an_inactive_relay_stay(
    api: Api, admin: str, inactive_relay: dict[str, Any]
) -> None:
    answer = api.get(f"/v1/bookings/{inactive_relay['id']}", token=admin)
    assert answer.json["status"] == "confirmed"


# -- resources --------------------------------------------------------------------------


def resource_path(network: dict[str, str]) -> str:
    return f"/v1/relays/{network['relay']}/resources/{network['pool']}"


def test_lowering_capacity_below_seats_taken_is_a_conflict_listing_them(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    for _ in range(2):
        booked(api, admin, network["pool"], payment="none", unit="hour", start="10:00", end="11:00")
    answer = patch(api, resource_path(network), {"capacity": 1}, admin, 1)
    assert_problem(answer, 409, "capacity_conflict")
    assert answer.json["conflicts"] == [
        {"date": "2026-12-02", "start": "10:00", "booked": 2},
        {"date": "2026-12-02", "start": "10:30", "booked": 2},
    ]


def test_a_refused_capacity_change_changes_nothing(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    for _ in range(2):
        booked(api, admin, network["pool"], payment="none")
    patch(api, resource_path(network), {"capacity": 1, "name": "Pool"}, admin, 1)
    resource = api.get(resource_path(network)).json
    assert (resource["capacity"], resource["name"], resource["version"]) == (3, "Open space", 1)


def test_lowering_capacity_to_the_seats_taken_is_accepted(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    for _ in range(2):
        booked(api, admin, network["pool"], payment="none")
    answer = patch(api, resource_path(network), {"capacity": 2}, admin, 1)
    assert (answer.status, answer.json["capacity"]) == (200, 2)


def test_availability_follows_a_lower_capacity(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    patch(api, resource_path(network), {"capacity": 1}, admin, 1)
    day = api.get(f"/v1/availability?date=2026-12-02&relay_id={network['relay']}").json
    pool = next(r for r in day["relays"][0]["resources"] if r["resource_id"] == network["pool"])
    assert pool["slots"][0]["free"] == 1


def test_new_rates_apply_to_new_bookings_only(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    before = booked(api, member, network["pool"])
    patch(api, resource_path(network), {"rates": {"day": 2500}}, admin, 1)
    after = booked(api, member, network["pool"], date="2026-12-03")
    assert (before["price"]["amount"], after["price"]["amount"]) == (1500, 2500)


def test_an_inactive_resource_refuses_new_bookings_with_404(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    patch(api, resource_path(network), {"active": False}, admin, 1)
    answer = api.post(
        "/v1/bookings",
        {"resource_id": network["pool"], "date": "2026-12-03", "unit": "day", "payment": "card"},
        token=member,
    )
    assert_problem(answer, 404, "not_found")


# -- products ---------------------------------------------------------------------------


@pytest.fixture
def pack(api: Api, admin: str, network: dict[str, str]) -> str:
    body = {
        "kind": "credit_pack",
        "name": "10 jours",
        "price": {"amount": 12000},
        "operator_id": network["operator"],
        "credits": 10,
        "validity_days": 365,
    }
    answer = api.post("/v1/products", body, token=admin)
    assert answer.status == 201, answer.json
    return str(answer.json["id"])


def test_a_new_price_is_served_with_its_vat_split(api: Api, admin: str, pack: str) -> None:
    answer = patch(api, f"/v1/products/{pack}", {"price": {"amount": 15000}}, admin, 1)
    assert answer.json["price"]["amount_excl_vat"] == 12500


def test_an_edit_that_leaves_a_price_keeps_it_in_cents_and_an_empty_one_changes_nothing(
    api: Api, admin: str, pack: str
) -> None:
    """A price read back from the table (Decimals) was rewritten as strings by an edit of
    the name: served as `"amount": "12000"`, audited as changed, a new version for an
    empty PATCH (found by review R6)."""
    price = api.get(f"/v1/products/{pack}").json["price"]
    assert patch(api, f"/v1/products/{pack}", {}, admin, 1).json["version"] == 1
    renamed = patch(api, f"/v1/products/{pack}", {"name": "Dix jours"}, admin, 1)
    assert (renamed.status, renamed.json["price"]) == (200, price)
    assert api.get(f"/v1/products/{pack}").json["price"] == price
    assert [p["price"] for p in api.get("/v1/products").json["items"] if p["id"] == pack] == [price]
    assert isinstance(price["amount"], int) and price["amount"] == 12000
    trail = api.get(f"/v1/audit?entity=product&entity_id={pack}", token=admin).json["items"]
    assert [sorted(entry["changes"]) for entry in trail if entry["action"] == "update"] == [
        ["name"]
    ]


def test_an_inactive_product_is_not_listed(api: Api, admin: str, pack: str) -> None:
    patch(api, f"/v1/products/{pack}", {"active": False}, admin, 1)
    assert pack not in [p["id"] for p in api.get("/v1/products").json["items"]]


def test_an_inactive_product_cannot_be_bought(api: Api, admin: str, member: str, pack: str) -> None:
    patch(api, f"/v1/products/{pack}", {"active": False}, admin, 1)
    answer = api.post("/v1/purchases", {"product_id": pack}, token=member)
    assert_problem(answer, 409, "invalid_state")
