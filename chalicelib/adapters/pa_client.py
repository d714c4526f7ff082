"""Client of an accredited platform (PA), in the shape of the AFNOR XP Z12-013 flow API.

* OAuth2 client credentials: `POST {token_url}` (form: grant_type, client_id,
  client_secret) answers an `access_token` and its `expires_in`; the token is reused
  until a minute before it expires.
* `POST {base_url}/v1/flows`, multipart/form-data: a `flowInfo` JSON part (`trackingId`,
  `name`, `flowSyntax`, `processingRule`) and a `file` part. The platform answers the
  `flowId`; `trackingId` is our idempotency key, so a flow sent twice is one flow.
* `GET {base_url}/v1/flows/{flowId}`: the flow and its status.
* `POST {base_url}/v1/directory-line/search`, JSON `{"filters": {"siren": …}}`: the
  directory lines of a business (`addressingIdentifier`, `siren`, `siret`?,
  `routingCode`?); its SIREN-level line (no SIRET, no routing code) is its electronic
  address. The path and fields follow our reading of XP Z12-013's directory service:
  check them against the chosen platform's documentation.

Only the standard library (urllib) is used: the Lambda package carries no HTTP library.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any


class PlatformRejected(Exception):
    """The platform refused the flow (4xx): sending it again will not help."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"platform answered {status}: {detail}")
        self.status = status
        self.detail = detail


class PlatformUnavailable(Exception):
    """The platform could not be reached or failed (5xx): send again later."""


class PlatformAuthFailed(PlatformUnavailable):
    """The platform refused our credentials (401/403): nothing is wrong with the flow, the
    operator's settings are; send again once they are fixed."""


@dataclass(frozen=True)
class PlatformAccount:
    base_url: str
    token_url: str
    client_id: str
    client_secret: str


class FlowClient:
    def __init__(self, account: PlatformAccount, timeout: float = 10.0) -> None:
        self._account = account
        self._timeout = timeout
        self._token: tuple[str, float] | None = None

    def submit_flow(
        self, *, tracking_id: str, name: str, syntax: str, processing_rule: str, content: bytes
    ) -> dict[str, Any]:
        info = {
            "trackingId": tracking_id,
            "name": name,
            "flowSyntax": syntax,
            "processingRule": processing_rule,
        }
        boundary = uuid.uuid4().hex
        body = _multipart(boundary, info, name, content)
        return self._call(
            "POST",
            "/v1/flows",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )

    def get_flow(self, flow_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/flows/{urllib.parse.quote(flow_id)}", None, {})

    def find_address(self, siren: str) -> str | None:
        """The business's electronic address in the directory, or None if it has none
        there (404 or no line). Raises PlatformUnavailable / PlatformRejected otherwise."""
        query = json.dumps({"filters": {"siren": siren}}).encode()
        try:
            answer = self._call(
                "POST",
                "/v1/directory-line/search",
                query,
                {"Content-Type": "application/json"},
            )
        except PlatformRejected as exc:
            if exc.status == 404:
                return None
            raise
        return siren_level_address(answer, siren)

    def _call(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> dict[str, Any]:
        headers = {**headers, "Authorization": f"Bearer {self._access_token()}"}
        request = urllib.request.Request(
            self._account.base_url.rstrip("/") + path, body, headers, method=method
        )
        return _send(request, self._timeout)

    def _access_token(self) -> str:
        if self._token and self._token[1] > time.monotonic():
            return self._token[0]
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self._account.client_id,
                "client_secret": self._account.client_secret,
            }
        ).encode()
        request = urllib.request.Request(
            self._account.token_url,
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            answer = _send(request, self._timeout)
        except PlatformRejected as exc:  # OAuth2 answers a bad client with 400 or 401
            raise PlatformAuthFailed(f"token refused ({exc.status})") from exc
        lifetime = float(answer.get("expires_in") or 300)
        self._token = (str(answer["access_token"]), time.monotonic() + max(lifetime - 60, 0))
        return self._token[0]


def siren_level_address(answer: dict[str, Any], siren: str) -> str | None:
    """The address of the business's SIREN-level line among the search results."""
    lines = [
        line
        for line in answer.get("results") or []
        if isinstance(line, dict)
        and line.get("siren") == siren
        and isinstance(line.get("addressingIdentifier"), str)
    ]
    top = [line for line in lines if not line.get("siret") and not line.get("routingCode")]
    chosen = (top or lines)[:1]
    return str(chosen[0]["addressingIdentifier"]) if chosen else None


def _send(request: urllib.request.Request, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        if exc.code in (401, 403):
            raise PlatformAuthFailed(f"platform answered {exc.code}") from exc
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise PlatformRejected(exc.code, _json_or_text(detail)) from exc
        raise PlatformUnavailable(f"platform answered {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise PlatformUnavailable(str(exc)) from exc
    answer = _json_or_text(text)
    return answer if isinstance(answer, dict) else {"detail": answer}


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _multipart(boundary: str, info: dict[str, str], filename: str, content: bytes) -> bytes:
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="flowInfo"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{json.dumps(info)}\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/xml\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode()
