"""A card booking and its confirmation write the booking item once each (issue 15).

The PaymentIntent is opened before the booking's transaction (its idempotency key derives
from the booking id), and the transaction writes the held booking with its intent and the
payment record; the webhook's confirmation writes the booking's status with its invoice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.adapters import keys
from chalicelib.services.context import Context
from tests.support.api import Api, assert_problem
from tests.support.fake_stripe import FakeGateway, signed_event

DAY = "2026-12-03"


@contextmanager
def dynamodb_calls(ctx: Context) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """(operation, parameters) of every DynamoDB call made meanwhile."""
    client = ctx.table.client
    calls: list[tuple[str, dict[str, Any]]] = []

    def keep(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params))

    client.meta.events.register("provide-client-params.dynamodb.*", keep)
    try:
        yield calls
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.*", keep)


def _pk(item_or_key: dict[str, Any]) -> Any:
    pk = item_or_key.get("PK")
    return pk.get("S") if isinstance(pk, dict) else pk


def writes_of(calls: list[tuple[str, dict[str, Any]]], key: dict[str, str]) -> list[str]:
    """The operations that wrote the item `key` (in a transaction or alone)."""
    found: list[str] = []
    for operation, params in calls:
        if operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                (kind, body), *_ = entry.items()
                if kind != "ConditionCheck" and _pk(body.get("Key") or body["Item"]) == key["PK"]:
                    found.append(operation)
        elif operation in ("PutItem", "UpdateItem", "DeleteItem") and (
            _pk(params.get("Key") or params["Item"]) == key["PK"]
        ):
            found.append(operation)
    return found


def card(api: Api, resource: str, token: str, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    body = {"resource_id": resource, "date": DAY, "unit": "day", "payment": "card"}
    return api.post("/v1/bookings", body, token=token, headers=headers)


def intents_of(stripe_fake: FakeGateway, member: str) -> list[Any]:
    return [i for i in stripe_fake.intents.values() if i.metadata.get("member_id") == member]


def test_given_a_card_booking_then_one_transaction_writes_the_hold_its_intent_and_payment(
    api: Api, ctx: Context, network: dict[str, str], stripe_fake: FakeGateway
) -> None:
    # Given a member booking a day by card
    # When the booking is made
    with dynamodb_calls(ctx) as calls:
        answer = card(api, network["pool"], api.token("member-1"))

    # Then the booking and its payment record were each written once, by one transaction
    assert answer.status == 201, answer.json
    booking_id = answer.json["booking"]["id"]
    intent_id = answer.json["payment"]["payment_intent_id"]
    assert writes_of(calls, keys.booking(booking_id)) == ["TransactWriteItems"]
    assert writes_of(calls, keys.payment(intent_id)) == ["TransactWriteItems"]
    stored = ctx.bookings.get(booking_id)
    assert stored is not None and stored.payment_intent_id == intent_id
    payment = ctx.payments.payment(intent_id)
    assert payment is not None
    assert (payment.subject_id, payment.amount) == (booking_id, stored.price["amount"])
    assert stripe_fake.intents[intent_id].metadata["booking_id"] == booking_id


def test_given_a_paid_hold_when_stripe_tells_us_then_one_write_confirms_it_with_its_invoice(
    api: Api, ctx: Context, network: dict[str, str], stripe_fake: FakeGateway
) -> None:
    # Given a held card booking
    held = card(api, network["pool"], api.token("member-1")).json
    booking_id = held["booking"]["id"]
    intent = stripe_fake.succeed(held["payment"]["payment_intent_id"])
    payload, header = signed_event(
        "payment_intent.succeeded", intent, ctx.settings.stripe_webhook_secret
    )

    # When the payment's webhook arrives
    with dynamodb_calls(ctx) as calls:
        answer = api.post("/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header})

    # Then the booking is confirmed with its invoice, by a single write of the booking
    assert answer.status == 200, answer.json
    assert writes_of(calls, keys.booking(booking_id)) == ["TransactWriteItems"]
    stored = ctx.bookings.get(booking_id)
    assert stored is not None
    assert stored.status.value == "confirmed"
    assert stored.invoice_id


def fill_pool(api: Api, pool: str) -> list[dict[str, Any]]:
    """Its three seats held by three other members."""
    held = [card(api, pool, api.token(f"member-{n}")) for n in (2, 3, 4)]
    assert [a.status for a in held] == [201, 201, 201], [a.json for a in held]
    return [dict(a.json) for a in held]


def test_given_a_full_day_when_a_card_booking_without_key_is_refused_then_its_intent_is_cancelled(
    api: Api, network: dict[str, str], stripe_fake: FakeGateway
) -> None:
    # Given a day with no free seat
    fill_pool(api, network["pool"])

    # When a member books it by card, without Idempotency-Key
    answer = card(api, network["pool"], api.token("member-1"))

    # Then 409, and the intent opened for it is cancelled (nobody ever saw its secret)
    assert_problem(answer, 409, "slot_unavailable")
    opened = intents_of(stripe_fake, "member-1")
    assert [i.status for i in opened] == ["canceled"]


def test_given_a_refused_keyed_card_booking_when_retried_after_a_seat_frees_then_its_intent_serves(
    api: Api, network: dict[str, str], stripe_fake: FakeGateway
) -> None:
    # Given a day with no free seat, and a member's keyed card booking refused
    others = fill_pool(api, network["pool"])
    member = api.token("member-1")
    assert_problem(card(api, network["pool"], member, key="k-1"), 409, "slot_unavailable")
    first = intents_of(stripe_fake, "member-1")
    assert [i.status for i in first] == ["requires_payment_method"]  # kept for the retry

    # When a seat frees and the member retries with the same key
    freed = api.post(
        f"/v1/bookings/{others[0]['booking']['id']}/cancel", token=api.token("member-2")
    )
    assert freed.status == 200, freed.json
    retried = card(api, network["pool"], member, key="k-1")

    # Then it is booked with the intent opened the first time, which can still be paid
    assert retried.status == 201, retried.json
    assert retried.json["payment"]["payment_intent_id"] == first[0].id
    assert [i.status for i in intents_of(stripe_fake, "member-1")] == ["requires_payment_method"]
