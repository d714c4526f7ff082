"""A relay or operator deactivated while another container still holds the catalogue
from before (`CATALOGUE_CACHE_SECONDS`): its new bookings are refused by their own
transaction (404 `not_found`, as a deactivated resource's), and reactivating it makes it
bookable again; existing bookings stay (services/relay_service.py)."""

from __future__ import annotations

import pytest

from chalicelib.services.context import Context
from tests.support.api import Answer, Api, assert_problem, book, booked


def set_active(api: Api, path: str, active: bool, token: str) -> None:
    version = api.get(path, token=token).json["version"]
    answer: Answer = api.request(
        "PATCH", path, {"active": active}, token=token, headers={"If-Match": f'"{version}"'}
    )
    assert answer.status == 200, answer.json


@pytest.mark.parametrize("whose", ["relay", "operator"])
def test_a_booking_from_a_stale_catalogue_after_a_deactivation_is_refused_until_reactivated(
    api: Api,
    admin: str,
    member: str,
    network: dict[str, str],
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
    whose: str,
) -> None:
    path = (
        f"/v1/relays/{network['relay']}"
        if whose == "relay"
        else (f"/v1/operators/{network['operator']}")
    )
    kept = booked(api, member, network["pool"], date="2026-12-04", payment="card")
    stale = ctx.catalogue.get()
    set_active(api, path, False, admin)
    with monkeypatch.context() as cached:  # a container holding the catalogue from before
        cached.setattr(ctx.catalogue, "get", lambda fresh=False: stale)
        refused = book(api, member, network["pool"], date="2026-12-03", payment="card")
        assert_problem(refused, 404, "not_found")
        _closed, taken = ctx.bookings.occupancy(network["relay"], "2026-12-03")
        assert taken == {}  # nothing taken
    assert api.get(f"/v1/bookings/{kept['id']}", token=member).json["status"] == "held"

    set_active(api, path, True, admin)
    with monkeypatch.context() as cached:
        cached.setattr(ctx.catalogue, "get", lambda fresh=False: stale)
        booked(api, member, network["pool"], date="2026-12-03", payment="card")
