"""The app over real HTTP on 127.0.0.1, in this process: `chalice local`'s threaded
server (so it shares the process's Context and mocks), for the bench and the tests that
must go through a socket."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tools.local_stack import free_port


@contextmanager
def serving(app: Any) -> Iterator[int]:
    """Serve `app` on a free loopback port, yielded; stopped, and the app given back its
    own class, on the way out."""
    from chalice.config import Config
    from chalice.local import (
        ChaliceRequestHandler,
        CustomLocalChalice,
        LocalChalice,
        LocalDevServer,
    )

    class Handler(ChaliceRequestHandler):
        # No Nagle, as API Gateway: headers and body are written apart, and the client's
        # delayed ACK would add 40 ms to every answer. No access log line on stderr.
        disable_nagle_algorithm = True

        def log_message(self, *_: Any) -> None:
            pass

    # What `chalice local` does (chalice.local.create_local_server), with that handler;
    # an app that chalice already made local (another server in this process) stays so.
    own_class = app.__class__
    if own_class is not CustomLocalChalice:
        CustomLocalChalice.__bases__ = (LocalChalice, own_class)
        app.__class__ = CustomLocalChalice
    try:
        config = Config.create(chalice_stage="dev")
        server = LocalDevServer(app, config, "127.0.0.1", free_port(), handler_cls=Handler)
        httpd = server.server
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
