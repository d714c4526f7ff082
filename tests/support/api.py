"""A thin HTTP helper over chalice's test client, and demo catalogue payloads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.test import Client

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

    def token(self, sub: str, *groups: str, **claims: Any) -> str:
        return mint_token(self._private_key, sub=sub, groups=list(groups), issuer=ISSUER,
                          audience=AUDIENCE, **claims)

    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                headers: dict[str, str] | None = None, raw: bytes | str | None = None) -> Answer:
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
    return {
        "name": "SCIC Relais 77", "legal_form": "SCIC SAS", "siren": "732829320",
        "vat_number": "FR44732829320", "vat_regime": "normal",
        "address": {"line1": "2 place Praslin", "postcode": "77000", "city": "Melun",
                    "country": "FR"},
        "invoice_prefix": "RL", "email": "compta@relais77.fr", **overrides,
    }


def relay_body(operator_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Gare de Melun", "operator_id": operator_id, "category": "station",
        "address": {"line1": "Place Gallieni", "postcode": "77000", "city": "Melun"},
        "location": {"lat": 48.5275, "lon": 2.6553},
        "opening_hours": WEEKDAYS_8_TO_19, "amenities": ["wifi", "coffee"], **overrides,
    }


def resource_body(**overrides: Any) -> dict[str, Any]:
    return {"name": "Open space", "kind": "hot_desk", "capacity": 3,
            "rates": {"day": 1500, "half_day": 900, "hour": 400}, **overrides}
