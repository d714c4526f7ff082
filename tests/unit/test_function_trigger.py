"""Starting the route_einvoices function from the API: an asynchronous invoke whose
event a Chalice scheduled handler reads like EventBridge's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalice.app import CloudWatchEvent

from chalicelib.adapters.function_trigger import FunctionTrigger, function_trigger

NOW = datetime(2027, 1, 20, 9, 30, tzinfo=UTC)


class StubLambda:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        return {"StatusCode": 202}


def test_a_start_is_an_asynchronous_invoke_with_a_scheduled_event() -> None:
    trigger = FunctionTrigger("relais-prod-RouteEinvoices-abc", "eu-west-3")
    stub = StubLambda()
    trigger.__dict__["client"] = stub  # the cached_property's slot: no boto3 here

    trigger.start("resend-inv-1", NOW, {"resend": "inv-1"})

    (call,) = stub.calls
    assert (call["FunctionName"], call["InvocationType"]) == (
        "relais-prod-RouteEinvoices-abc",
        "Event",
    )
    event = CloudWatchEvent(json.loads(call["Payload"]), None)  # as app.schedule reads it
    assert (event.detail_type, event.detail, event.time) == (
        "Scheduled Event",
        {"resend": "inv-1"},
        "2027-01-20T09:30:00+00:00",
    )


def test_one_trigger_per_function_for_the_containers_life() -> None:
    first = function_trigger("f", "eu-west-3")

    assert function_trigger("f", "eu-west-3") is first
    assert function_trigger("g", "eu-west-3") is not first
