"""What every way of calling the app answers: a status and a JSON body (read with orjson,
as a client that cares would: reading the answer is the client's cost, not the server's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


class Caller(Protocol):
    """HTTP over loopback, the in-process test client, or the Lambda handler."""

    def call(
        self, method: str, path: str, body: Any = None, token: str = "", key: str = ""
    ) -> Answer: ...
