"""Lifecycle statuses of an e-invoice (French reform, AFNOR XP Z12-012 / DSE codes).

An invoice to a French business (its buyer has a SIREN) is deposited on the operator's
accredited platform, which then reports what became of it. Each status is kept once in
the invoice's history, in the order received; a status already recorded is ignored
(platforms resend them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
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
# How far along each status is: statuses may arrive out of order (a webhook overtaking
# another, a poll crossing a push), and the current status never goes back.
RANK = {"200": 0, "201": 1, "202": 2, "205": 3, "210": 4, "212": 4, "213": 4}
# A run claims a flow on the document's state (`in_flight`) before sending it, so that
# two runs that overlap (the hourly one, one a resend started) never both send it. A
# claim older than this is a run's that stopped between sending and recording (Lambda
# stops every run within 15 minutes): another run may take it over and send the same
# flow again, under the same trackingId.
CLAIM_TTL = timedelta(minutes=15)


def refusal_credit_source(document_id: str) -> str:
    """The source of the credit note that answers a refusal (210) of `document_id`."""
    return f"einvoice-refused-{document_id}"


def is_routed(document: Document) -> bool:
    """A document to a French business goes through the platform (B2B); others are
    e-reported instead."""
    return bool(document.buyer.siren)


def claim(flow: str, now: datetime) -> dict[str, str]:
    """A run's claim on sending `flow` (its trackingId), made at `now`."""
    return {"flow": flow, "since": now.isoformat(timespec="seconds")}


def claimed_elsewhere(state: dict[str, Any], now: datetime) -> bool:
    """Whether a run claimed a flow of this document less than `CLAIM_TTL` ago: it may
    still be sending it."""
    since = (state.get("in_flight") or {}).get("since")
    return isinstance(since, str) and now - datetime.fromisoformat(since) < CLAIM_TTL


def without_claim(state: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in state.items() if key != "in_flight"}


def with_status(
    history: list[dict[str, Any]], code: str, at: str, detail: Any = None, attempt: int = 1
) -> list[dict[str, Any]] | None:
    """The history with `code` added, or None if it holds it already for this deposit
    `attempt` or it is unknown. A document rejected (213) and deposited again after a fix
    starts a new attempt: its statuses follow, marked with the attempt number."""
    if code not in STATUSES or any(
        _same(entry, code, detail) for entry in _of_attempt(history, attempt)
    ):
        return None
    entry: dict[str, Any] = {"code": code, "label": STATUSES[code], "at": at}
    if detail is not None:
        entry["detail"] = detail
    if attempt > 1:
        entry["attempt"] = attempt
    return [*history, entry]


def _same(entry: dict[str, Any], code: str, detail: Any) -> bool:
    """Whether `entry` already records this status. 212 Encaissée may come once per
    payment (`detail.payment`): one sent for a payment is that payment's; one reported
    by the platform (no payment named) repeats any 212 recorded."""
    if entry["code"] != code:
        return False
    payment = detail.get("payment") if isinstance(detail, dict) else None
    if code != "212" or payment is None:
        return True
    return bool((entry.get("detail") or {}).get("payment") == payment)


def is_final(entry: dict[str, Any]) -> bool:
    """210, 213, and 212 once paid in full (a 212 for a partial payment is not final)."""
    if entry["code"] == "212":
        return not (entry.get("detail") or {}).get("partial")
    return entry["code"] in FINAL


def settled(history: list[dict[str, Any]], attempt: int = 1) -> bool:
    """The current attempt reached a final status: nothing more will come."""
    return any(is_final(entry) for entry in _of_attempt(history, attempt))


def current_attempt(history: list[dict[str, Any]]) -> int:
    return max((int(entry.get("attempt") or 1) for entry in history), default=1)


def _of_attempt(history: list[dict[str, Any]], attempt: int) -> list[dict[str, Any]]:
    return [entry for entry in history if int(entry.get("attempt") or 1) == attempt]


def current_status(history: list[dict[str, Any]], attempt: int = 1) -> str | None:
    """The furthest status of the current deposit attempt (the last one received among
    equals), else the last one recorded (a resend not made yet), else None."""
    entries = _of_attempt(history, attempt)
    if not entries:
        return str(history[-1]["code"]) if history else None
    best = max(range(len(entries)), key=lambda i: (RANK.get(entries[i]["code"], -1), i))
    return str(entries[best]["code"])


def with_reported(
    history: list[dict[str, Any]], reported: list[tuple[str, str]], attempt: int = 1
) -> list[dict[str, Any]] | None:
    """The history with the statuses the platform reported (`(code, at)`, by a poll or a
    webhook) added, or None when nothing is new. Each status once per attempt; unknown
    codes ignored; once the attempt reached a final status (210, 213, 212 paid in full)
    nothing more is taken, so a late or replayed status never moves it back. A status arriving after
    a further one is kept in the history (it happened) but leaves the current status."""
    changed = False
    for code, at in reported:
        if settled(history, attempt):
            break
        added = with_status(history, code, at, None, attempt)
        if added is not None:
            history, changed = added, True
    return history if changed else None
