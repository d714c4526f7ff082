"""The container-wide context and token verifier, built on first use (never at import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.auth import TokenVerifier
    from chalicelib.services.context import Context

_context: Context | None = None
_verifier: TokenVerifier | None = None


def get_context() -> Context:
    global _context
    if _context is None:
        # Settings (pydantic-settings) and the adapters load on the first request.
        from chalicelib.config import get_settings
        from chalicelib.services.context import build_context

        _context = build_context(get_settings())
    return _context


def get_verifier() -> TokenVerifier:
    global _verifier
    if _verifier is None:
        from chalicelib.auth import TokenVerifier

        _verifier = TokenVerifier(get_context().settings)
    return _verifier


def use_context(context: Context | None) -> None:
    """Swap the context (tests); None rebuilds from the environment on next use."""
    global _context, _verifier
    _context = context
    _verifier = None
