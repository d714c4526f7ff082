"""A fake accredited platform on loopback, in the AFNOR XP Z12-013 flow API shape, for
the tests (tests/support/fake_pa.py) and `make run` (tools/run_local.py).

`POST /token` (OAuth2 client credentials) hands out a bearer token; `POST /v1/flows`
(multipart: `flowInfo` JSON + `file`) validates the file with the official artefacts (an
e-report, `FRR`: flux 10 XSD and schematron; an invoice, `CII`: EN 16931 and BR-FR) and
answers 202 with a `flowId`, or 400 with the failed rules; a `CDAR` flow is a status from
the issuer (212 Encaissée), added to the invoice's lifecycle. The same `trackingId` twice is
one flow. `GET /v1/flows/{flowId}` answers the flow with the lifecycle statuses that
`report` added (and, with `auto_statuses`, the ones a buyer's platform would send at once:
`make run` plays 201 Émise and 202 Reçue). `failures` makes it answer errors on purpose.

Directory: `POST /v1/directory-line/search` (`{"filters": {"siren"}}`) answers the lines
of `directory` (SIREN -> electronic address), a SIREN-level line each; `lookups` counts
the searches; `directory_failures` makes it answer errors on purpose.

Status webhooks: `subscribe(url, secret)` (what an operator sets in its platform's
portal) makes every status the platform learns of (the `auto_statuses` at deposit,
`report`, a 212 from the issuer) queue a signed delivery to `url` (the operator's
`/v1/einvoicing/platforms/{operator_id}/webhook`), in the shape of `GET /v1/flows/{id}`;
`deliver_webhooks()` sends the queue (`send`: an HTTP POST by default; tests pass the
in-process client). Deliveries that fail stay queued.

`validate(syntax, content)` gives the failed rules of a file; by default the official
artefacts: the app's own CII validator (EN 16931 + BR-FR) and the flux 10 XSD and
schematron of tests/data/einvoicing/.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.adapters.cdar_status import referenced_status
from chalicelib.domain.webhook_signature import HEADER, signature_header

# A webhook delivery: (url, raw body, headers) -> the HTTP status answered.
Sender = Callable[[str, bytes, dict[str, str]], int]

CLIENT_ID, CLIENT_SECRET, TOKEN = "relais", "s3cret", "token-1"


def official_checks(syntax: str, content: bytes) -> list[str]:
    if syntax == "CII":
        from chalicelib.adapters.cii_validation import CiiValidator

        return CiiValidator().failures(content)
    from tests.support.einvoicing import flux10_failures

    return flux10_failures(content)


class FakePlatform:
    def __init__(
        self,
        validate: Callable[[str, bytes], list[str]] = official_checks,
        auto_statuses: Iterable[str] = (),
        port: int = 0,
    ) -> None:
        self.auto_statuses = tuple(auto_statuses)
        self.flows: dict[str, dict[str, Any]] = {}  # by trackingId
        self.posts = 0
        self.failures: list[int] = []  # statuses to answer next, in order
        self.statuses: list[tuple[str, str, bytes]] = []  # issuer statuses: number, code, xml
        self.contents: dict[str, bytes] = {}  # the files accepted, by trackingId
        self.directory: dict[str, str] = {}  # SIREN -> electronic address (BT-49)
        self.lookups: list[str] = []  # the SIRENs searched, in order
        self.directory_failures: list[int] = []  # statuses the directory answers next
        self.webhook: tuple[str, str] | None = None  # (url, secret) once subscribed
        self.outbox: list[bytes] = []  # signed deliveries waiting (bodies)
        self.delivered: list[tuple[bytes, int]] = []  # (body, status answered)
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/token":
                    self._token(body)
                elif self.path == "/v1/flows":
                    self._flow(body)
                elif self.path == "/v1/directory-line/search":
                    self._search(body)
                else:
                    self._answer(404, {"error": "not found"})

            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"error": "unauthorized"})
                flow_id = self.path.removeprefix("/v1/flows/")
                found = [f for f in platform.flows.values() if f["flowId"] == flow_id]
                self._answer(200, found[0]) if found else self._answer(404, {"error": "none"})

            def _token(self, body: bytes) -> None:
                form = dict(urllib.parse.parse_qsl(body.decode()))
                good = (form.get("client_id"), form.get("client_secret")) == (
                    CLIENT_ID,
                    CLIENT_SECRET,
                )
                if form.get("grant_type") == "client_credentials" and good:
                    self._answer(200, {"access_token": TOKEN, "expires_in": 3600})
                else:
                    self._answer(401, {"error": "invalid_client"})

            def _flow(self, body: bytes) -> None:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"error": "unauthorized"})
                platform.posts += 1
                if platform.failures:
                    return self._answer(platform.failures.pop(0), {"error": "as asked"})
                info, content = _parts(self.headers["Content-Type"], body)
                known = platform.flows.get(info["trackingId"])
                if known:
                    return self._answer(202, known)
                if info["flowSyntax"] == "CDAR":
                    return self._status(info, content)
                failed = validate(info["flowSyntax"], content)
                if failed:
                    return self._answer(400, {"errors": failed})
                at = datetime.now(UTC).isoformat(timespec="seconds")
                lifecycle = [{"code": code, "at": at} for code in platform.auto_statuses]
                if info["flowSyntax"] != "CII":
                    lifecycle = []
                flow = {"flowId": f"flow-{len(platform.flows) + 1}", **info, "lifecycle": lifecycle}
                platform.flows[info["trackingId"]] = flow
                platform.contents[info["trackingId"]] = content
                if lifecycle:
                    platform.push(info["trackingId"], lifecycle)
                self._answer(202, flow)

            def _search(self, body: bytes) -> None:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"error": "unauthorized"})
                if platform.directory_failures:
                    return self._answer(platform.directory_failures.pop(0), {"error": "as asked"})
                siren = str(json.loads(body).get("filters", {}).get("siren", ""))
                platform.lookups.append(siren)
                address = platform.directory.get(siren)
                lines = [{"siren": siren, "addressingIdentifier": address}] if address else []
                self._answer(200, {"results": lines})

            def _status(self, info: dict[str, Any], content: bytes) -> None:
                """A lifecycle status from the issuer (212 Encaissée): added to the
                invoice's flow, as the platform would pass it on to the buyer."""
                try:
                    number, code = referenced_status(content)
                except (ValueError, SyntaxError):
                    return self._answer(400, {"errors": ["not a CDAR status message"]})
                invoices = [f for f in platform.flows.values() if f["name"] == f"{number}.xml"]
                if not invoices or code not in ("212",):
                    return self._answer(400, {"errors": [f"unknown invoice or status {code}"]})
                status = {"code": code, "at": datetime.now(UTC).isoformat()}
                invoices[0]["lifecycle"].append(status)
                platform.push(invoices[0]["trackingId"], [status])
                flow = {"flowId": f"flow-{len(platform.flows) + 1}", **info, "lifecycle": []}
                platform.flows[info["trackingId"]] = flow
                platform.statuses.append((number, code, content))
                self._answer(202, flow)

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def report(self, tracking_id: str, code: str, at: str = "2027-01-02T10:00:00+01:00") -> None:
        """The buyer's side moved the invoice on: the platform now reports `code`."""
        self.flows[tracking_id]["lifecycle"].append({"code": code, "at": at})
        self.push(tracking_id, [{"code": code, "at": at}])

    def subscribe(self, url: str, secret: str) -> None:
        """Push statuses to `url`, signed with `secret` (the operator's webhook secret)."""
        self.webhook = (url, secret)

    def push(self, tracking_id: str, statuses: list[dict[str, str]]) -> None:
        """Queue a delivery of `statuses` of a flow (nothing without a subscription)."""
        if self.webhook is None:
            return
        flow = self.flows[tracking_id]
        event = {"flowId": flow["flowId"], "trackingId": tracking_id, "lifecycle": statuses}
        self.outbox.append(json.dumps(event).encode())

    def deliver_webhooks(
        self, send: Sender | None = None, now: Callable[[], float] = time.time
    ) -> int:
        """Send the queued deliveries, signed `now()`; those not answered 2xx stay
        queued. Answers how many were accepted."""
        if self.webhook is None:
            return 0
        url, secret = self.webhook
        sender = send or _post
        waiting, self.outbox = self.outbox, []
        accepted = 0
        for body in waiting:
            headers = {
                "Content-Type": "application/json",
                HEADER: signature_header(secret, int(now()), body),
            }
            status = sender(url, body, headers)
            self.delivered.append((body, status))
            if 200 <= status < 300:
                accepted += 1
            else:
                self.outbox.append(body)
        return accepted

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # The `Stoppable` of tools/run_local.py.
    name = "fake platform"

    def stop(self) -> None:
        if self._thread.is_alive():
            self.close()

    def running(self) -> bool:
        return self._thread.is_alive()


def _parts(content_type: str, body: bytes) -> tuple[dict[str, Any], bytes]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = {
        part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
    }
    info = json.loads(parts["flowInfo"].get_payload(decode=True))
    return info, parts["file"].get_payload(decode=True)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0
