"""`make demo`: the whole story against a running `make run`, one printed step at a time.

Find a free desk near Melun → book it by card → pay as the browser would (test card
4242…) → confirmed by Stripe's webhook → try a card whose charge is declined (4000…0341)
→ buy a 10-day credit pack → book with credits → cancel → refund and credits restored,
with the invoices and the credit note issued on the way.

Honours PORT, STRIPE_PORT and RELAIS_LOCAL_DIR as `make run` does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.errors import PaymentFailed
from tools.dev_auth import DEFAULT_AUDIENCE, DEFAULT_ISSUER, default_keys_dir, mint_token
from tools.localstripe_server import confirm_as_browser

MELUN = "48.5421,2.6554"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"


class Demo:
    def __init__(self) -> None:
        self.base = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/v1"
        self.stripe = StripeGateway(
            api_key="sk_test_relais_local",
            api_base=f"http://127.0.0.1:{os.environ.get('STRIPE_PORT', '8002')}",
        )
        key = default_keys_dir() / "private_key.pem"
        self.token = mint_token(
            key,
            sub=f"demo-visitor-{int(time.time())}",
            name="Camille Demo",
            email="camille@example.org",
            issuer=os.environ.get("AUTH_ISSUER", DEFAULT_ISSUER),
            audience=os.environ.get("AUTH_AUDIENCE", DEFAULT_AUDIENCE),
        )
        self.step = 0

    def say(self, text: str) -> None:
        self.step += 1
        print(f"\n{self.step}. {text}", flush=True)

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            answer = json.loads(exc.read() or b"null")
            print(f"   ← {exc.code} {answer.get('code')}: {answer.get('detail')}")
            return answer
        return answer

    def wait_for(self, booking_id: str, status: str, seconds: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            booking: dict[str, Any] = self.call("GET", f"/bookings/{booking_id}")
            if booking.get("status") == status or time.monotonic() > deadline:
                return booking
            time.sleep(0.5)


def next_weekday(days_ahead: int) -> str:
    day = dt.date.today() + dt.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day.isoformat()


def run(demo: Demo) -> None:
    day = next_weekday(3)
    demo.say(f"Free hot desks near Melun on {day}")
    found = demo.call("GET", f"/availability?date={day}&near={MELUN}&kind=hot_desk")
    relay = next(r for r in found["relays"] if r["open"] and r["resources"])
    desk = relay["resources"][0]
    print(
        f"   {relay['name']} ({relay.get('distance_km')} km): {desk['name']}, "
        f"{min(s['free'] for s in desk['slots'])} of {desk['capacity']} seats free all day"
    )

    demo.say("Book it for the day, paid by card")
    booked = demo.call(
        "POST",
        "/bookings",
        {"resource_id": desk["resource_id"], "date": day, "unit": "day", "payment": "card"},
        key=f"demo-{time.time()}",
    )
    booking, payment = booked["booking"], booked["payment"]
    print(
        f"   booking {booking['id']} is {booking['status']} until {booking['hold_expires_at']};"
        f" pay {payment['amount'] / 100:.2f} € with intent {payment['payment_intent_id']}"
    )

    demo.say(f"Pay as the browser would (card {GOOD_CARD})")
    intent = confirm_as_browser(demo.stripe, payment["payment_intent_id"], GOOD_CARD)
    print(f"   Stripe says {intent.status}; waiting for its webhook…")
    confirmed = demo.wait_for(booking["id"], "confirmed")
    print(f"   booking is {confirmed['status']}, invoice {confirmed.get('invoice_id')}")

    demo.say(f"A second booking paid with a card whose charge is declined ({DECLINED_CARD})")
    second = demo.call(
        "POST",
        "/bookings",
        {
            "resource_id": desk["resource_id"],
            "date": next_weekday(4),
            "unit": "half_day_am",
            "payment": "card",
        },
    )
    try:
        confirm_as_browser(demo.stripe, second["payment"]["payment_intent_id"], DECLINED_CARD)
    except PaymentFailed as exc:
        print(f"   declined: {exc.detail}; the booking stays held until its hold expires")

    demo.say("Buy a 10-day credit pack")
    product = next(
        p
        for p in demo.call("GET", "/products")["items"]
        if p["kind"] == "credit_pack" and p["credits"] == 10
    )
    bought = demo.call("POST", "/purchases", {"product_id": product["id"]})
    confirm_as_browser(demo.stripe, bought["payment"]["payment_intent_id"], GOOD_CARD)
    deadline = time.monotonic() + 20
    while demo.call("GET", "/wallet")["credits_remaining"] == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    print(f"   wallet: {demo.call('GET', '/wallet')['credits_remaining']} credits")

    demo.say("Book a day with credits, then cancel it in time")
    with_credits = demo.call(
        "POST",
        "/bookings",
        {
            "resource_id": desk["resource_id"],
            "date": next_weekday(6),
            "unit": "day",
            "payment": "credits",
        },
    )
    print(
        f"   {with_credits['booking']['status']}; wallet now "
        f"{demo.call('GET', '/wallet')['credits_remaining']} credits"
    )
    cancelled = demo.call("POST", f"/bookings/{with_credits['booking']['id']}/cancel")
    print(f"   cancelled, {cancelled['credits_restored']} credit(s) restored")

    demo.say("Cancel the card booking: refunded, with a credit note")
    refunded = demo.call("POST", f"/bookings/{booking['id']}/cancel")
    print(f"   refund {refunded['refund']}, credit note {refunded['credit_note_id']}")
    invoices = demo.call("GET", "/invoices")["items"]
    for doc in invoices:
        print(f"   {doc['number']} {doc['type']:<11} {doc['totals']['incl_vat'] / 100:>8.2f} €")
    print("\nThat's the story. The API's OpenAPI document: " + demo.base + "/openapi.json")


def main() -> int:
    try:
        run(Demo())
    except (urllib.error.URLError, ConnectionError) as exc:
        print(f"make demo: is `make run` running? ({exc})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
