"""A local Stripe-compatible server (localstripe) for the tests, `make run` and the demo.

    ls = start_localstripe(free_port())  # tools.local_stack; answers on http://127.0.0.1:<port>
    register_webhook(ls.base_url, "relais", "http://127.0.0.1:8000/v1/webhooks/stripe",
                     "whsec_...")
    ...
    ls.stop()

localstripe's own `localstripe --port N` listens on every interface (IPv4 and IPv6,
`::`) and has no host option; it also loads and rewrites one shared state file,
`/tmp/localstripe.pickle`, on every write, so two instances (parallel test workers,
`make run`) would trample each other. So this module runs localstripe's aiohttp app
itself (`python -m tools.localstripe_server serve --host 127.0.0.1 --port N`): bound to
loopback, state in memory or in a file of our choosing (`state_path`).

`confirm_as_browser` plays the browser's part (Stripe.js + Payment Element) for a
PaymentIntent: localstripe cannot `confirm` with a `payment_method` argument, so the
test card becomes a PaymentMethod, is set on the intent with `update`, then `confirm()`.

Test and demo tooling, not app code: it may import stripe directly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from tools.local_stack import free_port  # noqa: F401 (the helpers' callers import it here too)

if TYPE_CHECKING:
    import stripe

    from chalicelib.adapters.stripe_gateway import PaymentIntentInfo, StripeGateway

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent

# Test cards localstripe knows (same numbers as Stripe's test mode).
CARD_SUCCEEDS = "4242424242424242"
CARD_DECLINED_AT_CHARGE = "4000000000000341"
CARD_REQUIRES_AUTHENTICATION = "4000000000003220"


@dataclass
class LocalStripe:
    """A running localstripe process (see `start_localstripe`)."""

    name: ClassVar[str] = "localstripe"
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    _log_offset: int = field(default=0, repr=False)
    _delete_log: bool = field(default=False, repr=False)

    @property
    def base_url(self) -> str:
        """What `StripeGateway(api_base=...)` / `base_addresses={"api": ...}` takes."""
        return f"http://{self.host}:{self.port}"

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL); safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self._delete_log:
            self.log_path.unlink(missing_ok=True)

    def log_text(self) -> str:
        """What this server has written so far (its access log and errors)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_localstripe(
    port: int,
    log_path: Path | None = None,
    *,
    host: str = LOOPBACK,
    state_path: Path | None = None,
    startup_timeout: float = 20.0,
    python: str | None = None,
) -> LocalStripe:
    """Start localstripe on `host:port` and wait until it answers HTTP.

    `log_path`: where its output goes (appended); None: a temp file, deleted by `stop()`
    (read it with `log_text()`). `state_path`: a pickle file the server loads at start
    and rewrites on every change (None: state in memory only, lost at stop).
    `python`: an interpreter that has localstripe installed (default: this one).
    Raises RuntimeError, after stopping the process, if it exits (port taken...) or is
    not serving within `startup_timeout` seconds.
    """
    command = [
        python or sys.executable,
        "-m",
        "tools.localstripe_server",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
    ]
    if state_path is not None:
        command += ["--state", str(Path(state_path).resolve())]

    delete_log = log_path is None
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="localstripe-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:  # O_APPEND: the child and our reads never clash
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LocalStripe(
        process=process,
        host=host,
        port=port,
        log_path=log_path,
        _log_offset=offset,
        _delete_log=delete_log,
    )

    # Ready = *this* process announced it is serving (another server already on the
    # port would answer HTTP too) and HTTP answers.
    marker = _ready_marker(host, port, process.pid)
    deadline = time.monotonic() + startup_timeout
    while True:
        if process.poll() is not None:
            output = server.log_text()
            server.stop()
            raise RuntimeError(
                f"localstripe exited with code {process.returncode} at start "
                f"({host}:{port}):\n{output[-4000:]}"
            )
        if marker in server.log_text() and _answers(server.base_url):
            return server
        if time.monotonic() > deadline:
            output = server.log_text()
            server.stop()
            raise RuntimeError(
                f"localstripe did not answer on {server.base_url} within "
                f"{startup_timeout:.0f} s:\n{output[-4000:]}"
            )
        time.sleep(0.05)


def _ready_marker(host: str, port: int, pid: int) -> str:
    return f"localstripe serving on http://{host}:{port} (pid {pid})"


def _answers(base_url: str) -> bool:
    # Any HTTP answer will do (401 included): the server is up.
    try:
        with urllib.request.urlopen(f"{base_url}/v1/balance", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def register_webhook(
    base_url: str, name: str, url: str, secret: str, events: list[str] | None = None
) -> None:
    """Make localstripe POST signed events to `url` (about a second after each event).

    Registering the same `name` again replaces that endpoint. `events`: only these
    event types (None: all of them).
    """
    fields: list[tuple[str, str]] = [("url", url), ("secret", secret)]
    fields += [("events[]", event) for event in events or []]
    _post_form(f"{base_url}/_config/webhooks/{urllib.parse.quote(name, safe='')}", fields)


def clear_data(base_url: str) -> None:
    """Forget every object (customers, intents, charges...); webhooks stay registered."""
    request = urllib.request.Request(f"{base_url}/_config/data", method="DELETE")
    with urllib.request.urlopen(request, timeout=10):
        pass


def _post_form(url: str, fields: list[tuple[str, str]]) -> None:
    body = urllib.parse.urlencode(fields).encode("ascii")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        raise RuntimeError(f"localstripe refused POST {url}: {exc.code} {detail}") from exc


def confirm_as_browser(
    gateway_or_client: StripeGateway | stripe.StripeClient,
    payment_intent_id: str,
    card_number: str,
) -> PaymentIntentInfo:
    """Pay a PaymentIntent with a test card, as Stripe.js would in the browser.

    Creates a card PaymentMethod with `card_number`, sets it on the intent with
    `update(payment_method=...)` and calls `confirm()` (localstripe has no confirm with
    a `payment_method` argument). Answers the intent as confirmed: `succeeded` for
    4242424242424242, `requires_action` for 4000000000003220 (3-D Secure).
    A declined card (4000000000000341) raises `PaymentFailed`; the intent is then back
    to `requires_payment_method` with a `last_payment_error`, as with Stripe.
    Only for localstripe: real Stripe refuses raw card numbers from a server.
    """
    import stripe

    from chalicelib.adapters.stripe_gateway import (
        PaymentIntentInfo,
        StripeGateway,
        map_stripe_error,
    )

    client = (
        gateway_or_client.client
        if isinstance(gateway_or_client, StripeGateway)
        else gateway_or_client
    )
    try:
        method = client.v1.payment_methods.create(
            params={
                "type": "card",
                # Exactly these four keys: localstripe refuses any other.
                "card": {
                    "number": card_number,
                    "exp_month": 12,
                    "exp_year": dt.date.today().year + 3,
                    "cvc": "123",
                },
            }
        )
        client.v1.payment_intents.update(payment_intent_id, params={"payment_method": method.id})
        intent = client.v1.payment_intents.confirm(payment_intent_id)
    except stripe.StripeError as exc:
        raise map_stripe_error(exc) from exc
    return PaymentIntentInfo.from_stripe(intent)


# -- the server process ------------------------------------------------------------------


def _serve(host: str, port: int, state_path: Path | None) -> None:
    """Run localstripe's app on host:port (what `localstripe --port N` does, but bound to
    `host` and with its state file under our control)."""
    import logging
    import pickle

    from aiohttp import web
    from localstripe import resources

    send_setup_intent_events(resources)  # before `server` makes its routes of them
    from localstripe import server

    def load(store: Any) -> None:
        if state_path is None or not state_path.exists():
            return
        with open(state_path, "rb") as f:
            saved = pickle.load(f)  # our own file
        dict.clear(store)
        dict.update(store, saved)

    def dump(store: Any) -> None:
        if state_path is None:
            return
        tmp = state_path.with_name(state_path.name + ".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(store, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, state_path)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump
    if state_path is not None:
        state_path.parent.mkdir(parents=True, exist_ok=True)
        resources.store.try_load_from_disk()

    access = logging.getLogger("aiohttp.access")
    access.setLevel(logging.DEBUG)
    access.addHandler(logging.StreamHandler())

    def announce(*_: object) -> None:
        print(_ready_marker(host, port, os.getpid()), flush=True)

    from tools.localstripe_browser import install

    install(server.app)  # Stripe.js card confirmation from a browser (the web page)
    web.run_app(server.app, host=host, port=port, access_log=access, print=announce)


def send_setup_intent_events(resources: Any) -> None:
    """Make localstripe send `setup_intent.succeeded` when a SetupIntent is confirmed, as
    Stripe does (it sends `payment_intent.succeeded` for a PaymentIntent, nothing for a
    SetupIntent): a membership is charged, and becomes active, on that event."""
    from localstripe.webhooks import schedule_webhook

    setup_intent = resources.SetupIntent
    if getattr(setup_intent, "_relais_sends_events", False):
        return
    confirm = setup_intent._api_confirm.__func__

    def confirmed(cls: Any, id: str, **kwargs: Any) -> Any:
        intent = confirm(cls, id, **kwargs)
        if intent.status == "succeeded":
            schedule_webhook(resources.Event("setup_intent.succeeded", intent))
        return intent

    setup_intent._api_confirm = classmethod(confirmed)
    setup_intent._relais_sends_events = True
    # localstripe's extra routes hold the bound methods themselves: replace the confirm's.
    resources.extra_apis[:] = [
        (
            method,
            url,
            setup_intent._api_confirm if url.endswith("setup_intents/{id}/confirm") else f,
        )
        for method, url, f in resources.extra_apis
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.localstripe_server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run localstripe in the foreground")
    serve.add_argument("--host", default=LOOPBACK)
    serve.add_argument("--port", type=int, default=8002)
    serve.add_argument("--state", type=Path, default=None, help="pickle file for its state")
    args = parser.parse_args(argv)
    if args.command == "serve":
        _serve(args.host, args.port, args.state)


if __name__ == "__main__":
    main()
