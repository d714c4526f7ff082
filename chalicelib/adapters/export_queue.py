"""The queue of export jobs (SQS): one message per export to run, `{"export_id": …}`.

Its consumer is `app.export_worker` (`@app.on_sqs_message`, one message at a time);
a message whose run raises comes back after the visibility timeout, and after a few
receives goes to the dead-letter queue (infra/package.py). The boto3 client is built
on first use.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any


class ExportQueue:
    def __init__(self, url: str, region: str) -> None:
        self.url = url
        self._region = region

    @cached_property
    def client(self) -> Any:
        import boto3

        return boto3.client("sqs", region_name=self._region)

    def send(self, export_id: str) -> None:
        self.client.send_message(
            QueueUrl=self.url, MessageBody=json.dumps({"export_id": export_id})
        )


def export_ids(event_bodies: list[str]) -> list[str]:
    """The export ids of a batch of messages; a body that is not ours is skipped."""
    found = []
    for body in event_bodies:
        try:
            value = json.loads(body).get("export_id")
        except (ValueError, AttributeError):
            continue
        if isinstance(value, str) and value:
            found.append(value)
    return found
