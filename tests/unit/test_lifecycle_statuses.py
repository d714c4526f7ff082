"""Statuses from the platform (poll or webhook): once each, never back from a final one;
the directory line that is a business's electronic address."""

from __future__ import annotations

from chalicelib.adapters.pa_client import siren_level_address
from chalicelib.domain.lifecycle import current_status, settled, with_reported, with_status

AT = "2027-01-02T10:00:00+01:00"


def deposited() -> list[dict]:
    return with_status([], "200", AT) or []


def test_each_status_is_taken_once_and_unknown_codes_are_ignored() -> None:
    history = with_reported(deposited(), [("201", AT), ("201", AT), ("999", AT), ("202", AT)])
    assert history is not None
    assert [entry["code"] for entry in history] == ["200", "201", "202"]
    assert with_reported(history, [("201", AT), ("202", AT)]) is None  # a replay


def test_a_late_status_is_kept_but_the_current_status_stays_the_furthest() -> None:
    history = with_reported(deposited(), [("205", AT), ("202", AT)]) or []
    assert [entry["code"] for entry in history] == ["200", "205", "202"]
    assert current_status(history) == "205"


def test_nothing_is_taken_after_a_final_status() -> None:
    refused = with_reported(deposited(), [("210", AT), ("205", AT)]) or []
    assert [entry["code"] for entry in refused] == ["200", "210"]
    assert with_reported(refused, [("201", AT), ("212", AT)]) is None
    assert current_status(refused) == "210"


def test_a_new_deposit_attempt_has_its_own_statuses() -> None:
    rejected = with_reported(deposited(), [("213", AT)]) or []
    assert current_status(rejected, attempt=2) == "213"  # resend not made yet
    again = with_status(rejected, "200", AT, None, 2) or []
    again = with_reported(again, [("201", AT), ("213", AT)], attempt=2) or []
    assert [(e["code"], e.get("attempt", 1)) for e in again] == [
        ("200", 1),
        ("213", 1),
        ("200", 2),
        ("201", 2),
        ("213", 2),
    ]
    assert current_status(again, attempt=2) == "213"
    assert current_status([]) is None


def test_the_siren_level_directory_line_is_the_address() -> None:
    siren = "552100554"
    answer = {
        "results": [
            {"siren": siren, "siret": "55210055400013", "addressingIdentifier": f"{siren}_ETAB"},
            {"siren": siren, "addressingIdentifier": f"{siren}_SIEGE"},
            {"siren": "999999999", "addressingIdentifier": "999999999"},
        ]
    }
    assert siren_level_address(answer, siren) == f"{siren}_SIEGE"
    assert siren_level_address({"results": answer["results"][:1]}, siren) == f"{siren}_ETAB"
    assert siren_level_address({"results": []}, siren) is None
    assert siren_level_address({}, siren) is None


def test_a_212_per_payment_only_the_last_one_final() -> None:
    history = deposited()
    first = with_status(history, "212", AT, {"payment": "p1", "partial": True})
    assert first is not None and not settled(first)
    assert with_status(first, "212", AT, {"payment": "p1", "partial": True}) is None  # once
    assert with_reported(first, [("212", AT)]) is None  # the platform's echo: the same
    taken = with_reported(first, [("205", AT)])  # statuses still come after a partial one
    assert taken is not None and current_status(taken) == "212"
    second = with_status(taken, "212", AT, {"payment": "p2"}) or []
    assert settled(second)
    assert with_reported(second, [("210", AT)]) is None
