"""The demo network of Seine-et-Marne relays, created through the public HTTP API.

`seed(base_url, admin_token)` creates three operators, seventeen relays with their
resources, and four network products, unless the network already has operators of its
own. Every POST carries a deterministic Idempotency-Key and every object is looked up by
its natural key first, so running it again (even after an interrupted run) creates
nothing twice. It prints nothing; `tools.run_local` prints the summary.

The operators, SIRENs and addresses are made up (SIREN/SIRET pass the Luhn check, VAT
numbers carry the French key); the communes and coordinates are real.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import requests

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
HOT_DESK_RATES = {"day": 1500, "half_day": 900, "hour": 400}
MEETING_ROOM_RATES = {"hour": 2000, "half_day": 6000, "day": 10000}
PHONE_BOOTH_RATES = {"hour": 500}
OFFICE_RATES = {"hour": 1200, "half_day": 3500, "day": 6000}


class SeedError(RuntimeError):
    """The API refused part of the demo network."""


@dataclass(frozen=True)
class DemoRelay:
    name: str
    operator: str  # key in OPERATORS
    category: str
    line1: str
    postcode: str
    city: str
    lat: float
    lon: float
    desks: int
    rooms: tuple[str, ...]
    extra: str  # "phone_booth" or "office"
    saturday: bool
    amenities: tuple[str, ...]


def _address(line1: str, postcode: str, city: str) -> dict[str, str]:
    return {"line1": line1, "postcode": postcode, "city": city, "country": "FR"}


OPERATORS: dict[str, dict[str, Any]] = {
    "cooperative": {
        "name": "Relais Briards",
        "legal_form": "SCIC SAS à capital variable",
        "siren": "912345675",
        "siret": "91234567500017",
        "vat_number": "FR65912345675",
        "vat_regime": "normal",
        "address": _address("5 place Gallieni", "77000", "Melun"),
        "invoice_prefix": "RB",
        "email": "compta@relais-briards.example",
    },
    "association": {
        "name": "Tiers-Lieux du Gâtinais",
        "legal_form": "Association loi 1901",
        "siren": "842135790",
        "siret": "84213579000017",
        "vat_number": "FR90842135790",
        "vat_regime": "normal",
        "address": _address("18 rue Grande", "77300", "Fontainebleau"),
        "invoice_prefix": "TLG",
        "email": "tresorerie@tiers-lieux-gatinais.example",
    },
    "syndicate": {
        "name": "Syndicat intercommunal des tiers-lieux de la Brie",
        "legal_form": "Syndicat intercommunal à vocation unique",
        "siren": "257709816",
        "siret": "25770981600017",
        "vat_number": "FR78257709816",
        "vat_regime": "normal",
        "address": _address("1 place de l'Hôtel de Ville", "77370", "Nangis"),
        "invoice_prefix": "SITB",
        "email": "regie@tiers-lieux-brie.example",
    },
}

_BASE = ("wifi", "coffee", "printer", "accessible")
# fmt: off
RELAYS: tuple[DemoRelay, ...] = (
    DemoRelay("Gare de Melun", "cooperative", "station", "Place Gallieni", "77000", "Melun",
              48.5274, 2.6555, 20, ("Salle Seine", "Salle Almont"), "phone_booth", True,
              (*_BASE, "lockers", "bike_parking")),
    DemoRelay("Melun - Île Saint-Étienne", "cooperative", "town", "7 quai de la Courtille",
              "77000", "Melun", 48.5397, 2.6588, 10, ("Salle Vaux",), "office", False,
              (*_BASE, "kitchen")),
    DemoRelay("Fontainebleau - Rue Grande", "association", "town", "18 rue Grande", "77300",
              "Fontainebleau", 48.4047, 2.7016, 12, ("Salle Franchard",), "office", True,
              (*_BASE, "kitchen", "garden")),
    DemoRelay("Gare de Fontainebleau-Avon", "association", "station", "Place de la Gare",
              "77210", "Avon", 48.4166, 2.7264, 8, ("Salle Bréau",), "phone_booth", False,
              (*_BASE, "bike_parking")),
    DemoRelay("Gare de Meaux", "cooperative", "station", "Place de la Gare", "77100", "Meaux",
              48.9546, 2.8787, 16, ("Salle Marne", "Salle Bossuet"), "phone_booth", True,
              (*_BASE, "lockers")),
    DemoRelay("Provins - Ville haute", "syndicate", "town", "4 rue du Palais", "77160",
              "Provins", 48.5621, 3.2870, 8, ("Salle Voulzie",), "office", True,
              (*_BASE, "kitchen")),
    DemoRelay("Coulommiers - Commanderie", "cooperative", "town", "2 rue de Melun", "77120",
              "Coulommiers", 48.8128, 3.0843, 10, ("Salle Grand Morin",), "phone_booth", False,
              (*_BASE, "parking")),
    DemoRelay("Nemours - Bords du Loing", "association", "town", "9 quai Victor Hugo",
              "77140", "Nemours", 48.2674, 2.6966, 6, ("Salle Loing",), "phone_booth", False,
              (*_BASE, "parking")),
    DemoRelay("Gare de Montereau", "syndicate", "station", "Place de la Gare", "77130",
              "Montereau-Fault-Yonne", 48.3797, 2.9405, 8, ("Salle Yonne",), "phone_booth",
              False, (*_BASE, "bike_parking")),
    DemoRelay("Gare de Chelles-Gournay", "cooperative", "station", "Place de la Gare",
              "77500", "Chelles", 48.8745, 2.5838, 18, ("Salle Montguichet", "Salle Gournay"),
              "phone_booth", True, (*_BASE, "lockers", "showers")),
    DemoRelay("Lagny-sur-Marne - Quais", "cooperative", "town", "3 quai de la Gourdine",
              "77400", "Lagny-sur-Marne", 48.8728, 2.7098, 12, ("Salle Gondoire",), "office",
              False, (*_BASE, "kitchen")),
    DemoRelay("Torcy - Centre", "cooperative", "town", "11 rue de Paris", "77200", "Torcy",
              48.8503, 2.6530, 14, ("Salle Maubuée",), "office", False, (*_BASE, "parking")),
    DemoRelay("Pontault-Combault - Mairie", "cooperative", "town",
              "107 avenue de la République", "77340", "Pontault-Combault", 48.8009, 2.6070,
              10, ("Salle Combault",), "phone_booth", False, (*_BASE, "parking")),
    DemoRelay("Gare de Nangis", "syndicate", "station", "Place de la Gare", "77370", "Nangis",
              48.5537, 3.0092, 6, ("Salle Ancoeur",), "phone_booth", True, _BASE),
    DemoRelay("Gare de Tournan", "syndicate", "station", "Place de la Gare", "77220",
              "Tournan-en-Brie", 48.7394, 2.7659, 8, ("Salle Marsange",), "phone_booth",
              False, (*_BASE, "bike_parking")),
    DemoRelay("Moret - Porte de Samois", "association", "town", "26 rue Grande", "77250",
              "Moret-Loing-et-Orvanne", 48.3725, 2.8163, 6, ("Salle Orvanne",), "office",
              True, (*_BASE, "garden")),
    DemoRelay("Crécy-la-Chapelle - Brindelles", "cooperative", "town",
              "4 place du Marché", "77580", "Crécy-la-Chapelle", 48.8580, 2.9050, 6,
              ("Salle Morin",), "office", False, (*_BASE, "kitchen", "garden")),
    DemoRelay("Gare de La Ferté-sous-Jouarre", "cooperative", "station", "Place de la Gare",
              "77260", "La Ferté-sous-Jouarre", 48.9490, 3.1255, 6, ("Salle Petit Morin",),
              "phone_booth", False, _BASE),
)

PRODUCTS: tuple[dict[str, Any], ...] = (
    {"kind": "credit_pack", "name": "Carnet 10 jours", "operator": "cooperative",
     "credits": 10, "validity_days": 180, "price": {"amount": 12000, "vat_rate": "20.00"}},
    {"kind": "credit_pack", "name": "Carnet 5 jours", "operator": "association",
     "credits": 5, "validity_days": 90, "price": {"amount": 6500, "vat_rate": "20.00"}},
    {"kind": "membership", "name": "Abonnement illimité", "operator": "cooperative",
     "period": "month", "days_per_period": None,
     "price": {"amount": 19000, "vat_rate": "20.00"}},
    {"kind": "membership", "name": "Abonnement 8 jours par mois", "operator": "syndicate",
     "period": "month", "days_per_period": 8, "price": {"amount": 9900, "vat_rate": "20.00"}},
)
# fmt: on


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return digits.isdigit() and total % 10 == 0


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def opening_hours(saturday: bool) -> dict[str, list[list[str]]]:
    hours: dict[str, list[list[str]]] = {day: [["08:00", "19:00"]] for day in WEEKDAYS}
    hours["sat"] = [["09:00", "13:00"]] if saturday else []
    hours["sun"] = []
    return hours


def relay_body(relay: DemoRelay, operator_id: str) -> dict[str, Any]:
    return {
        "name": relay.name,
        "operator_id": operator_id,
        "category": relay.category,
        "address": _address(relay.line1, relay.postcode, relay.city),
        "location": {"lat": relay.lat, "lon": relay.lon},
        "timezone": "Europe/Paris",
        "opening_hours": opening_hours(relay.saturday),
        "amenities": list(relay.amenities),
    }


def resource_bodies(relay: DemoRelay) -> list[dict[str, Any]]:
    # fmt: off
    bodies = [{"name": "Open space", "kind": "hot_desk", "capacity": relay.desks,
               "rates": HOT_DESK_RATES, "vat_rate": "20.00"}]
    bodies += [{"name": room, "kind": "meeting_room", "capacity": 1,
                "rates": MEETING_ROOM_RATES, "vat_rate": "20.00"} for room in relay.rooms]
    if relay.extra == "office":
        bodies.append({"name": "Bureau 4 places", "kind": "office", "capacity": 1,
                       "rates": OFFICE_RATES, "vat_rate": "20.00"})
    else:
        bodies.append({"name": "Cabine téléphonique", "kind": "phone_booth", "capacity": 1,
                       "rates": PHONE_BOOTH_RATES, "vat_rate": "20.00"})
    # fmt: on
    return bodies


class AdminApi:
    """The few calls the seed needs, as the admin, failing loudly on any refusal."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(self.base_url + path, params=params, timeout=self.timeout)
        return self._json(response, "GET", path, 200)

    def list_all(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self.get(path, limit=100, **({"cursor": cursor} if cursor else {}))
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def create(self, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        headers = {"Idempotency-Key": key[:255]}
        response = self.session.post(
            self.base_url + path, json=body, headers=headers, timeout=self.timeout
        )
        return dict(self._json(response, "POST", path, 201))

    @staticmethod
    def _json(response: requests.Response, method: str, path: str, expected: int) -> Any:
        if response.status_code != expected:
            raise SeedError(f"{method} {path} → {response.status_code}: {response.text[:1000]}")
        return response.json()


def _find_or_create(
    api: AdminApi, found: str | None, path: str, body: dict[str, Any], key: str
) -> str:
    return found if found else str(api.create(path, body, f"seed-demo/{key}")["id"])


def _operators(api: AdminApi, existing: list[dict[str, Any]]) -> dict[str, str]:
    by_siren = {item["siren"]: item["id"] for item in existing}
    ids: dict[str, str] = {}
    for key, body in OPERATORS.items():
        if not (luhn_valid(body["siren"]) and luhn_valid(body["siret"])):
            raise SeedError(f"demo operator {key} has an invalid SIREN/SIRET")
        found = by_siren.get(body["siren"])
        ids[key] = _find_or_create(api, found, "/v1/operators", body, f"operator/{body['siren']}")
    return ids


def _resources(api: AdminApi, relay: DemoRelay, relay_id: str) -> dict[str, str]:
    have = {item["name"]: item["id"] for item in api.get(f"/v1/relays/{relay_id}")["resources"]}
    path = f"/v1/relays/{relay_id}/resources"
    return {
        body["name"]: _find_or_create(
            api, have.get(body["name"]), path, body, f"resource/{relay_id}/{slug(body['name'])}"
        )
        for body in resource_bodies(relay)
    }


def _relays(
    api: AdminApi, operator_ids: dict[str, str]
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    by_name = {item["name"]: item["id"] for item in api.list_all("/v1/relays")}
    relay_ids: dict[str, str] = {}
    resource_ids: dict[str, dict[str, str]] = {}
    for relay in RELAYS:
        body = relay_body(relay, operator_ids[relay.operator])
        key = f"relay/{slug(relay.name)}"
        relay_id = _find_or_create(api, by_name.get(relay.name), "/v1/relays", body, key)
        relay_ids[relay.name] = relay_id
        resource_ids[relay.name] = _resources(api, relay, relay_id)
    return relay_ids, resource_ids


def _products(api: AdminApi, operator_ids: dict[str, str]) -> dict[str, str]:
    by_name = {item["name"]: item["id"] for item in api.list_all("/v1/products")}
    ids: dict[str, str] = {}
    for product in PRODUCTS:
        body = {k: v for k, v in product.items() if k != "operator"}
        body["operator_id"] = operator_ids[product["operator"]]
        key = f"product/{slug(product['name'])}"
        ids[product["name"]] = _find_or_create(
            api, by_name.get(product["name"]), "/v1/products", body, key
        )
    return ids


def seed(base_url: str, admin_token: str) -> dict[str, Any]:
    """Create (or find) the demo network; answer the ids by natural name.

    `{"seeded": bool, "operators": {key: id}, "relays": {name: id},
    "resources": {relay name: {resource name: id}}, "products": {name: id}}`;
    `seeded` is False, and nothing is touched, when the network already has operators
    that are not the demo ones.
    """
    api = AdminApi(base_url, admin_token)
    existing = api.list_all("/v1/operators")
    demo_sirens = {body["siren"] for body in OPERATORS.values()}
    if existing and not demo_sirens & {item["siren"] for item in existing}:
        return {"seeded": False, "operators": {}, "relays": {}, "resources": {}, "products": {}}
    operator_ids = _operators(api, existing)
    relay_ids, resource_ids = _relays(api, operator_ids)
    return {
        "seeded": True,
        "operators": operator_ids,
        "relays": relay_ids,
        "resources": resource_ids,
        "products": _products(api, operator_ids),
    }
