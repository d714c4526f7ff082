"""The `out_of_service` marks of a relay's resources converge on what the relay and its
operator say as stored: marks computed from a relay or operator an edit has overtaken are
refused and computed again, never written over the later edit's."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.auth import Principal
from chalicelib.domain.catalogue_patches import OperatorPatch, RelayPatch
from chalicelib.services.catalogue_edits import patch_operator, patch_relay
from chalicelib.services.context import Context

ADMIN = Principal(sub="admin-1", groups=frozenset({"admin"}))


def marked_out(ctx: Context, network: dict[str, str]) -> bool:
    item = ctx.table.get(f"RELAY#{network['relay']}", f"RESOURCE#{network['pool']}")
    assert item is not None
    return "out_of_service" in item


def test_marks_computed_from_a_relay_an_edit_overtook_are_refused(
    ctx: Context, network: dict[str, str]
) -> None:
    # GIVEN the relay as read before an edit re-activated it (version 2, inactive)
    patch_relay(ctx, ADMIN, network["relay"], '"1"', RelayPatch(active=False))
    stale = ctx.catalogue_store.load_relay(network["relay"]).relays[network["relay"]]
    operator = ctx.versioned.operator(network["operator"])
    patch_relay(ctx, ADMIN, network["relay"], '"2"', RelayPatch(active=True))
    # WHEN marks computed from it land
    written = ctx.versioned.mark_out_of_service(stale, operator, [network["pool"]], True)
    # THEN they are refused: the pool stays in service
    assert (written, marked_out(ctx, network)) == (False, False)


def test_a_relay_reactivated_while_its_operators_marks_are_computed_stays_in_service(
    ctx: Context, network: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an inactive relay of an inactive operator
    patch_relay(ctx, ADMIN, network["relay"], '"1"', RelayPatch(active=False))
    patch_operator(ctx, ADMIN, network["operator"], 1, OperatorPatch(active=False))
    assert marked_out(ctx, network)
    # WHEN the relay is re-activated (start to end) between the moment the operator's
    # re-activation computed its marks (the relay still inactive: "out") and their write
    real_mark = ctx.versioned.mark_out_of_service
    overtaken: list[bool] = []

    def relay_edit_first(*args: Any) -> bool:
        if not overtaken:
            overtaken.append(True)
            patch_relay(ctx, ADMIN, network["relay"], '"2"', RelayPatch(active=True))
        return real_mark(*args)

    monkeypatch.setattr(ctx.versioned, "mark_out_of_service", relay_edit_first)
    patch_operator(ctx, ADMIN, network["operator"], 2, OperatorPatch(active=True))
    # THEN the operator's stale "out" is refused and computed again: in service
    assert not marked_out(ctx, network)
