"""The fake Stripe gateway with customers, SetupIntents and off-session charges.

A saved payment method behaves as its test says, and can be told to change (a card that
starts asking for authentication, a SEPA account that bounces):

- `succeeds`: the charge succeeds at once;
- `declined`: 402 card_declined (`OffSessionChargeFailed`, reason `card_declined`);
- `requires_authentication`: what Stripe answers off-session when the bank wants its
  cardholder (`OffSessionChargeFailed`, reason `authentication_required`);
- `sepa`: the debit is `processing`; `settle(intent)` / `bounce(intent)` play the bank.

Idempotency keys are honoured as Stripe does: the same key replays the first answer,
failure included. Every method holds one lock: concurrent callers see Stripe's atomicity.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from typing import Any, Literal

from chalicelib.errors import OffSessionChargeFailed
from tests.support.fake_stripe import FakeGateway, FakeIntent

Behaviour = Literal["succeeds", "declined", "requires_authentication", "sepa"]


@dataclass(frozen=True)
class FakeSetupIntent:
    id: str
    client_secret: str
    status: str
    customer: str
    payment_method_types: list[str]
    metadata: dict[str, str]
    payment_method: str | None = None


@dataclass
class OffSessionCharge:
    """One call to `charge_off_session`, as Stripe received it."""

    key: str
    customer: str
    payment_method: str
    amount: int
    metadata: dict[str, str]
    intent_id: str
    outcome: str  # succeeded | processing | card_declined | authentication_required
    replayed: bool = False


@dataclass
class _Replay:
    intent_id: str
    error: OffSessionChargeFailed | None = None


class MembershipFakeGateway(FakeGateway):
    def __init__(self) -> None:
        super().__init__()
        self.customers: dict[str, dict[str, Any]] = {}
        self.deleted_customers: set[str] = set()
        self.setup_intents: dict[str, FakeSetupIntent] = {}
        self.behaviours: dict[str, Behaviour] = {}  # payment method -> how it answers
        self.charges: list[OffSessionCharge] = []
        self._lock = threading.RLock()
        self._counter = itertools.count(1)
        self._replays: dict[str, _Replay] = {}

    # -- customers and SetupIntents ------------------------------------------------------
    def create_customer(
        self, *, email: str, name: str, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        with self._lock:
            self._check("create_customer")
            if idempotency_key in self._by_key:
                return str(self._by_key[idempotency_key])
            customer = f"cus_{next(self._counter)}"
            self.customers[customer] = {"email": email, "name": name, "metadata": metadata}
            self._by_key[idempotency_key] = customer
            return customer

    def delete_customer(self, customer: str) -> None:
        with self._lock:
            self._check("delete_customer")
            self.customers.pop(customer, None)
            self.deleted_customers.add(customer)

    def create_setup_intent(
        self,
        *,
        customer: str,
        payment_method_types: list[str],
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> FakeSetupIntent:
        with self._lock:
            self._check("create_setup_intent")
            if idempotency_key in self._by_key:
                return self.setup_intents[self._by_key[idempotency_key]]
            n = next(self._counter)
            setup = FakeSetupIntent(
                f"seti_{n}",
                f"seti_{n}_secret",
                "requires_payment_method",
                customer,
                list(payment_method_types),
                dict(metadata),
            )
            self.setup_intents[setup.id] = setup
            self._by_key[idempotency_key] = setup.id
            return setup

    def retrieve_setup_intent(self, setup_intent_id: str) -> FakeSetupIntent:
        with self._lock:
            self._check("retrieve_setup_intent")
            return self.setup_intents[setup_intent_id]

    def save_payment_method(
        self, setup_intent_id: str, behaviour: Behaviour = "succeeds"
    ) -> dict[str, Any]:
        """Play the browser confirming the SetupIntent; answers the `setup_intent.succeeded`
        event object (payment method `pm_...` with the given behaviour)."""
        with self._lock:
            method = f"pm_{next(self._counter)}"
            self.behaviours[method] = behaviour
            setup = replace(
                self.setup_intents[setup_intent_id], status="succeeded", payment_method=method
            )
            self.setup_intents[setup.id] = setup
            return {
                "id": setup.id,
                "object": "setup_intent",
                "status": "succeeded",
                "customer": setup.customer,
                "payment_method": method,
                "usage": "off_session",
                "metadata": setup.metadata,
            }

    # -- off-session charges -------------------------------------------------------------
    def charge_off_session(
        self,
        *,
        customer: str,
        payment_method: str,
        payment_method_type: str,
        amount: int,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> FakeIntent:
        with self._lock:
            self._check("charge_off_session")
            replay = self._replays.get(idempotency_key)
            if replay is not None:
                self.charges.append(
                    replace(self._charge_of(idempotency_key), replayed=True)  # same answer
                )
                if replay.error is not None:
                    raise replay.error
                return self.intents[replay.intent_id]
            behaviour = self.behaviours[payment_method]
            status = {"succeeds": "succeeded", "sepa": "processing"}.get(
                behaviour, "requires_payment_method"
            )
            n = next(self._ids)  # the card intents' sequence: never two intents one id
            intent = FakeIntent(
                f"pi_{n}", f"pi_{n}_secret", status, amount, currency.upper(), dict(metadata)
            )
            self.intents[intent.id] = intent
            outcome = {
                "declined": "card_declined",
                "requires_authentication": "authentication_required",
            }.get(behaviour, status)
            self.charges.append(
                OffSessionCharge(
                    idempotency_key,
                    customer,
                    payment_method,
                    amount,
                    dict(metadata),
                    intent.id,
                    outcome,
                )
            )
            error = None
            if status == "requires_payment_method":
                error = OffSessionChargeFailed(
                    f"Off-session charge failed ({outcome}).",
                    reason=outcome,
                    payment_intent_id=intent.id,
                )
            self._replays[idempotency_key] = _Replay(intent.id, error)
            if error is not None:
                raise error
            return intent

    def _charge_of(self, key: str) -> OffSessionCharge:
        return next(c for c in self.charges if c.key == key and not c.replayed)

    # -- the bank's answer to a SEPA debit, as webhook objects ---------------------------
    def settle(self, intent_id: str) -> dict[str, Any]:
        """The debit went through: the `payment_intent.succeeded` object."""
        return self.succeed(intent_id)

    def bounce(self, intent_id: str) -> dict[str, Any]:
        """The debit failed days later: the `payment_intent.payment_failed` object."""
        with self._lock:
            intent = replace(self.intents[intent_id], status="requires_payment_method")
            self.intents[intent_id] = intent
            return self.event_object(intent_id, "insufficient_funds")

    def event_object(self, intent_id: str, failure_code: str | None = None) -> dict[str, Any]:
        """An intent as webhooks carry it (with `last_payment_error` when it failed)."""
        intent = self.intents[intent_id]
        obj: dict[str, Any] = {
            "id": intent.id,
            "object": "payment_intent",
            "status": intent.status,
            "amount": intent.amount,
            "currency": intent.currency.lower(),
            "metadata": intent.metadata,
            "latest_charge": f"ch_{intent.id}",
        }
        if failure_code:
            obj["last_payment_error"] = {"code": failure_code, "message": failure_code}
        return obj

    # -- what tests look at --------------------------------------------------------------
    def first_charges(self) -> list[OffSessionCharge]:
        """The charges Stripe really made (replays of a key excluded)."""
        return [c for c in self.charges if not c.replayed]

    def money_moved(self) -> list[OffSessionCharge]:
        """Charges that took (or are taking) money: succeeded or processing."""
        return [c for c in self.first_charges() if c.outcome in ("succeeded", "processing")]
