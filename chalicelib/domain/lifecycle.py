"""Lifecycle statuses of an e-invoice (French reform, AFNOR XP Z12-012 / DSE codes).

An invoice to a French business (its buyer has a SIREN) is deposited on the operator's
accredited platform, which then reports what became of it. Each status is kept once in
the invoice's history, in the order received; a status already recorded is ignored
(platforms resend them).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.documents import Document

STATUSES = {
    "200": "Déposée",
    "201": "Émise",
    "202": "Reçue",
    "205": "Approuvée",
    "210": "Refusée",
    "212": "Encaissée",
    "213": "Rejetée",
}
# Nothing more will come from the platform once an invoice is in one of these.
FINAL = frozenset({"210", "212", "213"})


def is_routed(document: Document) -> bool:
    """A document to a French business goes through the platform (B2B); others are
    e-reported instead."""
    return bool(document.buyer.siren)


def with_status(
    history: list[dict[str, Any]], code: str, at: str, detail: Any = None, attempt: int = 1
) -> list[dict[str, Any]] | None:
    """The history with `code` added, or None if it holds it already for this deposit
    `attempt` or it is unknown. A document rejected (213) and deposited again after a fix
    starts a new attempt: its statuses follow, marked with the attempt number."""
    if code not in STATUSES or any(
        entry["code"] == code and int(entry.get("attempt") or 1) == attempt for entry in history
    ):
        return None
    entry: dict[str, Any] = {"code": code, "label": STATUSES[code], "at": at}
    if detail is not None:
        entry["detail"] = detail
    if attempt > 1:
        entry["attempt"] = attempt
    return [*history, entry]


def current_attempt(history: list[dict[str, Any]]) -> int:
    return max((int(entry.get("attempt") or 1) for entry in history), default=1)
