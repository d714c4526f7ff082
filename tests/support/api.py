"""A thin HTTP helper over chalice's test client, and demo catalogue payloads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.test import Client

from chalicelib.domain.identifiers import fr_vat_number, is_valid_siren
from tools.dev_auth import mint_token

ISSUER = "https://auth.test"
AUDIENCE = "relais-test"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    def __init__(self, client: Client, private_key: Path) -> None:
        self._client = client
        self._private_key = private_key
        self._tokens: dict[str, str] = {}

    def token(self, sub: str, *groups: str, **claims: Any) -> str:
        """A signed token; the same one again for the same arguments within a test
        (signing loads the RSA key: a tenth of a second each time)."""
        cache_key = json.dumps([sub, groups, claims], sort_keys=True, default=str)
        if cache_key not in self._tokens:
            self._tokens[cache_key] = mint_token(
                self._private_key,
                sub=sub,
                groups=list(groups),
                issuer=ISSUER,
                audience=AUDIENCE,
                **claims,
            )
        return self._tokens[cache_key]

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> Answer:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (json.dumps(body) if body is not None else "")
        response = self._client.http.request(method, path, headers=sent, body=payload)
        return Answer(response.status_code, dict(response.headers), response.body)

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.request("POST", path, body, **kw)


WEEKDAYS_8_TO_19 = {d: [["08:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def operator_body(**overrides: Any) -> dict[str, Any]:
    siren = overrides.get("siren", "732829320")
    vat = fr_vat_number(siren) if is_valid_siren(str(siren)) else "FR44732829320"
    return {
        "name": "SCIC Relais 77",
        "legal_form": "SCIC SAS",
        "siren": siren,
        "vat_number": vat,  # FR44732829320: an FR VAT number is its SIREN's
        "vat_regime": "normal",
        "address": {
            "line1": "2 place Praslin",
            "postcode": "77000",
            "city": "Melun",
            "country": "FR",
        },
        "invoice_prefix": "RL",
        "email": "compta@relais77.fr",
        **overrides,
    }


def relay_body(operator_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Gare de Melun",
        "operator_id": operator_id,
        "category": "station",
        "address": {"line1": "Place Gallieni", "postcode": "77000", "city": "Melun"},
        "location": {"lat": 48.5275, "lon": 2.6553},
        "opening_hours": WEEKDAYS_8_TO_19,
        "amenities": ["wifi", "coffee"],
        **overrides,
    }


def resource_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Open space",
        "kind": "hot_desk",
        "capacity": 3,
        "rates": {"day": 1500, "half_day": 900, "hour": 400},
        **overrides,
    }


# --- Helpers for the HTTP integration suites (test_*_api.py) -----------------------------

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors", "request_id"}


def assert_problem(answer: Answer, status: int, code: str) -> dict[str, Any]:
    """The answer is an RFC 9457 problem with this status and code; returns its body."""
    assert answer.status == status, (answer.status, answer.body[:500])
    assert answer.headers.get("Content-Type", "").startswith("application/problem+json")
    problem = answer.json
    assert set(problem) >= PROBLEM_KEYS, problem
    assert problem["status"] == status
    assert problem["code"] == code, problem
    assert problem["request_id"] == answer.headers.get("X-Request-Id"), problem
    return dict(problem)


def error_fields(answer: Answer) -> set[str]:
    """The `errors[].field` values of a validation problem."""
    return {error["field"] for error in answer.json["errors"]}


def booking_body(resource_id: str, **overrides: Any) -> dict[str, Any]:
    """A day on Wednesday 2026-12-02 (the day after the test clock's Tuesday), paid by card."""
    return {
        "resource_id": resource_id,
        "date": "2026-12-02",
        "unit": "day",
        "payment": "card",
        **overrides,
    }


def add_relay(
    api: Api, admin: str, operator_id: str, *, capacity: int = 3, **overrides: Any
) -> dict[str, str]:
    """Another relay with one hot-desk pool: `{"relay": id, "pool": id}`."""
    relay = api.post("/v1/relays", relay_body(operator_id, **overrides), token=admin)
    assert relay.status == 201, relay.json
    pool = api.post(
        f"/v1/relays/{relay.json['id']}/resources", resource_body(capacity=capacity), token=admin
    )
    assert pool.status == 201, pool.json
    return {"relay": relay.json["id"], "pool": pool.json["id"]}


def slots_of(api: Api, relay_id: str, resource_id: str, day: str) -> list[dict[str, Any]]:
    """The availability slots of one resource on one day (public route)."""
    answer = api.get(f"/v1/availability?date={day}&relay_id={relay_id}")
    assert answer.status == 200, answer.json
    (relay,) = answer.json["relays"]
    for resource in relay["resources"]:
        if resource["resource_id"] == resource_id:
            return list(resource["slots"])
    raise AssertionError(f"resource {resource_id} not in the availability of {relay_id}")


def free_seats(api: Api, relay_id: str, resource_id: str, day: str) -> dict[str, int]:
    """`{"08:00": 3, "08:30": 3, ...}`: free seats per slot start."""
    return {s["start"]: s["free"] for s in slots_of(api, relay_id, resource_id, day)}


def book(api: Api, token: str, resource_id: str, **fields: Any) -> Answer:
    """POST /v1/bookings with `booking_body(resource_id, **fields)`."""
    return api.post("/v1/bookings", booking_body(resource_id, **fields), token=token)


def booked(api: Api, token: str, resource_id: str, **fields: Any) -> dict[str, Any]:
    """The booking object of a booking that must succeed (201)."""
    answer = book(api, token, resource_id, **fields)
    assert answer.status == 201, answer.json
    return dict(answer.json["booking"])


def create_network(api: Api, admin: str) -> dict[str, str]:
    """One operator, one relay in Melun, a 3-seat hot-desk pool and a meeting room."""
    operator = api.post("/v1/operators", operator_body(), token=admin)
    assert operator.status == 201, operator.json
    relay = api.post("/v1/relays", relay_body(operator.json["id"]), token=admin).json
    pool = api.post(f"/v1/relays/{relay['id']}/resources", resource_body(), token=admin).json
    room = api.post(
        f"/v1/relays/{relay['id']}/resources",
        resource_body(
            name="Salle Seine",
            kind="meeting_room",
            capacity=1,
            rates={"hour": 2000, "half_day": 6000},
        ),
        token=admin,
    ).json
    return {
        "operator": operator.json["id"],
        "relay": relay["id"],
        "pool": pool["id"],
        "room": room["id"],
    }


def another_operators_pool(api: Api, admin: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A second operator (Commune de Nangis, series NG) with a relay and a hot-desk pool:
    the operator and the pool, as answered."""
    other = api.post(
        "/v1/operators",
        operator_body(name="Commune de Nangis", siren="552100554", invoice_prefix="NG"),
        token=admin,
    ).json
    relay = api.post("/v1/relays", relay_body(other["id"], name="Nangis"), token=admin).json
    pool = api.post(f"/v1/relays/{relay['id']}/resources", resource_body(), token=admin).json
    return dict(other), dict(pool)
