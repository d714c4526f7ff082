"""Cursors over HTTP: a `next_cursor` resumes strictly after what was served, survives
catalogue additions, and a tampered one is a 422 `validation_error`, never a 500.

API.md: list endpoints take `limit` and `cursor` and answer `{"items", "next_cursor"}`;
"No request ever gets a 5xx for bad input."
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support.api import (
    Api,
    add_relay,
    assert_problem,
    booked,
    error_fields,
    operator_body,
    relay_body,
)


def _decode(cursor: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))))


def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _read_all(api: Api, path: str, limit: int, token: str | None = None) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        query = f"{path}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        answer = api.get(query, token=token)
        assert answer.status == 200, answer.json
        ids += [item["id"] for item in answer.json["items"]]
        cursor = answer.json["next_cursor"]
        if cursor is None:
            return ids


def _assert_bad_cursor(answer: Any) -> None:
    assert_problem(answer, 422, "validation_error")
    assert error_fields(answer) == {"cursor"}


# -- catalogue lists: keyset cursors ----------------------------------------------------------


def test_relay_listing_repeats_no_item_when_a_relay_is_added_between_pages(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    for name in ("B relay", "C relay", "D relay"):
        assert (
            api.post("/v1/relays", relay_body(network["operator"], name=name), token=admin).status
            == 201
        )
    first = api.get("/v1/relays?limit=2").json
    assert [r["name"] for r in first["items"]] == ["B relay", "C relay"]
    # Meanwhile a relay is added that sorts before the page already read: not seen.
    assert (
        api.post("/v1/relays", relay_body(network["operator"], name="A relay"), token=admin).status
        == 201
    )
    second = api.get(f"/v1/relays?limit=2&cursor={first['next_cursor']}").json
    assert [r["name"] for r in second["items"]] == ["D relay", "Gare de Melun"]
    assert second["next_cursor"] is None


def test_relay_listing_near_a_place_resumes_after_the_last_distance_served(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    # Melun (the network's relay) is 0 km away; the others further and further.
    for name, lat in (("Near", 48.60), ("Far", 48.80)):
        body = relay_body(network["operator"], name=name, location={"lat": lat, "lon": 2.6553})
        assert api.post("/v1/relays", body, token=admin).status == 201
    near = "near=48.5275,2.6553"
    first = api.get(f"/v1/relays?{near}&limit=2").json
    assert [r["name"] for r in first["items"]] == ["Gare de Melun", "Near"]
    # A relay closer than those already served is added: not seen, none repeated.
    closer = relay_body(network["operator"], name="Closer", location={"lat": 48.55, "lon": 2.6553})
    assert api.post("/v1/relays", closer, token=admin).status == 201
    second = api.get(f"/v1/relays?{near}&limit=2&cursor={first['next_cursor']}").json
    assert [r["name"] for r in second["items"]] == ["Far"]
    assert second["next_cursor"] is None


def test_operator_listing_repeats_no_item_when_an_operator_is_added_between_pages(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    for name, siren, prefix in (
        ("M operator", "123456782", "MO"),
        ("T operator", "123456790", "TO"),
    ):
        body = operator_body(name=name, siren=siren, invoice_prefix=prefix)
        assert api.post("/v1/operators", body, token=admin).status == 201
    first = api.get("/v1/operators?limit=2", token=admin).json
    assert [o["name"] for o in first["items"]] == ["M operator", "SCIC Relais 77"]
    body = operator_body(name="A operator", siren="123456808", invoice_prefix="AO")
    assert api.post("/v1/operators", body, token=admin).status == 201
    second = api.get(f"/v1/operators?limit=2&cursor={first['next_cursor']}", token=admin).json
    assert [o["name"] for o in second["items"]] == ["T operator"]


def test_product_listing_repeats_no_item_when_a_product_is_added_between_pages(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    def pack(name: str) -> dict[str, Any]:
        return {
            "kind": "credit_pack",
            "name": name,
            "operator_id": network["operator"],
            "price": {"amount": 12000, "vat_rate": "20.00"},
            "credits": 10,
            "validity_days": 365,
        }

    for name in ("Pack B", "Pack C", "Pack D"):
        assert api.post("/v1/products", pack(name), token=admin).status == 201
    first = api.get("/v1/products?limit=2").json
    assert [p["name"] for p in first["items"]] == ["Pack B", "Pack C"]
    assert api.post("/v1/products", pack("Pack A"), token=admin).status == 201
    second = api.get(f"/v1/products?limit=2&cursor={first['next_cursor']}").json
    assert [p["name"] for p in second["items"]] == ["Pack D"]
    assert second["next_cursor"] is None


def test_paging_one_relay_at_a_time_serves_each_relay_once(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    for name in ("Gare de Melun", "Gare de Melun", "Avon"):  # equal names: the id decides
        assert (
            api.post("/v1/relays", relay_body(network["operator"], name=name), token=admin).status
            == 201
        )
    listed = api.get("/v1/relays?limit=100").json["items"]
    assert _read_all(api, "/v1/relays", 1) == [r["id"] for r in listed]
    assert len(listed) == 4


@pytest.mark.parametrize(
    "position",
    [
        {"o": 2},  # an offset cursor of an earlier version
        {"k": []},
        {"k": ["Gare de Melun"]},  # too short
        {"k": [1, "rly_x"]},  # a number where the name is
        {"k": ["x", "y", "z"]},
        {"k": [None, "rly_x"]},
        {"k": "Gare de Melun"},
    ],
)
def test_a_tampered_catalogue_cursor_is_refused(
    api: Api, admin: str, network: dict[str, str], position: dict[str, Any]
) -> None:
    assert (
        api.post("/v1/relays", relay_body(network["operator"], name="B"), token=admin).status == 201
    )
    cursor = api.get("/v1/relays?limit=1").json["next_cursor"]
    tampered = _encode({"p": position, "s": _decode(cursor)["s"]})
    _assert_bad_cursor(api.get(f"/v1/relays?limit=1&cursor={tampered}"))


def test_a_near_cursor_holding_a_name_is_refused(
    api: Api, admin: str, network: dict[str, str]
) -> None:
    assert (
        api.post("/v1/relays", relay_body(network["operator"], name="B"), token=admin).status == 201
    )
    cursor = api.get("/v1/relays?near=48.5,2.6&limit=1").json["next_cursor"]
    tampered = _encode({"p": {"k": ["Gare", "rly_x"]}, "s": _decode(cursor)["s"]})
    _assert_bad_cursor(api.get(f"/v1/relays?near=48.5,2.6&limit=1&cursor={tampered}"))


# -- chained queries: the cursor names its source by id ----------------------------------------


def test_admin_booking_listing_accepts_its_own_cursor_after_a_relay_is_added(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    for day in ("2026-12-02", "2026-12-03"):
        booked(api, member, network["pool"], date=day)
    first = api.get("/v1/bookings?limit=1", token=admin)
    assert first.status == 200 and first.json["next_cursor"]
    assert (
        api.post("/v1/relays", relay_body(network["operator"], name="New"), token=admin).status
        == 201
    )
    second = api.get(f"/v1/bookings?limit=1&cursor={first.json['next_cursor']}", token=admin)
    assert second.status == 200, second.json
    served = [b["id"] for b in first.json["items"] + second.json["items"]]
    assert sorted(served) == sorted(
        b["id"] for b in api.get("/v1/bookings", token=member).json["items"]
    )


# -- DynamoDB start keys --------------------------------------------------------------------


def test_tampered_cursor_is_a_client_error_never_a_500(
    api: Api, member: str, network: dict[str, str]
) -> None:
    for day in ("2026-12-02", "2026-12-03"):
        booked(api, member, network["pool"], date=day)
    cursor = api.get("/v1/bookings?limit=1", token=member).json["next_cursor"]
    tampered = _encode({"p": {"PK": "BOOKING#x"}, "s": _decode(cursor)["s"]})
    _assert_bad_cursor(api.get(f"/v1/bookings?limit=1&cursor={tampered}", token=member))


@pytest.mark.parametrize(
    "change",
    [
        {"GSI1SK": None},  # the index's key incomplete
        {"SK": None},  # the table's key incomplete
        {"GSI2PK": "RELAY#x"},  # an attribute of another index
        {"SK": ""},
        {"SK": 7},
        {"GSI1PK": "MEMBER#someone-else"},  # another partition than the query's
    ],
)
def test_a_start_key_other_than_the_querys_own_is_refused(
    api: Api, member: str, network: dict[str, str], change: dict[str, Any]
) -> None:
    for day in ("2026-12-02", "2026-12-03"):
        booked(api, member, network["pool"], date=day)
    cursor = _decode(api.get("/v1/bookings?limit=1", token=member).json["next_cursor"])
    assert set(cursor["p"]) == {"PK", "SK", "GSI1PK", "GSI1SK"}
    key = {**cursor["p"], **change}
    key = {k: v for k, v in key.items() if v is not None}
    tampered = _encode({"p": key, "s": cursor["s"]})
    _assert_bad_cursor(api.get(f"/v1/bookings?limit=1&cursor={tampered}", token=member))


def test_an_untampered_booking_cursor_still_pages_on(
    api: Api, member: str, network: dict[str, str]
) -> None:
    days = ("2026-12-02", "2026-12-03", "2026-12-04")
    ids = {booked(api, member, network["pool"], date=day)["id"] for day in days}
    served = _read_all(api, "/v1/bookings", 1, token=member)
    assert sorted(served) == sorted(ids)


def test_a_members_bookings_of_one_relay_fill_their_pages(
    api: Api, admin: str, member: str, network: dict[str, str]
) -> None:
    """Filtered in the query: no empty or short page with a cursor while more follow."""
    other = add_relay(api, admin, network["operator"], name="Gare de Nangis")
    for day in ("2026-12-02", "2026-12-03", "2026-12-04"):
        booked(api, member, network["pool"], date=day)
    theirs = [
        booked(api, member, other["pool"], date=day)["id"] for day in ("2026-12-07", "2026-12-08")
    ]
    first = api.get(f"/v1/bookings?relay_id={other['relay']}&limit=1", token=member).json
    assert [b["id"] for b in first["items"]] == theirs[:1] and first["next_cursor"]
    rest = api.get(
        f"/v1/bookings?relay_id={other['relay']}&limit=1&cursor={first['next_cursor']}",
        token=member,
    ).json
    assert [b["id"] for b in rest["items"]] == theirs[1:] and rest["next_cursor"] is None
