"""What `Api` needs of chalice's test client (`.http.request(...)`), over a real socket:
for tests that must go through HTTP (the authorization matrix)."""

from __future__ import annotations

import http.client
from dataclasses import dataclass


@dataclass
class HttpResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes


class LoopbackTransport:
    """Each request on a new connection to the app served on 127.0.0.1:`port`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.http = self

    def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | str
    ) -> HttpResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return HttpResponse(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()
