"""Routes that edit the catalogue: PATCH with `If-Match`, and reads that answer an ETag."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.endpoint import Call, endpoint, json_response
from chalicelib.api.problems import problem_body
from chalicelib.api.schemas import RelayOut
from chalicelib.domain.catalogue import Operator, Product, Resource
from chalicelib.domain.catalogue_patches import (
    OperatorPatch,
    ProductPatch,
    RelayPatch,
    ResourcePatch,
)
from chalicelib.domain.editing import etag, expected_version
from chalicelib.errors import CapacityConflict
from chalicelib.services import catalogue_edits, resource_edits

bp = Blueprint(__name__)
PATCH_ERRORS = (403, 404, 412, 422, 428)


def versioned(result: Any, status: int = 200) -> Response:
    """The answer with `ETag: "<version>"`."""
    response = json_response(result, status)
    version = result["version"] if isinstance(result, dict) else result.version
    response.headers["ETag"] = etag(int(version))
    return response


def conflict_answer(exc: CapacityConflict) -> Response:
    """409 `capacity_conflict` with the booked slots that block the edit."""
    body = {**problem_body(exc), "conflicts": exc.conflicts}
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=exc.status,
        headers={"Content-Type": "application/problem+json"},
    )


def if_match(call: Call) -> frozenset[int]:
    return expected_version(call.headers.get("if-match"))


@endpoint(
    bp,
    "/v1/operators/{operator_id}",
    "PATCH",
    summary="Edit an operator (If-Match)",
    tag="catalogue",
    body=OperatorPatch,
    response=Operator,
    errors=(*PATCH_ERRORS, 409),
    role="admin",
)
def patch_operator(call: Call) -> Any:
    # If-Match is read once the operator is found (an unknown id: 404, not 428).
    operator = catalogue_edits.patch_operator(
        call.ctx,
        call.principal,
        call.params["operator_id"],
        call.headers.get("if-match"),
        call.body,
    )
    return versioned(operator)


@endpoint(
    bp,
    "/v1/relays/{relay_id}",
    "PATCH",
    summary="Edit a relay (If-Match; admin or its manager)",
    tag="catalogue",
    body=RelayPatch,
    response=RelayOut,
    errors=(*PATCH_ERRORS, 409),
    role="staff",
)
def patch_relay(call: Call) -> Any:
    raw = call.headers.get("if-match")
    try:
        relay = catalogue_edits.patch_relay(
            call.ctx, call.principal, call.params["relay_id"], raw, call.body
        )
    except CapacityConflict as exc:  # opening hours shortened under booked seats
        return conflict_answer(exc)
    return versioned(relay)


@endpoint(
    bp,
    "/v1/relays/{relay_id}/resources/{resource_id}",
    "GET",
    summary="A resource (with its ETag)",
    tag="catalogue",
    auth="public",
    response=Resource,
    errors=(404,),
)
def get_resource(call: Call) -> Any:
    params = call.params
    return versioned(
        catalogue_edits.get_resource(call.ctx, params["relay_id"], params["resource_id"])
    )


@endpoint(
    bp,
    "/v1/relays/{relay_id}/resources/{resource_id}",
    "PATCH",
    summary="Edit a resource (If-Match); a lower capacity must fit the seats already taken",
    tag="catalogue",
    body=ResourcePatch,
    response=Resource,
    errors=(*PATCH_ERRORS, 409),
    role="admin",
)
def patch_resource(call: Call) -> Any:
    # If-Match is read once the resource is found (an unknown id: 404, not 428).
    try:
        resource = resource_edits.patch_resource(
            call.ctx,
            call.principal,
            call.params["relay_id"],
            call.params["resource_id"],
            call.headers.get("if-match"),
            call.body,
        )
    except CapacityConflict as exc:
        return conflict_answer(exc)
    return versioned(resource)


@endpoint(
    bp,
    "/v1/products/{product_id}",
    "GET",
    summary="A product (with its ETag), withdrawn ones included",
    tag="catalogue",
    auth="public",
    response=Product,
    errors=(404,),
)
def get_product(call: Call) -> Any:
    return versioned(catalogue_edits.get_product(call.ctx, call.params["product_id"]))


@endpoint(
    bp,
    "/v1/products/{product_id}",
    "PATCH",
    summary="Edit a product (If-Match): price for new sales, active",
    tag="catalogue",
    body=ProductPatch,
    response=Product,
    errors=PATCH_ERRORS,
    role="admin",
)
def patch_product(call: Call) -> Any:
    # If-Match is read once the product is found (an unknown id: 404, not 428).
    product = catalogue_edits.patch_product(
        call.ctx, call.principal, call.params["product_id"], call.headers.get("if-match"), call.body
    )
    return versioned(product)
