"""A chain of documents issued by the issuing code, for the typed-document tests.

`python -m tests.support.invoice_fixtures` writes `tests/data/invoices/documents.jsonl`:
one stored document body per line (the text the invoice store keeps), in chain order.
The committed file was written by the code *before* documents were typed (issue 10), so
`tests/unit/test_documents.py` proves that (a) every document issued before parses into
the typed model with a byte-identical canonical JSON, and its chain still verifies, and
(b) the code of today issues, from the same inputs, byte-identical documents.

Every kind of document: a member's booking (card), a pack, a membership (SEPA), a full
and a partial refund's credit notes, a professional member (SIREN: B2B mentions), an
operator under the VAT franchise, a company's monthly invoice (due, by transfer, lines
naming their bookings) and its credit note for one cancelled booking.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from chalicelib.adapters.invoice_store import InvoiceStore
from chalicelib.domain.catalogue import Address, Operator, VatRegime
from chalicelib.domain.invoice import GENESIS_HASH, Sale, document_line, negated_line
from chalicelib.domain.timezones import PARIS
from chalicelib.services import invoicing

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "invoices" / "documents.jsonl"

CREATED = datetime(2026, 1, 5, 9, 0, tzinfo=PARIS)
OPERATOR = Operator(
    id="op-gare",
    created_at=CREATED,
    name="Relais de la Gare",
    legal_form="SAS",
    siren="732829320",
    siret="73282932000074",
    vat_number="FR44732829320",
    vat_regime=VatRegime("normal"),
    address=Address(line1="1 place de la Gare", postcode="69002", city="Lyon"),
    invoice_prefix="RG",
    email="compta@relais-gare.example",
)
FRANCHISE = Operator(
    id="op-bourg",
    created_at=CREATED,
    name="Atelier du Bourg",
    legal_form="EI",
    siren="552100554",
    vat_regime=VatRegime("franchise"),
    address=Address(line1="3 rue Haute", line2="Bâtiment B", postcode="01000", city="Bourg"),
    invoice_prefix="AB",
    email="atelier@bourg.example",
)
MEMBER = {
    "name": "Léa Martin",
    "email": "lea@example.org",
    "address": None,
    "company_name": None,
    "siren": None,
    "vat_number": None,
}
PRO_MEMBER = {
    "name": "Hugo Bernard",
    "email": "hugo@studio.example",
    "address": {"line1": "8 quai Est", "line2": None, "postcode": "69001", "city": "Lyon"},
    "company_name": "Studio Bernard",
    "siren": "732829320",
    "vat_number": None,
}
COMPANY = {
    "name": "Acme SA",
    "company_name": "Acme SA",
    "siren": "552100554",
    "vat_number": "FR12552100554",  # a wrong key (FR96…): kept, documents.jsonl holds it
    "address": {
        "line1": "10 rue de la Paix",
        "line2": None,
        "postcode": "75002",
        "city": "Paris",
        "country": "FR",
    },
    "email": "factures@acme.example",
}


def _paid(method: str, at: str, ref: str) -> dict[str, Any]:
    return {"status": "paid", "method": method, "paid_at": at, "provider_ref": ref}


def _line(description: str, amount: int, rate: str, day: date, franchise: bool = False) -> Any:
    sale = Sale(description, amount, Decimal(rate), day)
    return document_line(sale, franchise)


def issued_chain(
    build: Callable[..., dict[str, Any]] = invoicing._document,
) -> list[dict[str, Any]]:
    """The documents, each built by `build` (the issuing code's `_document`) and chained
    per operator as the store chains them."""
    heads: dict[str, tuple[int, str]] = {}
    issued: list[dict[str, Any]] = []

    def issue(
        operator: Operator,
        at: str,
        buyer: dict[str, Any],
        member_id: str | None,
        lines: list[dict[str, Any]],
        payment: dict[str, Any],
        refers_to: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        sequence, previous = heads.get(operator.id, (0, GENESIS_HASH))
        now = datetime.fromisoformat(at).astimezone(PARIS)
        document = build(
            operator,
            now,
            sequence + 1,
            previous,
            buyer,
            member_id,
            lines,
            payment,
            refers_to,
            extra or {},
        )
        heads[operator.id] = (sequence + 1, document["hash"])
        issued.append(document)
        return document

    day = date(2026, 3, 12)
    booking = issue(
        OPERATOR,
        "2026-03-10T14:03:21+01:00",
        MEMBER,
        "m-lea",
        [_line("Journée — Bureau 1, Relais de la Gare", 3500, "20.00", day)],
        _paid("card", "2026-03-10T14:03:20+01:00", "pi_booking"),
    )
    issue(
        OPERATOR,
        "2026-03-10T15:00:00+01:00",
        MEMBER,
        "m-lea",
        [_line("Carnet 10 — 10 crédits", 29900, "20.00", date(2026, 3, 10))],
        _paid("card", "2026-03-10T14:59:58+01:00", "pi_pack"),
    )
    issue(
        OPERATOR,
        "2026-03-29T03:30:00+02:00",  # the DST morning
        MEMBER,
        "m-lea",
        [_line("Abonnement Nomade — mars 2026", 4900, "20.00", date(2026, 3, 29))],
        _paid("sepa_debit", "2026-03-29T03:29:00+02:00", "pi_membership"),
    )
    issue(
        OPERATOR,
        "2026-03-11T09:00:00+01:00",
        MEMBER,
        "m-lea",
        [negated_line(line) for line in booking["lines"]],
        _paid("card", "2026-03-11T09:00:00+01:00", "re_full"),
        refers_to=booking,
    )
    partial = Sale(
        description=f"Remboursement partiel — {booking['lines'][0]['description']}",
        amount_incl_vat=1234,
        vat_rate=Decimal("20.00"),
        service_date=date(2026, 3, 10),
    )
    issue(
        OPERATOR,
        "2026-03-11T10:00:00+01:00",
        MEMBER,
        "m-lea",
        [negated_line(document_line(partial, franchise=False))],
        _paid("card", "2026-03-11T10:00:00+01:00", "re_partial"),
        refers_to=booking,
    )
    issue(
        OPERATOR,
        "2026-04-01T08:00:00+02:00",
        PRO_MEMBER,
        "m-hugo",
        [_line("Demi-journée (matin) — Salle Rhône, Relais de la Gare", 6000, "10.00", day)],
        _paid("card", "2026-04-01T07:59:00+02:00", "pi_pro"),
    )
    issue(
        FRANCHISE,
        "2026-04-02T11:11:11+02:00",
        MEMBER,
        "m-lea",
        [_line("09:00–11:30 — Établi, Atelier du Bourg", 2750, "20.00", day, franchise=True)],
        _paid("card", "2026-04-02T11:11:00+02:00", "pi_franchise"),
    )
    company_lines = [
        {**_line(f"Journée — Bureau {n}, Relais de la Gare — Léa", 3500, "20.00", day), **bk}
        for n, bk in ((1, {"booking_id": "bk-1"}), (2, {"booking_id": "bk-2"}))
    ]
    due = {"status": "due", "method": "transfer", "paid_at": None, "provider_ref": None}
    monthly = issue(
        OPERATOR,
        "2026-04-01T02:00:00+02:00",
        COMPANY,
        None,
        company_lines,
        {**due, "due_date": "2026-04-30"},
        extra={"company_id": "co-acme", "billing_month": "2026-03"},
    )
    issue(
        OPERATOR,
        "2026-04-03T10:00:00+02:00",
        COMPANY,
        None,
        [negated_line(monthly["lines"][1])],
        {**due, "due_date": "2026-04-30"},
        refers_to=monthly,
        extra={"company_id": "co-acme", "billing_month": "2026-03", "booking_id": "bk-2"},
    )
    return issued


def stored_body(document: dict[str, Any]) -> str:
    """The text the invoice store keeps for a document."""
    item = InvoiceStore(None)._document_item(document, 2026, 1)  # type: ignore[arg-type]
    return str(item["body"])


def load_bodies() -> list[str]:
    return FIXTURE.read_text(encoding="utf-8").splitlines()


if __name__ == "__main__":
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(stored_body(d) + "\n" for d in issued_chain())
    FIXTURE.write_text(text, encoding="utf-8")
    print(f"{FIXTURE}: {len(text.splitlines())} documents")
    json.loads(text.splitlines()[0])
