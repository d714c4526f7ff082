"""The app over real HTTP on 127.0.0.1, in this process (so it shares the process's
Context and mocks), for the bench and the tests that must go through a socket.

A small local API Gateway: the standard library's threaded HTTP/1.1 server (keep-alive,
no Nagle), each request turned into the REST proxy event the deployed gateway sends
(`tools.gateway_event`) and the app's answer written back in one send. Unknown paths
get the deployed gateway's 404 problem. `chalice local`'s own server did the same with
a route scan, a Lambda context and a header write each per request; `make run` still
uses `chalice local` itself (its CLI and reloading).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from tools.gateway_event import LambdaContext, Routes, proxy_event
from tools.local_stack import free_port


class GatewayHandler(BaseHTTPRequestHandler):
    """One connection: each request through the app as Lambda would be called."""

    protocol_version = "HTTP/1.1"
    # As API Gateway: headers and body are sent at once, and the client's delayed ACK
    # must not add 40 ms to an answer.
    disable_nagle_algorithm = True
    app: ClassVar[Any]
    routes: ClassVar[Routes]
    context: ClassVar[LambdaContext]

    def log_message(self, *_: Any) -> None:  # no access log line on stderr
        pass

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        event = proxy_event(self.routes, self.command, self.path, headers, body)
        if event is None:
            from chalicelib.api.http_middleware import answer_unknown_route

            response = answer_unknown_route(headers)
        else:
            response = self.app(event, self.context)
        self.send(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = answer

    def send(self, response: dict[str, Any]) -> None:
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
        self.wfile.write(head if self.command == "HEAD" else head + body)


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
