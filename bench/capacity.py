"""Request units from DynamoDB itself: every call of the table's client asks for
`ReturnConsumedCapacity=TOTAL` (a botocore event hook) and the answers are summed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.hooks import WRITES


@dataclass
class Units:
    read: float = 0.0
    write: float = 0.0
    calls: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)

    def add(self, operation: str, consumed: Any) -> None:
        self.calls += 1
        self.by_operation[operation] = self.by_operation.get(operation, 0) + 1
        for part in consumed if isinstance(consumed, list) else [consumed]:
            if not part:
                continue
            read, write = part.get("ReadCapacityUnits"), part.get("WriteCapacityUnits")
            if read is None and write is None:  # only the total: the operation says which
                total = float(part.get("CapacityUnits", 0))
                read, write = (0.0, total) if operation in WRITES else (total, 0.0)
            self.read += float(read or 0)
            self.write += float(write or 0)


@contextmanager
def consumed(client: Any) -> Iterator[Units]:
    """Request units of every call the client makes meanwhile."""
    units = Units()

    def ask(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "TOTAL"

    def note(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        units.add(model.name, parsed.get("ConsumedCapacity"))

    client.meta.events.register("provide-client-params.dynamodb.*", ask)
    client.meta.events.register("after-call.dynamodb.*", note)
    try:
        yield units
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.*", ask)
        client.meta.events.unregister("after-call.dynamodb.*", note)
