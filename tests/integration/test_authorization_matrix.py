"""Who may call what, route by route: every route of the contract × seven callers.

Each row names a route of the route table (the OpenAPI document is generated from the
same table) and the status each caller gets: anonymous, member A (who owns the booking,
invoice, membership and calendar feed under test), member B, the manager of relay X
(where A's booking is), the manager of relay Y, an accountant, an admin. A route without
a row fails `test_every_route_has_a_row`. Objects a call consumes (a booking to cancel,
a membership to end) are made afresh for each cell. Every call goes over HTTP: the app
is served by `chalice local`'s server on 127.0.0.1 in the test's process (moto behind it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chalicelib.api.endpoint import ROUTES
from chalicelib.config import Settings
from chalicelib.services.context import Context
from tests.support.api import Api, operator_body, relay_body, resource_body
from tests.support.fake_stripe_memberships import MembershipFakeGateway
from tests.support.http_transport import LoopbackTransport
from tests.support.webhooks import deliver
from tools.local_gateway import install as install_local_gateway
from tools.loopback_server import serving

ROLES = ("anonymous", "member_a", "member_b", "manager_x", "manager_y", "accountant", "admin")
DAY = "2026-12-03"
_serial = itertools.count(1)


@pytest.fixture
def api(ctx: Context, auth_keys: tuple[Path, Path]) -> Iterator[Api]:
    """The test helper over a socket instead of chalice's in-process test client."""
    from app import app

    install_local_gateway()  # unknown routes answered as the deployed gateway does
    with serving(app) as port:
        yield Api(LoopbackTransport(port), auth_keys[0])  # type: ignore[arg-type]


@pytest.fixture
def stripe_fake() -> MembershipFakeGateway:
    return MembershipFakeGateway()


@dataclass
class World:
    api: Api
    settings: Settings
    stripe: MembershipFakeGateway
    tokens: dict[str, str | None]
    ids: dict[str, str] = field(default_factory=dict)

    def as_admin(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.api.request(method, path, body, token=self.tokens["admin"])
        assert answer.status in (200, 201), (path, answer.json)
        return answer.json

    def booking_of_a(self) -> str:
        """A held card booking of member A at relay X."""
        return str(self.held_booking_of_a()["booking"]["id"])

    def held_booking_of_a(self) -> dict[str, Any]:
        body = {"resource_id": self.ids["pool_x"], "date": DAY, "unit": "day", "payment": "card"}
        answer = self.api.post("/v1/bookings", body, token=self.tokens["member_a"])
        assert answer.status == 201, answer.json
        return dict(answer.json)

    def membership_of_a(self) -> str:
        body = {"product_id": self.ids["membership_product"], "payment_method_type": "card"}
        answer = self.api.post("/v1/memberships", body, token=self.tokens["member_a"])
        assert answer.status == 201, answer.json
        return str(answer.json["membership"]["id"])


@pytest.fixture
def world(api: Api, settings: Settings, stripe_fake: MembershipFakeGateway) -> World:
    tokens: dict[str, str | None] = {"anonymous": None}
    w = World(api, settings, stripe_fake, tokens)
    tokens["admin"] = api.token("admin-1", "admin")
    operator = w.as_admin("POST", "/v1/operators", operator_body())
    w.ids["operator"] = operator["id"]
    for name in ("x", "y"):
        relay = w.as_admin("POST", "/v1/relays", relay_body(operator["id"], name=f"Relais {name}"))
        pool = w.as_admin("POST", f"/v1/relays/{relay['id']}/resources", resource_body(capacity=50))
        w.ids[f"relay_{name}"], w.ids[f"pool_{name}"] = relay["id"], pool["id"]
    tokens.update(
        member_a=api.token("member-a"),
        member_b=api.token("member-b"),
        manager_x=api.token("manager-x", f"manager:{w.ids['relay_x']}"),
        manager_y=api.token("manager-y", f"manager:{w.ids['relay_y']}"),
        accountant=api.token("accountant-1", "accountant"),
    )
    held = w.held_booking_of_a()
    w.ids["booking"] = held["booking"]["id"]
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    assert deliver(api, settings, "payment_intent.succeeded", intent).status == 200
    booking = api.get(f"/v1/bookings/{w.ids['booking']}", token=tokens["member_a"]).json
    w.ids["invoice"] = booking["invoice_id"]
    w.ids["membership_product"] = w.as_admin(
        "POST",
        "/v1/products",
        {
            "kind": "membership",
            "name": "Nomade",
            "price": {"amount": 9900, "vat_rate": "20.00"},
            "operator_id": operator["id"],
            "period": "month",
            "days_per_period": 4,
        },
    )["id"]
    w.ids["pack_product"] = w.as_admin(
        "POST",
        "/v1/products",
        {
            "kind": "credit_pack",
            "name": "10 jours",
            "price": {"amount": 12000},
            "operator_id": operator["id"],
            "credits": 10,
            "validity_days": 180,
        },
    )["id"]
    w.ids["company"] = w.as_admin("POST", "/v1/companies", company_body(operator["id"]))["id"]
    feed = api.get("/v1/me/calendar-feed", token=tokens["member_a"]).json["url"]
    w.ids["feed"] = feed.rsplit("/", 1)[1].removesuffix(".ics")
    return w


def company_body(operator_id: str) -> dict[str, Any]:
    sirens = ("123456782", "123456790", "123456808", "123456816", "123456824", "123456832")
    return {
        "name": "Atelier Brie SAS",
        "siren": sirens[next(_serial) % len(sirens)],
        "billing_address": {
            "line1": "12 rue de la Gare",
            "postcode": "77300",
            "city": "Fontainebleau",
            "country": "FR",
        },
        "billing_email": "compta@atelier-brie.fr",
        "operator_id": operator_id,
    }


Request = Callable[[World], tuple[str, Any]]  # → (path, body)


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    request: Request
    expect: dict[str, int]


def by_role(
    anonymous: int = 401,
    member_a: int = 200,
    member_b: int | None = None,
    manager_x: int | None = None,
    manager_y: int | None = None,
    accountant: int | None = None,
    admin: int | None = None,
) -> dict[str, int]:
    """Statuses per caller; a caller left out gets what member B gets (or A's)."""
    b = member_a if member_b is None else member_b
    return {
        "anonymous": anonymous,
        "member_a": member_a,
        "member_b": b,
        "manager_x": b if manager_x is None else manager_x,
        "manager_y": b if manager_y is None else manager_y,
        "accountant": b if accountant is None else accountant,
        "admin": b if admin is None else admin,
    }


PUBLIC = by_role(anonymous=200)
ANY_TOKEN = by_role()
BOOKS = by_role(member_a=403, accountant=200, admin=200)
ADMIN_ONLY = by_role(member_a=403, admin=201)
OWNER_ONLY = by_role(member_a=200, member_b=404)


def fixed(path: str, body: Any = None) -> Request:
    return lambda w: (path.format(**w.ids), body)


def fresh_booking(suffix: str) -> Request:
    return lambda w: (f"/v1/bookings/{w.booking_of_a()}{suffix}", None)


def new_day(w: World) -> tuple[str, Any]:
    day = f"2027-01-{next(_serial) % 28 + 1:02d}"
    return f"/v1/relays/{w.ids['relay_x']}/closures", {"date": day, "reason": "Travaux"}


def closed_day(w: World) -> tuple[str, Any]:
    """A closure made afresh (by an admin) to lift."""
    path, body = new_day(w)
    closure = w.as_admin("POST", path, body)
    return f"{path}/{closure['id']}", None


def employee(w: World) -> tuple[str, Any]:
    """An employee attached afresh (by an admin) to remove."""
    member = f"emp-{next(_serial)}"
    w.as_admin("POST", f"/v1/companies/{w.ids['company']}/members", {"member_id": member})
    return f"/v1/companies/{w.ids['company']}/members/{member}", None


def card_booking(w: World) -> tuple[str, Any]:
    return "/v1/bookings", {
        "resource_id": w.ids["pool_x"],
        "date": DAY,
        "unit": "day",
        "payment": "card",
    }


def new_company(w: World) -> tuple[str, Any]:
    return "/v1/companies", company_body(w.ids["operator"])


def new_operator(w: World) -> tuple[str, Any]:
    return "/v1/operators", operator_body(siren="404833048", invoice_prefix="NV")


OP = "operator_id={operator}"
ROWS = [
    Row("GET", "/v1/health", fixed("/v1/health"), PUBLIC),
    Row("GET", "/v1/openapi.json", fixed("/v1/openapi.json"), PUBLIC),
    Row("GET", "/v1/relays", fixed("/v1/relays"), PUBLIC),
    Row("GET", "/v1/relays/{relay_id}", fixed("/v1/relays/{relay_x}"), PUBLIC),
    Row("GET", "/v1/products", fixed("/v1/products"), PUBLIC),
    Row("GET", "/v1/availability", fixed(f"/v1/availability?date={DAY}"), PUBLIC),
    Row("GET", "/v1/calendar/{feed}", fixed("/v1/calendar/{feed}"), PUBLIC),
    Row(
        "POST",
        "/v1/webhooks/stripe",
        fixed("/v1/webhooks/stripe", {}),
        by_role(anonymous=400, member_a=400),
    ),
    # -- the catalogue --------------------------------------------------------------------
    Row("POST", "/v1/operators", new_operator, ADMIN_ONLY),
    Row("GET", "/v1/operators", fixed("/v1/operators"), BOOKS),
    Row("GET", "/v1/operators/{operator_id}", fixed("/v1/operators/{operator}"), BOOKS),
    Row(
        "POST",
        "/v1/relays",
        lambda w: ("/v1/relays", relay_body(w.ids["operator"], name=f"R{next(_serial)}")),
        ADMIN_ONLY,
    ),
    Row(
        "POST",
        "/v1/relays/{relay_id}/resources",
        fixed("/v1/relays/{relay_x}/resources", resource_body()),
        ADMIN_ONLY,
    ),
    Row(
        "POST",
        "/v1/relays/{relay_id}/closures",
        new_day,
        by_role(member_a=403, manager_x=201, admin=201),
    ),
    Row(
        "POST",
        "/v1/products",
        lambda w: (
            "/v1/products",
            {
                "kind": "credit_pack",
                "name": "5 jours",
                "price": {"amount": 6500},
                "operator_id": w.ids["operator"],
                "credits": 5,
                "validity_days": 90,
            },
        ),
        ADMIN_ONLY,
    ),
    # -- bookings -------------------------------------------------------------------------
    Row("POST", "/v1/bookings", card_booking, by_role(member_a=201)),
    Row("GET", "/v1/bookings", fixed("/v1/bookings"), ANY_TOKEN),
    Row(
        "GET",
        "/v1/bookings/{booking_id}",
        fixed("/v1/bookings/{booking}"),
        by_role(member_b=404, manager_x=200, admin=200),
    ),
    Row(
        "POST",
        "/v1/bookings/{booking_id}/cancel",
        fresh_booking("/cancel"),
        by_role(member_b=404, manager_x=200, admin=200),
    ),
    Row(
        "POST",
        "/v1/bookings/{booking_id}/check-in",
        fresh_booking("/check-in"),
        # a held booking cannot be checked in: 409 shows the caller was let through
        # (admins may act for a relay's managers)
        by_role(member_a=409, member_b=404, manager_x=409, admin=409),
    ),
    Row("GET", "/v1/bookings/{booking_id}/ics", fixed("/v1/bookings/{booking}/ics"), OWNER_ONLY),
    # -- the member -----------------------------------------------------------------------
    Row("GET", "/v1/me", fixed("/v1/me"), ANY_TOKEN),
    Row(
        "PUT",
        "/v1/me",
        fixed("/v1/me", {"name": "Camille Martin", "email": "camille@example.org"}),
        ANY_TOKEN,
    ),
    Row("GET", "/v1/me/calendar-feed", fixed("/v1/me/calendar-feed"), ANY_TOKEN),
    Row("POST", "/v1/me/calendar-feed/rotate", fixed("/v1/me/calendar-feed/rotate"), ANY_TOKEN),
    Row("GET", "/v1/wallet", fixed("/v1/wallet"), ANY_TOKEN),
    Row(
        "POST",
        "/v1/purchases",
        lambda w: ("/v1/purchases", {"product_id": w.ids["pack_product"]}),
        by_role(member_a=201),
    ),
    Row(
        "POST",
        "/v1/memberships",
        lambda w: (
            "/v1/memberships",
            {"product_id": w.ids["membership_product"], "payment_method_type": "card"},
        ),
        by_role(member_a=201),
    ),
    Row("GET", "/v1/memberships", fixed("/v1/memberships"), ANY_TOKEN),
    Row(
        "POST",
        "/v1/memberships/{membership_id}/cancel",
        lambda w: (f"/v1/memberships/{w.membership_of_a()}/cancel", None),
        by_role(member_b=404, admin=200),
    ),
    Row(  # the owner only: an admin does not save a member's card either
        "PUT",
        "/v1/memberships/{membership_id}/payment-method",
        lambda w: (
            f"/v1/memberships/{w.membership_of_a()}/payment-method",
            {"payment_method_type": "sepa_debit"},
        ),
        OWNER_ONLY,
    ),
    # -- companies ------------------------------------------------------------------------
    Row("POST", "/v1/companies", new_company, ADMIN_ONLY),
    Row(
        "GET",
        "/v1/companies/{company_id}",
        fixed("/v1/companies/{company}"),
        by_role(member_a=403, accountant=200, admin=200),
    ),
    Row(
        "POST",
        "/v1/companies/{company_id}/members",
        lambda w: (
            f"/v1/companies/{w.ids['company']}/members",
            {"member_id": f"emp-{next(_serial)}"},
        ),
        ADMIN_ONLY,
    ),
    Row(
        "GET",
        "/v1/companies/{company_id}/statement",
        fixed("/v1/companies/{company}/statement?month=2026-12"),
        by_role(member_a=403, accountant=200, admin=200),
    ),
    # -- invoices and the books -----------------------------------------------------------
    Row("GET", "/v1/invoices", fixed("/v1/invoices"), ANY_TOKEN),
    Row(
        "GET",
        "/v1/invoices/{invoice_id}",
        fixed("/v1/invoices/{invoice}"),
        by_role(member_b=404, accountant=200, admin=200),
    ),
    Row(
        "GET",
        "/v1/invoices/{invoice_id}/pdf",
        fixed("/v1/invoices/{invoice}/pdf"),
        by_role(member_b=404, accountant=200, admin=200),
    ),
    Row(
        "POST",
        "/v1/invoices/{invoice_id}/send",
        fixed("/v1/invoices/{invoice}/send"),
        # mail is off here (no MAIL_FROM): 409 shows the caller was let through
        by_role(member_a=409, member_b=404, accountant=409, admin=409),
    ),
    Row(
        "GET",
        "/v1/invoices/{invoice_id}/xml",
        fixed("/v1/invoices/{invoice}/xml"),
        by_role(member_b=404, accountant=200, admin=200),
    ),
    Row(
        "POST",
        "/v1/invoices/{invoice_id}/payments",
        fixed(
            "/v1/invoices/{invoice}/payments",
            {"amount": 1500, "method": "transfer", "reference": "VIR-1", "paid_at": "2026-12-01"},
        ),
        # a card-paid invoice takes no transfer: 409 shows the caller was let through
        by_role(member_a=403, accountant=409, admin=409),
    ),
    Row(
        "POST",
        "/v1/invoices/{invoice_id}/refund-transfer",
        fixed(
            "/v1/invoices/{invoice}/refund-transfer",
            {"reference": "VIR-1", "paid_at": "2026-12-01"},
        ),
        # an invoice is no failed refund's credit note: 409 shows the caller was let through
        by_role(member_a=403, accountant=409, admin=409),
    ),
    Row("GET", "/v1/accounting/fec", fixed(f"/v1/accounting/fec?{OP}&year=2026"), BOOKS),
    Row("GET", "/v1/accounting/vat", fixed(f"/v1/accounting/vat?{OP}&month=2026-12"), BOOKS),
    Row("GET", "/v1/accounting/integrity", fixed(f"/v1/accounting/integrity?{OP}"), BOOKS),
    Row(
        "GET",
        "/v1/invoices/{invoice_id}/lifecycle",
        fixed("/v1/invoices/{invoice}/lifecycle"),
        BOOKS,
    ),
    Row(
        "POST",
        "/v1/invoices/{invoice_id}/lifecycle/resend",
        fixed("/v1/invoices/{invoice}/lifecycle/resend"),
        # a card invoice to a consumer was never rejected: 409 shows the caller got through
        by_role(member_a=403, accountant=409, admin=409),
    ),
    Row(
        "GET",
        "/v1/operators/{operator_id}/einvoicing-platform",
        fixed("/v1/operators/{operator}/einvoicing-platform"),
        BOOKS,
    ),
    Row(
        "PUT",
        "/v1/operators/{operator_id}/einvoicing-platform",
        fixed(
            "/v1/operators/{operator}/einvoicing-platform",
            {
                "base_url": "https://pa.example.org/api",
                "token_url": "https://pa.example.org/oauth/token",
                "client_id": "relais",
                "client_secret": "s3cret",
            },
        ),
        by_role(member_a=403, admin=200),
    ),
    Row(
        "GET",
        "/v1/operators/{operator_id}/chorus-pro",
        fixed("/v1/operators/{operator}/chorus-pro"),
        BOOKS,
    ),
    Row(
        "PUT",
        "/v1/operators/{operator_id}/chorus-pro",
        fixed(
            "/v1/operators/{operator}/chorus-pro",
            {
                "base_url": "https://chorus.example.org/api",
                "token_url": "https://chorus.example.org/oauth/token",
                "client_id": "relais",
                "client_secret": "s3cret",
            },
        ),
        by_role(member_a=403, admin=200),
    ),
    Row(
        "DELETE",
        "/v1/operators/{operator_id}/chorus-pro",
        fixed("/v1/operators/{operator}/chorus-pro"),
        # no If-Match sent: 428 shows an administrator got through
        by_role(member_a=403, admin=428),
    ),
    Row(
        "DELETE",
        "/v1/operators/{operator_id}/einvoicing-platform",
        fixed("/v1/operators/{operator}/einvoicing-platform"),
        # no If-Match sent: 428 shows an administrator got through
        by_role(member_a=403, admin=428),
    ),
    Row(
        "POST",
        "/v1/einvoicing/platforms/{operator_id}/webhook",
        fixed("/v1/einvoicing/platforms/{operator}/webhook", {}),
        # public, authenticated by the platform's signature: none here, 400 for everyone
        by_role(anonymous=400, member_a=400),
    ),
    Row(
        "GET",
        "/v1/operators/{operator_id}/ereports",
        fixed("/v1/operators/{operator}/ereports"),
        BOOKS,
    ),
    Row("GET", "/v1/accounting/invoices.csv", fixed(f"/v1/accounting/invoices.csv?{OP}"), BOOKS),
    Row("GET", "/v1/accounting/clearing", fixed("/v1/accounting/clearing?month=2026-12"), BOOKS),
    Row(
        "GET",
        "/v1/accounting/reconciliation",
        fixed(f"/v1/accounting/reconciliation?{OP}"),
        BOOKS,
    ),
    Row(
        "GET",
        "/v1/operators/{operator_id}/periods",
        fixed("/v1/operators/{operator}/periods"),
        BOOKS,
    ),
    Row(
        "GET",
        "/v1/operators/{operator_id}/accounting-settings",
        fixed("/v1/operators/{operator}/accounting-settings"),
        BOOKS,
    ),
    Row(
        "PUT",
        "/v1/operators/{operator_id}/accounting-settings",
        fixed("/v1/operators/{operator}/accounting-settings", {"fiscal_year_start_month": 7}),
        # no If-Match sent: 428 shows the caller was let through
        by_role(member_a=403, accountant=428, admin=428),
    ),
    Row(
        "GET",
        "/v1/operators/{operator_id}/periods/verify",
        fixed("/v1/operators/{operator}/periods/verify"),
        BOOKS,
    ),
    Row(
        "POST",
        "/v1/operators/{operator_id}/periods/{period}/close",
        fixed("/v1/operators/{operator}/periods/2026-12/close", {}),
        # the current month never closes: 409 shows the caller was let through
        by_role(member_a=403, accountant=409, admin=409),
    ),
    Row(
        "GET",
        "/v1/operators/{operator_id}/periods/{period}/archive",
        fixed("/v1/operators/{operator}/periods/2026-12/archive"),
        # an open month has no archive yet: 409 shows the caller was let through
        by_role(member_a=403, accountant=409, admin=409),
    ),
    Row(
        "POST",
        "/v1/admin/jobs/{job}",
        fixed("/v1/admin/jobs/expire_holds", {}),
        by_role(member_a=403, admin=200),
    ),
    # -- editing the catalogue (no If-Match sent: 428 shows the caller was let through) ----
    Row(
        "PATCH",
        "/v1/operators/{operator_id}",
        fixed("/v1/operators/{operator}", {}),
        by_role(member_a=403, admin=428),
    ),
    Row(
        "PATCH",
        "/v1/relays/{relay_id}",
        fixed("/v1/relays/{relay_x}", {}),
        by_role(member_a=403, manager_x=428, admin=428),
    ),
    Row(
        "GET",
        "/v1/relays/{relay_id}/resources/{resource_id}",
        fixed("/v1/relays/{relay_x}/resources/{pool_x}"),
        PUBLIC,
    ),
    Row(
        "PATCH",
        "/v1/relays/{relay_id}/resources/{resource_id}",
        fixed("/v1/relays/{relay_x}/resources/{pool_x}", {}),
        by_role(member_a=403, admin=428),
    ),
    Row("GET", "/v1/products/{product_id}", fixed("/v1/products/{pack_product}"), PUBLIC),
    Row(
        "PATCH",
        "/v1/products/{product_id}",
        fixed("/v1/products/{pack_product}", {}),
        by_role(member_a=403, admin=428),
    ),
    Row("GET", "/v1/relays/{relay_id}/closures", fixed("/v1/relays/{relay_x}/closures"), PUBLIC),
    Row(
        "DELETE",
        "/v1/relays/{relay_id}/closures/{closure_id}",
        closed_day,
        by_role(member_a=403, manager_x=428, admin=428),
    ),
    Row("GET", "/v1/audit", fixed("/v1/audit"), BOOKS),
    Row(
        "GET",
        "/v1/stats/occupancy",
        fixed(f"/v1/stats/occupancy?from={DAY}&to={DAY}"),
        by_role(member_a=403, manager_x=200, manager_y=200, accountant=200, admin=200),
    ),
    Row("GET", "/v1/companies", fixed("/v1/companies"), by_role(member_a=403, admin=200)),
    Row(
        "PATCH",
        "/v1/companies/{company_id}",
        fixed("/v1/companies/{company}", {}),
        by_role(member_a=403, admin=428),
    ),
    Row(
        "DELETE",
        "/v1/companies/{company_id}/members/{member_id}",
        employee,
        by_role(member_a=403, admin=204),
    ),
    # -- asynchronous exports (books only; an unknown export's 404 shows the caller was let
    # through)
    Row(
        "POST",
        "/v1/exports",
        lambda w: ("/v1/exports", {"kind": "fec", "operator_id": w.ids["operator"], "year": 2026}),
        by_role(member_a=403, accountant=202, admin=202),
    ),
    Row(
        "GET",
        "/v1/exports/{export_id}",
        fixed("/v1/exports/exp_unknown"),
        by_role(member_a=403, accountant=404, admin=404),
    ),
    # last: each caller erases their own account
    Row("DELETE", "/v1/me", fixed("/v1/me"), by_role(member_a=204)),
]


def test_every_route_has_a_row() -> None:
    import app  # noqa: F401  (registers every route)

    rows = [(r.method, r.path) for r in ROWS]
    assert len(rows) == len(set(rows)), "a route has two rows"
    assert set(rows) == {(r.method, r.path) for r in ROUTES}


def test_each_caller_gets_the_expected_answer_on_every_route(world: World) -> None:
    # One world for the whole table (building one per route would cost a minute): rows
    # that consume an object make their own, and erasure comes last.
    wrong = {}
    for row in ROWS:
        got = {}
        for role in ROLES:
            path, body = row.request(world)
            answer = world.api.request(row.method, path, body, token=world.tokens[role])
            got[role] = answer.status
        if got != row.expect:
            wrong[f"{row.method} {row.path}"] = {
                role: (got[role], row.expect[role])
                for role in ROLES
                if got[role] != row.expect[role]
            }
    assert not wrong, f"(got, expected) per caller: {wrong}"
