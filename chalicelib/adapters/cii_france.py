"""What the French e-invoicing rules (CIUS FR, FNFE-MPE BR-FR 1.4) add to a CII invoice.

`invoice_cii` builds the EN 16931 XML and asks this module for the French parts:

* BR-FR-05: notes PMT (recovery fee), PMD (late penalties) and AAB (discount) on every
  document. A document issued before consumers got those mentions gets the consumer
  wording of `chalicelib.domain.invoice` here, so its XML still passes.
* BR-FR-20: a BAR note saying how the platform treats the document, by its buyer
  (`chalicelib.domain.invoice.buyer_category`): `B2B` for a French business (its SIREN:
  routed), `B2BINT` for a business of another EU state (its VAT number; e-reported
  invoice by invoice), `B2C` for a consumer (e-reported in aggregate). Neither of the
  last two is routed.
* BR-FR-13 / BR-FR-12, BR-FR-21: electronic addresses. The seller's (BT-34) and a business
  buyer's (BT-49) are addresses of the French directory (scheme 0225). When the document
  holds none, the SIREN itself is used: it is the address every business has in the
  directory (its mandatory SIREN-level line), and BR-FR-21 wants a B2B buyer's address
  to start with its SIREN. A consumer is not in the directory: their e-mail (scheme EM).
* BT-8 (VAT point): code 72 (VAT due when paid, the rule for services) unless the seller
  opted for VAT on debits (code 5); none under the franchise, where no VAT is due.
"""

from __future__ import annotations

import re

from chalicelib.domain.documents import Document, Party
from chalicelib.domain.invoice import buyer_category, consumer_mentions

DIRECTORY_SCHEME = "0225"
EMAIL_SCHEME = "EM"
REQUIRED_NOTE_SUBJECTS = ("AAB", "PMD", "PMT")  # in the order of consumer_mentions()
_ADDRESS = re.compile(r"^[A-Za-z0-9._-]{1,125}$")  # BR-FR-23 / BR-FR-25


def missing_notes(invoice: Document, subjects: set[str]) -> list[tuple[str, str]]:
    """(text, subject) of the BR-FR-05 notes that the document's mentions do not give."""
    paid = invoice.payment.status == "paid"
    texts = dict(zip(REQUIRED_NOTE_SUBJECTS, consumer_mentions(paid=paid), strict=True))
    return [(texts[code], code) for code in REQUIRED_NOTE_SUBJECTS if code not in subjects]


def treatment(invoice: Document) -> str:
    """BAR note content (BR-FR-20)."""
    return buyer_category(invoice.buyer.canonical())


def seller_address(seller: Party) -> tuple[str, str]:
    """BT-34 and its scheme."""
    if not seller.siren:
        raise ValueError("the seller has no SIREN")
    return _directory_address(seller.electronic_address, seller.siren), DIRECTORY_SCHEME


def buyer_address(buyer: Party) -> tuple[str, str] | None:
    """BT-49 and its scheme, or None for a consumer without an e-mail address."""
    if buyer.siren:  # a business buyer
        return _directory_address(buyer.electronic_address, buyer.siren), DIRECTORY_SCHEME
    return (buyer.email, EMAIL_SCHEME) if buyer.email else None


def _directory_address(known: str | None, siren: str) -> str:
    if known and known.startswith(siren) and _ADDRESS.match(known):
        return known
    return siren
