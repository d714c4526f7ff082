"""What every way of calling the app answers: a status, a JSON body (read with orjson,
as a client that cares would: reading the answer is the client's cost, not the server's)
and how long the app took as its caller saw it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    # Seconds from handing the request over to having the whole answer: the Lambda
    # handler's call, or the first byte sent to the last byte read over HTTP. Building
    # the request (an API Gateway event, the request's bytes) and parsing the JSON
    # answer are the caller's work, not the app's, and are left out.
    elapsed: float = 0.0


class Caller(Protocol):
    """HTTP over loopback, the in-process test client, or the Lambda handler."""

    def call(
        self, method: str, path: str, body: Any = None, token: str = "", key: str = ""
    ) -> Answer: ...
