"""The app over real HTTP on 127.0.0.1: the loopback server (tools/loopback_server.py) in
this process (so it shares the bench's Context), and a keep-alive client per thread."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from bench.answers import Answer
from tools.loopback_server import serving


class Loopback:
    """JSON over one persistent HTTP/1.1 connection per calling thread. The client is
    the bench's instrument, not what is measured: it writes the request in one send and
    reads the answer's status line, headers and `Content-Length` body itself
    (`http.client` parses headers with the e-mail parser, ~25 µs an answer, in the same
    process and on the same two CPUs as the server it measures)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._local = threading.local()

    def _connection(self) -> tuple[socket.socket, Any]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = (sock, sock.makefile("rb"))
            self._local.connection = connection
        return connection

    def call(
        self, method: str, path: str, body: Any = None, token: str = "", key: str = ""
    ) -> Answer:
        payload = json.dumps(body).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
        if token:
            head.append(f"Authorization: Bearer {token}")
        if key:
            head.append(f"Idempotency-Key: {key}")
        head.append(f"Content-Length: {len(payload)}")
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
        try:
            return self._exchange(request)
        except (ConnectionError, ValueError):
            self._local.connection = None  # the server closed an idle connection: afresh
            return self._exchange(request)

    def _exchange(self, request: bytes) -> Answer:
        sock, reader = self._connection()
        start = time.perf_counter()
        sock.sendall(request)
        status_line = reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        data = reader.read(length) if length else b""
        elapsed = time.perf_counter() - start
        return Answer(status, orjson.loads(data or b"null"), elapsed)


@contextmanager
def loopback(app: Any) -> Iterator[Loopback]:
    """The loopback server for `app` on a free port, stopped on the way out."""
    with serving(app) as port:
        yield Loopback(port)
