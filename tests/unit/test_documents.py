"""Typed documents (domain/documents.py) keep every issued document byte for byte.

`tests/data/invoices/documents.jsonl` was written by the issuing code *before* documents
were typed (tests/support/invoice_fixtures.py says how): nine documents of every kind,
in chain order, as the invoice store keeps them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.documents import Document
from chalicelib.domain.invoice import GENESIS_HASH, chain_hash
from tests.support.invoice_fixtures import issued_chain, load_bodies, stored_body

BODIES = load_bodies()


def canonical_text(body: dict[str, Any]) -> str:
    """The text that is hashed (domain.invoice.chain_hash), hash left out."""
    without = {k: v for k, v in body.items() if k != "hash"}
    return json.dumps(without, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_the_fixture_holds_every_kind_of_document() -> None:
    documents = [Document.of(body) for body in BODIES]
    assert [(d.is_credit_note, d.seller.vat_regime, d.payment.status) for d in documents] == [
        (False, "normal", "paid"),
        (False, "normal", "paid"),
        (False, "normal", "paid"),
        (True, "normal", "paid"),
        (True, "normal", "paid"),
        (False, "normal", "paid"),
        (False, "franchise", "paid"),
        (False, "normal", "due"),
        (True, "normal", "due"),
    ]
    assert documents[2].issued_on == "2026-03-29"  # issued at 03:30, Paris time


@pytest.mark.parametrize("body", BODIES, ids=lambda b: json.loads(b)["number"])
def test_a_document_issued_before_typing_keeps_its_canonical_json_byte_for_byte(
    body: str,
) -> None:
    stored = json.loads(body)
    typed = Document.of(body)
    assert canonical_text(typed.canonical()).encode() == canonical_text(stored).encode()
    assert typed.chained_hash(stored["previous_hash"]) == stored["hash"]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: json.loads(b)["number"])
def test_a_document_read_from_a_dict_is_the_one_read_from_its_text(body: str) -> None:
    assert Document.of(json.loads(body)) == Document.of(body)


def test_the_chains_of_documents_issued_before_typing_verify() -> None:
    heads: dict[str, str] = {}
    for body in BODIES:
        document = Document.of(body)
        previous = heads.get(document.operator_id, GENESIS_HASH)
        assert document.verifies(previous), document.number
        heads[document.operator_id] = document.hash
    assert set(heads) == {"op-gare", "op-bourg"}


def test_todays_issuing_code_issues_the_same_documents_byte_for_byte() -> None:
    assert [stored_body(d) for d in issued_chain()] == BODIES


def test_a_key_absent_from_a_stored_document_stays_absent() -> None:
    older = json.loads(BODIES[0])
    del older["currency"], older["refers_to_number"], older["refers_to_date"]
    del older["buyer"]["vat_number"]
    older["hash"] = chain_hash(older, older["previous_hash"])
    typed = Document.of(json.dumps(older))
    assert typed.canonical() == older
    assert typed.currency == "EUR"  # read with its default...
    assert typed.verifies(older["previous_hash"])  # ...but never written into the hash


def test_a_key_the_model_does_not_name_is_kept_as_issued() -> None:
    newer = json.loads(BODIES[7])
    newer["payment"]["iban"] = "FR7630006000011234567890189"
    newer["einvoice"] = {"flow": "F1", "nested": [1, "a", None]}
    newer["hash"] = chain_hash(newer, newer["previous_hash"])
    typed = Document.of(json.dumps(newer, ensure_ascii=False))
    assert typed.canonical() == newer
    assert typed.verifies(newer["previous_hash"])


def test_an_altered_document_no_longer_verifies() -> None:
    altered = json.loads(BODIES[1])
    altered["lines"][0]["amount_incl_vat"] += 1
    assert not Document.of(altered).verifies(altered["previous_hash"])


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("totals", "incl_vat"), "3500"),  # an amount as text
        (("totals", "incl_vat"), 35.0),  # an amount as a float
        (("lines", 0, "vat_rate"), 20),  # a rate as a number
        (("type",), "receipt"),
    ],
)
def test_a_value_of_another_type_is_refused_not_coerced(path: tuple[Any, ...], value: Any) -> None:
    body = json.loads(BODIES[0])
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        Document.of(json.dumps(body))


def test_a_document_is_frozen() -> None:
    document = Document.of(BODIES[0])
    with pytest.raises(ValidationError):
        document.number = "RG-2026-999999"  # type: ignore[misc]


def test_a_members_buyer_copied_from_an_invoice_keeps_its_key_order() -> None:
    stored = json.loads(BODIES[0])
    assert json.dumps(Document.of(BODIES[0]).buyer.canonical(), ensure_ascii=False) == (
        json.dumps(stored["buyer"], ensure_ascii=False)
    )


def test_the_fields_the_writers_read_are_named_and_stay_absent_when_unset() -> None:
    issued = json.loads(BODIES[7])  # a company's transfer invoice
    issued["seller"] |= {"iban": "FR7630006000011234567890189", "bic": "BNPAFRPPXXX"}
    issued["buyer"] |= {
        "public_body": True,
        "siret": "21770288400019",
        "service_code": "SERV-01",
        "engagement_number": "EJ-42",
    }
    issued["hash"] = chain_hash(issued, issued["previous_hash"])
    typed = Document.of(json.dumps(issued, ensure_ascii=False))
    assert (typed.seller.iban, typed.seller.bic) == ("FR7630006000011234567890189", "BNPAFRPPXXX")
    assert typed.buyer.public_body is True
    assert (typed.buyer.siret, typed.buyer.service_code, typed.buyer.engagement_number) == (
        "21770288400019",
        "SERV-01",
        "EJ-42",
    )
    assert typed.canonical() == issued and typed.verifies(issued["previous_hash"])
    plain = Document.of(BODIES[7])
    assert (plain.seller.iban, plain.buyer.public_body, plain.delivery_address) == (None,) * 3
    assert "iban" not in plain.canonical()["seller"]
    assert "delivery_address" not in plain.canonical()


@pytest.mark.parametrize("body", BODIES, ids=lambda b: json.loads(b)["number"])
def test_an_address_keeps_its_keys_and_their_order(body: str) -> None:
    stored, typed = json.loads(body), Document.of(body)
    for party, read in (("seller", typed.seller), ("buyer", typed.buyer)):
        address = read.canonical().get("address")
        assert json.dumps(address) == json.dumps(stored[party].get("address")), party
