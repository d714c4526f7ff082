"""The app over real HTTP on 127.0.0.1: `chalice local`'s threaded server in this process
(so it shares the bench's Context), and a keep-alive client per thread."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.answers import Answer
from tools.loopback_server import serving


class Loopback:
    """JSON over one persistent HTTP/1.1 connection per calling thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.connection = connection
        return connection

    def call(
        self, method: str, path: str, body: Any = None, token: str = "", key: str = ""
    ) -> Answer:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        payload = json.dumps(body) if body is not None else None
        connection = self._connection()
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (ConnectionError, http.client.HTTPException):
            connection.close()  # the server closed an idle connection: once more, afresh
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        return Answer(response.status, json.loads(data or b"null"))


@contextmanager
def loopback(app: Any) -> Iterator[Loopback]:
    """`chalice local`'s server for `app` on a free loopback port, stopped on the way out."""
    with serving(app) as port:
        yield Loopback(port)
