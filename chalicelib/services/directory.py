"""A business buyer's electronic address (BT-49, scheme 0225), from the platform's directory.

Before a B2B invoice is deposited, the buyer's SIREN is looked up in the operator's
platform directory (`Directory.find_address`) and the answer kept with the day it was
asked (adapters/directory_store.py), for `FRESH` days (`NOT_FOUND` days when the
directory had no line for it). The address found goes into the CII sent (BT-49).

When the directory does not know the business, or cannot be reached and nothing was
kept, today's behaviour stays: BT-49 is the SIREN itself, the SIREN-level address every
business has in the directory (adapters/cii_france.py). A platform outage never holds
an invoice back for this: the last address kept, if any, is used.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalicelib.adapters.pa_client import PlatformRejected, PlatformUnavailable
from chalicelib.domain.documents import Document
from chalicelib.domain.timezones import PARIS
from chalicelib.observability import logger
from chalicelib.services.context import Context
from chalicelib.services.platform import Directory

FRESH = timedelta(days=30)
NOT_FOUND = timedelta(days=7)


def buyer_address(ctx: Context, platform: Any, siren: str) -> str | None:
    """The directory address of the business `siren` (cached), or None if unknown."""
    today = ctx.clock.now().astimezone(PARIS).date()
    kept = ctx.directory.get(siren)
    if kept is not None:
        age = today - date.fromisoformat(kept["looked_up_on"])
        if age < (FRESH if kept.get("address") else NOT_FOUND):
            return kept.get("address")
    if not isinstance(platform, Directory):
        return kept.get("address") if kept else None
    try:
        found = platform.find_address(siren)
    except (PlatformUnavailable, PlatformRejected) as exc:
        logger().warning("directory_lookup_failed", extra={"siren": siren, "reason": str(exc)})
        return kept.get("address") if kept else None
    if found is not None and not found.startswith(siren):
        found = None  # not this business's line (BR-FR-21): keep the SIREN
    ctx.directory.put(siren, found, today.isoformat())
    return found


def with_directory_address(document: Document, address: str | None) -> Document:
    """The document as sent: its buyer's directory address set (the issued document
    itself never changes)."""
    if not address or document.buyer.electronic_address == address:
        return document
    buyer = document.buyer.model_copy(update={"electronic_address": address})
    return document.model_copy(update={"buyer": buyer})
