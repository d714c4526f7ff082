"""Make `chalice local` (and Chalice's test client) answer unknown routes as deployed.

Deployed, API Gateway answers a path that no route has with the gateway response
that infra/package.py sets (a 404 `not_found` problem); `chalice local` answers a 403
"Missing Authentication Token" instead. This swaps in the deployed answer, built by the
app's own middleware so headers (request id, CORS) are the same as on any other answer.
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    from chalice.local import LocalGateway

    if getattr(LocalGateway, "relais_unknown_routes", False):
        return
    original = LocalGateway.handle_request

    def handle_request(
        self: LocalGateway, method: str, path: str, headers: dict[str, str], body: Any
    ) -> Any:
        try:
            self.event_converter._route_matcher.match_route(path)
        except ValueError:
            from chalicelib.api.http_middleware import answer_unknown_route

            return answer_unknown_route(headers)
        return original(self, method, path, headers, body)

    LocalGateway.handle_request = handle_request  # type: ignore[method-assign]
    LocalGateway.relais_unknown_routes = True  # type: ignore[attr-defined]
