"""Starting another of the app's Lambda functions now, without waiting for it: an
asynchronous invoke (`InvocationType="Event"`: Lambda queues it, retries it twice if it
fails, and answers at once). Used by the API to run the route_einvoices job, the one
function that can validate e-invoices, when a resend is asked for. The event has the
shape of a scheduled one (what Chalice's `app.schedule` handlers read). The boto3 client
is built on first use.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache, cached_property
from typing import Any


class FunctionTrigger:
    def __init__(self, function_name: str, region: str) -> None:
        self.function_name = function_name
        self._region = region

    @cached_property
    def client(self) -> Any:
        import boto3

        return boto3.client("lambda", region_name=self._region)

    def start(self, reason: str, now: datetime, detail: dict[str, Any]) -> None:
        """Queue one run of the function; raises if Lambda refuses to queue it."""
        self.client.invoke(
            FunctionName=self.function_name,
            InvocationType="Event",
            Payload=json.dumps(scheduled_event(reason, now, detail)).encode(),
        )


def scheduled_event(reason: str, now: datetime, detail: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge scheduled event, as `chalice.app.CloudWatchEvent` reads one."""
    return {
        "version": "0",
        "id": reason,
        "detail-type": "Scheduled Event",
        "source": "relais.api",
        "account": "",
        "time": now.isoformat(timespec="seconds"),
        "region": "",
        "resources": [],
        "detail": detail,
    }


@cache
def function_trigger(function_name: str, region: str) -> FunctionTrigger:
    """One trigger (and boto3 client) per function and region, for the container's life."""
    return FunctionTrigger(function_name, region)
