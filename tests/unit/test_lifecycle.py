"""Lifecycle statuses of a routed invoice: each kept once, unknown codes ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.documents import Document
from chalicelib.domain.lifecycle import (
    CLAIM_TTL,
    claim,
    claimed_elsewhere,
    current_attempt,
    is_routed,
    with_status,
    without_claim,
)
from tests.unit.test_invoice_pdf import b2b_invoice, invoice


def test_a_status_is_added_with_its_label() -> None:
    assert with_status([], "202", "2027-01-02") == [
        {"code": "202", "label": "Reçue", "at": "2027-01-02"}
    ]


def test_a_status_already_recorded_is_ignored() -> None:
    history = with_status([], "200", "2027-01-01") or []
    assert with_status(history, "200", "2027-01-03") is None


def test_an_unknown_status_code_is_ignored() -> None:
    assert with_status([], "999", "2027-01-01") is None


def test_only_documents_to_a_business_are_routed() -> None:
    assert is_routed(Document.of(b2b_invoice())) is True  # its buyer has a SIREN
    assert is_routed(Document.of(invoice())) is False  # a member: SIREN None


def test_a_new_deposit_attempt_records_its_statuses_again_marked() -> None:
    first = with_status(with_status([], "200", "2027-01-01") or [], "213", "2027-01-02") or []
    again = with_status(first, "200", "2027-01-05", attempt=2) or []
    assert [(e["code"], e.get("attempt")) for e in again] == [
        ("200", None),
        ("213", None),
        ("200", 2),
    ]
    assert current_attempt(again) == 2 and current_attempt([]) == 1
    assert with_status(again, "200", "2027-01-06", attempt=2) is None


def test_a_claim_holds_a_document_for_fifteen_minutes_then_may_be_taken_over() -> None:
    made = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    state = {"document_id": "inv-1", "in_flight": claim("inv-1", made)}
    assert state["in_flight"] == {"flow": "inv-1", "since": "2027-01-05T09:00:00+00:00"}
    assert claimed_elsewhere(state, made + timedelta(minutes=14, seconds=59)) is True
    assert claimed_elsewhere(state, made + CLAIM_TTL) is False  # the run that made it stopped
    assert claimed_elsewhere({"document_id": "inv-1"}, made) is False
    assert without_claim(state) == {"document_id": "inv-1"}
