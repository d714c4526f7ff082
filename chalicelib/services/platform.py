"""The port to the operator's accredited platform (PA) and the client the settings name."""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.adapters.pa_client import FlowClient, PlatformAccount
from chalicelib.config import Settings


class FlowPlatform(Protocol):
    def submit_flow(
        self, *, tracking_id: str, name: str, syntax: str, processing_rule: str, content: bytes
    ) -> dict[str, Any]: ...

    def get_flow(self, flow_id: str) -> dict[str, Any]: ...


class InvoiceValidator(Protocol):
    def failures(self, xml: bytes) -> list[str]:
        """The rules `xml` breaks (XSD, EN 16931, BR-FR); [] when it may be sent."""
        ...


def platform_of(settings: Settings) -> FlowPlatform | None:
    """The configured platform's client, or None when none is configured."""
    if not settings.ereporting_platform_url:
        return None
    return FlowClient(
        PlatformAccount(
            base_url=settings.ereporting_platform_url,
            token_url=settings.ereporting_platform_token_url,
            client_id=settings.ereporting_platform_client_id,
            client_secret=settings.ereporting_platform_client_secret,
        )
    )
