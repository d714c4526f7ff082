"""The app over real HTTP on 127.0.0.1, in this process (so it shares the process's
Context and mocks), for the bench and the tests that must go through a socket.

A small local API Gateway: the standard library's threaded server, HTTP/1.1 read by
hand (keep-alive, no Nagle), each request turned into the REST proxy event the deployed
gateway sends (`tools.gateway_event`) and the app's answer written back in one send.
Unknown paths get the deployed gateway's 404 problem. `chalice local`'s own server did
the same with a route scan, a Lambda context and a header write each per request;
`make run` still uses `chalice local` itself (its CLI and reloading).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from socketserver import StreamRequestHandler
from typing import Any, ClassVar

from tools.gateway_event import LambdaContext, Routes, proxy_event
from tools.local_stack import free_port


class GatewayHandler(StreamRequestHandler):
    """One connection (HTTP/1.1, kept alive): each request through the app as Lambda
    would be called. The request line and headers are read here, line by line, as the
    gateway reads them: `http.server` parses headers with the e-mail parser (~25 µs a
    request, on the same CPUs as the app it serves in the bench). No chunked bodies (the
    deployed gateway takes none from our clients either): `Content-Length` or nothing."""

    # As API Gateway: headers and body are sent at once, and the client's delayed ACK
    # must not add 40 ms to an answer.
    disable_nagle_algorithm = True
    app: ClassVar[Any]
    routes: ClassVar[Routes]
    context: ClassVar[LambdaContext]

    def handle(self) -> None:
        while True:
            request = self.read_request()
            if request is None:
                return
            method, target, headers, body = request
            if headers.get("expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.send(self.answer(method, target, headers, body), method)
            if headers.get("connection", "").lower() == "close":
                return

    def read_request(self) -> tuple[str, str, dict[str, str], bytes] | None:
        """(method, target, lowercased headers, body) of the next request, or None when
        the client closed the connection or sent something that is not HTTP/1.x (then
        answered 400 and closed, as a gateway would)."""
        line = self.rfile.readline(MAX_LINE)
        while line in (b"\r\n", b"\n"):  # tolerated between requests (RFC 9112, 2.2)
            line = self.rfile.readline(MAX_LINE)
        if not line:
            return None
        parts = line.decode("latin-1").split() if len(line) < MAX_LINE else []
        headers: dict[str, str] = {}
        while len(parts) == 3 and parts[2].startswith("HTTP/1.") and len(headers) <= MAX_HEADERS:
            field = self.rfile.readline(MAX_LINE)
            if len(field) >= MAX_LINE:
                break
            if field in (b"\r\n", b"\n", b""):
                length = headers.get("content-length", "0")
                if not length.isdigit():
                    break
                body = self.rfile.read(int(length)) if int(length) else b""
                return parts[0], parts[1], headers, body
            name, colon, value = field.decode("latin-1").partition(":")
            if not colon:
                break
            headers[name.strip().lower()] = value.strip()  # a repeated header: the last one
        self.send(_BAD_REQUEST, "GET")
        return None

    def answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        event = proxy_event(self.routes, method, target, headers, body)
        if event is None:
            from chalicelib.api.http_middleware import answer_unknown_route

            return answer_unknown_route(headers)
        response: dict[str, Any] = self.app(event, self.context)
        return response

    def send(self, response: dict[str, Any], method: str) -> None:
        body = response.get("body") or b""
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body)
        elif isinstance(body, str):
            body = body.encode()
        status = int(response["statusCode"])
        lines = [f"HTTP/1.1 {status} {_reason(status)}"]
        single = response.get("headers") or {}
        if "Content-Type" not in single:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in single.items() if k.lower() != "content-length"]
        for name, values in (response.get("multiValueHeaders") or {}).items():
            lines += [f"{name}: {value}" for value in values]
        lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if method == "HEAD" else head + body)


MAX_LINE = 65536  # as http.server: a longer request line or header is refused
MAX_HEADERS = 100
_BAD_REQUEST = {
    "statusCode": 400,
    "headers": {"Content-Type": "text/plain", "Connection": "close"},
    "body": "Bad request",
}


@cache
def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@contextmanager
def serving(app: Any) -> Iterator[int]:
    """Serve `app` on a free loopback port, yielded; stopped, and the app given back its
    own class, on the way out."""
    from chalice.local import CustomLocalChalice, LocalChalice

    # As `chalice local` does: the app's current request kept per thread, since several
    # are answered at once; an app already made local (another server here) stays so.
    own_class = app.__class__
    if own_class is not CustomLocalChalice:
        CustomLocalChalice.__bases__ = (LocalChalice, own_class)
        app.__class__ = CustomLocalChalice
    handler = type(
        "AppHandler",
        (GatewayHandler,),
        {"app": app, "routes": Routes(app.routes), "context": LambdaContext()},
    )
    try:
        httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        httpd.daemon_threads = True
        thread = threading.Thread(target=httpd.serve_forever, name="loopback-http", daemon=True)
        thread.start()
        try:
            yield int(httpd.server_address[1])
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=10)
    finally:
        app.__class__ = own_class
