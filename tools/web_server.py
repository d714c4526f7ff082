"""The reference booking page (`web/`) on its own origin, for `make run` and the tests.

    page = start_web_server(8003, page_config(api_url, stripe_url, tokens))
    ...                                  # http://127.0.0.1:8003/
    page.stop()

A stdlib HTTP server bound to 127.0.0.1 that serves the static files of `web/` and a
generated `/config.js` (`window.RELAIS_CONFIG = {...}`): the API base URL, the Stripe
publishable key and Stripe.js URL, and locally the demo tokens. A real deployment
serves `web/` from any static host with its own `config.js` (see web/config.example.js).

    python -m tools.web_server --port 8003 --api http://127.0.0.1:8000/v1 \
        --stripe-js http://127.0.0.1:8002/js.stripe.com/v3/
"""

from __future__ import annotations

import argparse
import functools
import json
import signal
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
LOCAL_PUBLISHABLE_KEY = "pk_test_relais_local"  # localstripe accepts any pk_ key


def local_origins(port: int) -> list[str]:
    """The origins a browser gives the page served on `port` (both host names)."""
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def page_config(
    api_url: str, stripe_url: str, demo_tokens: dict[str, str] | None = None
) -> dict[str, Any]:
    """The local `config.js`: the API, localstripe's Stripe.js, the demo tokens."""
    return {
        "apiBaseUrl": f"{api_url.rstrip('/')}/v1",
        "stripePublishableKey": LOCAL_PUBLISHABLE_KEY,
        "stripeJsUrl": f"{stripe_url.rstrip('/')}/js.stripe.com/v3/",
        "local": True,
        "demoTokens": dict(demo_tokens or {}),
    }


def config_js(config: dict[str, Any]) -> bytes:
    # "</" never appears raw, so the JSON cannot close a <script> element.
    body = json.dumps(config, indent=2, ensure_ascii=False).replace("</", "<\\/")
    return f"window.RELAIS_CONFIG = {body};\n".encode()


class PageHandler(SimpleHTTPRequestHandler):
    """GET/HEAD of the files under `web/`, and the generated `/config.js`."""

    config_body: ClassVar[bytes] = b""
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".html": "text/html; charset=utf-8",
    }

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.js":
            self._send_config(head=False)
        else:
            super().do_GET()

    def do_HEAD(self) -> None:
        if self.path.split("?", 1)[0] == "/config.js":
            self._send_config(head=True)
        else:
            super().do_HEAD()

    def _send_config(self, *, head: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/javascript; charset=utf-8")
        self.send_header("Content-Length", str(len(self.config_body)))
        self.end_headers()
        if not head:
            self.wfile.write(self.config_body)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: `make run` prints its own summary


class WebServer:
    """A running page server (the `Stoppable` of tools.run_local)."""

    name = "web page"

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __repr__(self) -> str:
        return f"WebServer({self.url})"


def start_web_server(port: int, config: dict[str, Any], root: Path = WEB_ROOT) -> WebServer:
    """Serve `root` and `config` as /config.js on 127.0.0.1:`port` (0: any free port)."""
    handler = type("Handler", (PageHandler,), {"config_body": config_js(config)})
    server = ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(handler, directory=str(root))
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="web-page", daemon=True)
    thread.start()
    return WebServer(server, thread)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.web_server")
    parser.add_argument("--port", type=int, default=8003)
    parser.add_argument("--api", required=True, help="API base URL, e.g. .../v1")
    parser.add_argument("--stripe-js", required=True, help="Stripe.js URL")
    parser.add_argument("--stripe-key", default=LOCAL_PUBLISHABLE_KEY)
    args = parser.parse_args(argv)
    config = {
        "apiBaseUrl": args.api.rstrip("/"),
        "stripePublishableKey": args.stripe_key,
        "stripeJsUrl": args.stripe_js,
        "local": False,
    }
    page = start_web_server(args.port, config)
    print(f"Relais page on {page.url} (Ctrl-C stops it)", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while page.running() and not stop.wait(1.0):
        pass
    page.stop()


if __name__ == "__main__":
    main()
