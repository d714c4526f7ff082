"""The port to the operator's accredited platform (PA) and the client the settings name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.adapters.pa_client import FlowClient, PlatformAccount

if TYPE_CHECKING:  # the settings (pydantic-settings) load with the first request
    from chalicelib.config import Settings


class FlowPlatform(Protocol):
    def submit_flow(
        self, *, tracking_id: str, name: str, syntax: str, processing_rule: str, content: bytes
    ) -> dict[str, Any]: ...

    def get_flow(self, flow_id: str) -> dict[str, Any]: ...


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
