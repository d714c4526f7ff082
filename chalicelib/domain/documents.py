"""Invoices and credit notes as typed, frozen documents (the legal heart of the books).

A document is stored as JSON text and chained by the sha256 of its canonical JSON (sorted
keys, compact, UTF-8; `domain.invoice.chain_hash`). These models read that text without
changing a byte of its canonical form, so every document issued before them still
verifies:

- every value keeps its JSON type: amounts are integers in cents, rates and quantities
  strings, dates ISO strings (the `Strict*` types refuse a coercion instead of hiding it);
- a key absent from a stored document stays absent (`canonical()` dumps the keys that were
  set), and a key these models do not name is kept as it was (`extra="allow"`), so a field
  added later to the issuing code, or an older document's shape, passes through untouched.

`Document.of(text_or_dict)` reads one; `canonical()` is the dict that is hashed and
stored; `verifies(previous_hash)` recomputes its link of the chain.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr

from chalicelib.domain.invoice import chain_hash

DocumentKind = Literal["invoice", "credit_note"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    def canonical(self) -> dict[str, Any]:
        """The JSON object as issued: the keys that were set, with their JSON values."""
        return self.model_dump(mode="json", exclude_unset=True)


class PostalAddress(_Frozen):
    """A party's address as copied at issue time (a buyer's may lack a line or the
    country: a member's billing address as they typed it)."""

    line1: StrictStr | None = None
    line2: StrictStr | None = None
    postcode: StrictStr | None = None
    city: StrictStr | None = None
    country: StrictStr | None = None


class DeliveryPlace(PostalAddress):
    """Where the service was delivered, when not at the buyer's address (CII BG-13)."""

    name: StrictStr | None = None


class Party(_Frozen):
    """The seller or the buyer, copied at issue time (`address` as it was then)."""

    # in a member's order (`buyer_snapshot`), so a copied buyer keeps its text too
    name: StrictStr
    email: StrictStr | None = None
    address: PostalAddress | None = None
    company_name: StrictStr | None = None  # buyer only
    siren: StrictStr | None = None
    vat_number: StrictStr | None = None
    siret: StrictStr | None = None  # the seller's; a public buyer's (Chorus Pro finds it by it)
    # seller only
    legal_form: StrictStr | None = None
    vat_regime: StrictStr | None = None
    vat_on_debits: StrictBool | None = None
    iban: StrictStr | None = None  # a transfer invoice's: where to pay (and its bank's BIC)
    bic: StrictStr | None = None
    # a public buyer's, for Chorus Pro (`domain.company.public_buyer_fields`)
    public_body: StrictBool | None = None
    service_code: StrictStr | None = None
    engagement_number: StrictStr | None = None
    electronic_address: StrictStr | None = None  # a directory address (BT-34/BT-49)


class DocumentLine(_Frozen):
    """One line; negative amounts on a credit note. `quantity` and `vat_rate` are decimal
    texts ("1", "20.00"), amounts integer cents."""

    description: StrictStr
    quantity: StrictStr
    unit_price_excl_vat: StrictInt
    vat_rate: StrictStr
    amount_excl_vat: StrictInt
    vat_amount: StrictInt
    amount_incl_vat: StrictInt
    service_date: StrictStr
    booking_id: StrictStr | None = None  # a company's monthly invoice names each booking


class Totals(_Frozen):
    excl_vat: StrictInt
    vat: StrictInt
    incl_vat: StrictInt


class VatLine(_Frozen):
    rate: StrictStr
    base: StrictInt
    vat: StrictInt


class DocumentPayment(_Frozen):
    """`paid` (card, SEPA debit: with when and the provider's reference) or `due` (a
    company's transfer, with its due date)."""

    status: StrictStr
    method: StrictStr | None = None
    paid_at: StrictStr | None = None
    provider_ref: StrictStr | None = None
    due_date: StrictStr | None = None


class Document(_Frozen):
    id: StrictStr
    number: StrictStr
    type: DocumentKind
    operator_id: StrictStr
    member_id: StrictStr | None = None
    issued_at: StrictStr
    seller: Party
    buyer: Party
    lines: tuple[DocumentLine, ...]
    totals: Totals
    vat_breakdown: tuple[VatLine, ...]
    currency: StrictStr = "EUR"
    payment: DocumentPayment
    refers_to: StrictStr | None = None  # a credit note's invoice: id, number, date
    refers_to_number: StrictStr | None = None
    refers_to_date: StrictStr | None = None
    legal_mentions: tuple[StrictStr, ...]
    previous_hash: StrictStr
    hash: StrictStr
    # a company's documents
    company_id: StrictStr | None = None
    # a settlement invoice's (or its credit note's): the operator it bills
    buyer_operator_id: StrictStr | None = None
    billing_month: StrictStr | None = None
    booking_id: StrictStr | None = None  # the cancelled booking a company credit note is for
    delivery_address: DeliveryPlace | None = None  # where the service was, if not the buyer's

    @classmethod
    def of(cls, stored: str | dict[str, Any]) -> Document:
        """The document of its stored JSON text, or of the dict issued or read."""
        if isinstance(stored, str):
            return cls.model_validate_json(stored)
        return cls.model_validate(stored)

    @property
    def is_credit_note(self) -> bool:
        return self.type == "credit_note"

    @property
    def issued_on(self) -> str:
        """The day of issue (Paris), `YYYY-MM-DD`."""
        return self.issued_at[:10]

    def chained_hash(self, previous_hash: str) -> str:
        """This document's hash when it follows `previous_hash` in the chain."""
        return chain_hash(self.canonical(), previous_hash)

    def verifies(self, previous_hash: str) -> bool:
        return self.previous_hash == previous_hash and self.chained_hash(previous_hash) == self.hash


# When VAT is due (UNTDID 2005: BT-8 of an invoice, TT-24 / TT-80 of an e-report): on
# receipt, the rule for services, or on the debit for a seller who opted for it.
VAT_ON_RECEIPTS = "72"
VAT_ON_DEBITS = "5"


def vat_point(seller: Party) -> str | None:
    """The code of when the seller's VAT is due, or None when none is (franchise)."""
    if seller.vat_regime == "franchise":
        return None
    return VAT_ON_DEBITS if seller.vat_on_debits else VAT_ON_RECEIPTS


def business_process(document: Document) -> str:
    """The cadre de facturation (BT-23, TT-28): services (S), paid already (S2, a card or
    SEPA payment) or to be paid (S1, a transfer due)."""
    return "S2" if document.payment.status == "paid" else "S1"
