"""The container-wide context and token verifier, built on first use (never at import).

Settings are validated there, once: wrong settings are logged as one structured error
(each wrong variable with its allowed range) and every request then answers 503
`misconfigured`, with nothing of the configuration in the answer.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from chalicelib.errors import Misconfigured

if TYPE_CHECKING:
    from chalicelib.auth import TokenVerifier
    from chalicelib.config import ConfigurationError
    from chalicelib.services.context import Context

logger = logging.getLogger("relais.config")
_context: Context | None = None
_verifier: TokenVerifier | None = None
_misconfigured: ConfigurationError | None = None


def get_context() -> Context:
    global _context, _misconfigured
    if _misconfigured is not None:
        raise Misconfigured("The service is misconfigured; its operators have been told.")
    if _context is None:
        # Settings (pydantic-settings) and the adapters load on the first request.
        from chalicelib.config import ConfigurationError, get_settings
        from chalicelib.services.context import build_context

        try:
            settings = get_settings()
        except ConfigurationError as exc:
            _misconfigured = exc
            logger.error(json.dumps({"event": "misconfigured", "problems": exc.problems}))
            raise Misconfigured(
                "The service is misconfigured; its operators have been told."
            ) from None
        _context = build_context(settings)
    return _context


def get_verifier() -> TokenVerifier:
    global _verifier
    if _verifier is None:
        from chalicelib.auth import TokenVerifier

        _verifier = TokenVerifier(get_context().settings)
    return _verifier


def use_context(context: Context | None) -> None:
    """Swap the context (tests); None rebuilds from the environment on next use."""
    global _context, _verifier, _misconfigured
    _context = context
    _verifier = None
    _misconfigured = None
