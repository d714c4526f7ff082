"""What localstripe lacks for a browser paying with Stripe.js: card confirmation.

localstripe's mock Stripe.js (`/js.stripe.com/v3/`) renders a Card Element as five
plain inputs (number, exp_month, exp_year as two digits, cvc, postal_code), but its
`confirmCardPayment(client_secret, {payment_method: {card: element}})` ignores the card:
it only plays the 3-D Secure step of an intent the *server* already confirmed. And its
server refuses `POST /v1/payment_intents/{id}/confirm` with a publishable key.

Real Stripe.js confirms with the publishable key, the `client_secret` and
`payment_method_data`; `install(app)` teaches localstripe exactly that:

- `POST /v1/payment_intents/{id}/confirm` with `key=pk_...`, the intent's
  `client_secret` and `payment_method_data[card]` creates the card PaymentMethod, sets
  it on the intent and confirms it (a declined card answers 402 with Stripe's
  `error.code`, `error.decline_code` and `error.payment_intent`);
- `GET /js.stripe.com/v3/` serves localstripe's mock with `confirmCardPayment` doing
  that call first (then the mock's own 3-D Secure dialog when the card asks for it).

Test and demo tooling only (run inside `python -m tools.localstripe_server serve`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PATCH_JS = Path(__file__).with_name("localstripe_browser.js")
CONFIRM_PATH = re.compile(r"^/v1/payment_intents/(pi_\w+)/confirm$")


def install(app: Any) -> None:
    """Put the middleware first (before localstripe's authentication)."""
    app.middlewares.insert(0, _middleware())


def _middleware() -> Any:
    from aiohttp import web

    @web.middleware
    async def middleware(request: Any, handler: Any) -> Any:
        if request.method == "GET" and request.path == "/js.stripe.com/v3/":
            return _stripe_js(web)
        match = CONFIRM_PATH.match(request.path)
        if request.method == "POST" and match and not request.headers.get("Authorization"):
            return await _confirm_with_publishable_key(web, request, match.group(1))
        return await handler(request)

    return middleware


def _stripe_js(web: Any) -> Any:
    import localstripe

    mock = Path(localstripe.__file__).with_name("localstripe-v3.js").read_text()
    script = mock + "\n" + PATCH_JS.read_text()
    return web.Response(text=script, content_type="application/javascript")


async def _confirm_with_publishable_key(web: Any, request: Any, intent_id: str) -> Any:
    from localstripe.errors import UserError
    from localstripe.resources import PaymentIntent, PaymentMethod, store
    from localstripe.server import get_post_data

    data = await get_post_data(request, remove_auth=False) or {}
    try:
        if not str(data.get("key", "")).startswith("pk_"):
            raise UserError(401, "Unauthorized")
        intent = PaymentIntent._api_retrieve(intent_id)
        if data.get("client_secret") != intent.client_secret:
            raise UserError(401, "Unauthorized")
        if intent.status not in ("requires_payment_method", "requires_confirmation"):
            raise UserError(400, f"This PaymentIntent's status is {intent.status}.")
        method = _card_method(PaymentMethod, UserError, data)
        intent.payment_method = method.id
        intent.latest_charge = None
        try:
            intent._confirm(on_failure_now=intent._report_failure)
        except UserError as declined:
            declined.body["error"].setdefault("decline_code", "generic_decline")
            declined.body["error"]["type"] = "card_error"
            declined.body["error"]["payment_intent"] = intent._export()
            raise
        return web.json_response(intent._export())
    except UserError as error:
        return error.to_response()
    finally:
        store.dump_to_disk()


def _card_method(payment_method: Any, user_error: Any, data: dict[str, Any]) -> Any:
    card = (data.get("payment_method_data") or {}).get("card") or {}
    fields = {key: str(card.get(key) or "") for key in ("number", "exp_month", "exp_year", "cvc")}
    fields["number"] = re.sub(r"\D", "", fields["number"])
    if len(fields["number"]) != 16:
        raise user_error(402, "Your card number is incomplete.", {"code": "incomplete_number"})
    try:
        return payment_method._api_create(type="card", card=fields)
    except user_error as error:
        error.body["error"].setdefault("code", "invalid_card_data")
        error.code = 402
        raise
