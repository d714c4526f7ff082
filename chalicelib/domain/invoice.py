"""Invoices and credit notes: frozen documents, their maths, mentions and hash chain.

A document carries copies of the seller, the buyer and every line; once issued it
never changes. Its `hash` is sha256 of its canonical JSON (without `hash`) followed
by the previous document's hash, so altering any stored document breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal

from chalicelib.domain.money import format_vat_rate, price_from_incl_vat, round_half_up

DocumentType = Literal["invoice", "credit_note"]
BuyerCategory = Literal["B2B", "B2BINT", "B2C"]
GENESIS_HASH = "0" * 64
FRANCHISE_MENTION = "TVA non applicable, art. 293 B du CGI"
# CGI annexe II art. 242 nonies A, I-13°: a seller who opted to pay VAT on its debits says so.
VAT_ON_DEBITS_MENTION = "Option pour le paiement de la taxe d'après les débits"
B2B_MENTIONS = (
    "Nature de l'opération : prestations de services",
    "Escompte pour paiement anticipé : néant",
    "Pénalités de retard : trois fois le taux d'intérêt légal, exigibles de plein droit",
    "Indemnité forfaitaire pour frais de recouvrement de 40 € (art. L441-10 du Code de commerce)",
)
# The French e-invoicing rules (BR-FR-05) want the discount, late-penalty and recovery-fee
# notes on every document, so a consumer's says why each one does not apply to them.
B2C_DISCOUNT = "Escompte pour paiement anticipé : néant"
B2C_PENALTIES_PAID = "Pénalités de retard : sans objet, facture acquittée"
B2C_PENALTIES_DUE = "Pénalités de retard : intérêts au taux légal (art. 1231-6 du Code civil)"
B2C_RECOVERY_FEE = (
    "Indemnité forfaitaire pour frais de recouvrement : non applicable (client non professionnel)"
)


@dataclass(frozen=True)
class Sale:
    """One thing sold, VAT included, as the customer paid it."""

    description: str
    amount_incl_vat: int
    vat_rate: Decimal
    service_date: date
    quantity: Decimal = Decimal(1)


def document_lines(sales: Sequence[Sale], franchise: bool) -> list[dict[str, Any]]:
    """The lines of a document selling `sales`, in their order. The VAT of each rate is
    rounded once, on the rate's whole VAT-inclusive amount, and spread over its lines
    (`spread_vat`): VAT rounded per line and summed drifts from base x rate on a long
    document (EN 16931 BR-CO-17). A document of one line per rate is split as
    `document_line` splits it."""
    lines = [document_line(sale, franchise) for sale in sales]
    amounts = [int(line["amount_incl_vat"]) for line in lines]
    vats = _spread_per_rate([line["vat_rate"] for line in lines], amounts)
    return [_with_vat(line, vat) for line, vat in zip(lines, vats, strict=True)]


def spread_vat(amounts_incl_vat: Sequence[int], rate: Decimal) -> list[int]:
    """The VAT in each of `amounts_incl_vat` at `rate`. In all, the VAT of their sum:
    sum x rate / (100 + rate), rounded half up once; each amount gets its VAT rounded
    down, and the cents left go one each to the largest remainders (of equal ones, the
    first amount's first). One amount alone gets its VAT rounded half up, and negated
    amounts the negated VAT."""
    total = sum(amounts_incl_vat)
    sign = -1 if total < 0 else 1
    exact = [Decimal(sign * amount) * rate / (100 + rate) for amount in amounts_incl_vat]
    floors = [int(share.to_integral_value(rounding=ROUND_FLOOR)) for share in exact]
    missing = round_half_up(Decimal(sign * total) * rate / (100 + rate)) - sum(floors)
    by_remainder = sorted(range(len(exact)), key=lambda i: (floors[i] - exact[i], i))
    for index in by_remainder[:missing]:
        floors[index] += 1
    return [sign * vat for vat in floors]


def _spread_per_rate(rates: Sequence[str], amounts_incl_vat: Sequence[int]) -> list[int]:
    """The VAT in each amount at the rate beside it, spread over the amounts of each rate."""
    by_rate: dict[str, list[int]] = defaultdict(list)
    for index, rate in enumerate(rates):
        by_rate[rate].append(index)
    vats = [0] * len(amounts_incl_vat)
    for rate, indexes in by_rate.items():
        spread = spread_vat([amounts_incl_vat[i] for i in indexes], Decimal(rate))
        for index, vat in zip(indexes, spread, strict=True):
            vats[index] = vat
    return vats


def _with_vat(line: dict[str, Any], vat: int) -> dict[str, Any]:
    """The line with `vat` of its VAT-inclusive amount as VAT, the rest as net."""
    excl = int(line["amount_incl_vat"]) - vat
    unit = round_half_up(Decimal(excl) / Decimal(line["quantity"]))
    return {**line, "unit_price_excl_vat": unit, "amount_excl_vat": excl, "vat_amount": vat}


def document_line(sale: Sale, franchise: bool) -> dict[str, Any]:
    """The line of `sale` alone, its VAT rounded half up (documents of several lines:
    `document_lines`)."""
    rate = Decimal(0) if franchise else sale.vat_rate
    price = price_from_incl_vat(sale.amount_incl_vat, rate)
    unit = round_half_up(Decimal(price.amount_excl_vat) / sale.quantity)
    return {
        "description": sale.description,
        "quantity": format(sale.quantity.normalize(), "f"),
        "unit_price_excl_vat": unit,
        "vat_rate": format_vat_rate(rate),
        "amount_excl_vat": price.amount_excl_vat,
        "vat_amount": price.vat_amount,
        "amount_incl_vat": price.amount,
        "service_date": sale.service_date.isoformat(),
    }


def negated_line(line: dict[str, Any]) -> dict[str, Any]:
    """The credit-note mirror of an invoice line."""
    mirrored = dict(line)
    for key in ("unit_price_excl_vat", "amount_excl_vat", "vat_amount", "amount_incl_vat"):
        mirrored[key] = -int(line[key])
    return mirrored


PARTIAL_REFUND_LABEL = "Remboursement partiel — "
PARTIAL_CREDIT_LABEL = "Avoir partiel — "  # a partial credit that refunds nothing


def partial_credit_lines(
    invoice_lines: list[dict[str, Any]],
    amount: int,
    credited_before: int = 0,
    label: str = PARTIAL_REFUND_LABEL,
) -> list[dict[str, Any]]:
    """The lines of the credit note of a partial refund of `amount`, VAT included, after
    `credited_before` already credited on the same invoice (its earlier credit notes).

    Each invoice line is credited pro rata of its VAT-inclusive amount, at its own rate
    and for its own service date, as the difference of cumulative shares (share of the
    refunds so far with this one, less the share of the earlier ones): the credit notes
    that together refund the whole invoice negate each of its lines, so its VAT per rate,
    exactly, whatever the rounding of each. A refund beyond what is left to credit (more
    than the invoice in all) is credited on its own. Lines credited nothing are left out
    (but a note keeps one line)."""
    invoiced = sum(int(line["amount_incl_vat"]) for line in invoice_lines)
    before = max(credited_before, 0)
    if before + amount > invoiced:
        before = 0
    after = _line_shares(invoice_lines, before + amount)
    earlier = _line_shares(invoice_lines, before)
    credited = []
    for line, now, then in zip(invoice_lines, after, earlier, strict=True):
        incl, excl, vat = (now[k] - then[k] for k in range(3))
        credit: dict[str, Any] = {
            "description": label + str(line["description"]),
            "quantity": "1",
            "unit_price_excl_vat": -excl,
            "vat_rate": line["vat_rate"],
            "amount_excl_vat": -excl,
            "vat_amount": -vat,
            "amount_incl_vat": -incl,
            "service_date": line["service_date"],
        }
        if line.get("booking_id"):
            credit["booking_id"] = line["booking_id"]
        credited.append(credit)
    amounts = ("amount_excl_vat", "vat_amount", "amount_incl_vat")
    return [c for c in credited if any(c[k] for k in amounts)] or credited[:1]


REST_LABEL = "Solde — "  # what earlier credit notes left of a line, credited at last
_AMOUNTS = ("amount_excl_vat", "vat_amount", "amount_incl_vat")


def rest_credit_lines(
    invoice_lines: list[dict[str, Any]], credited_lines: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """The lines of the credit note of all that earlier credit notes (`credited_lines`,
    negative) left of an invoice: each invoice line less what they credited of it, at its
    own rate, so that the invoice and all its notes cancel line by line and rate by rate,
    to the cent, whether the earlier notes credited whole lines (a company's cancelled
    booking) or a share of each (a partial refund). A credited line is matched to its
    invoice line by booking, else by description (less the partial label), rate and
    service date; None when one matches no invoice line (then credit pro rata)."""
    keys = [_line_key(line) for line in invoice_lines]
    credited: dict[tuple[str, ...], list[int]] = {key: [0, 0, 0] for key in keys}
    for line in credited_lines:
        sums = credited.get(_line_key(line))
        if sums is None:
            return None
        for index, name in enumerate(_AMOUNTS):
            sums[index] += int(line[name])
    rest = []
    for line, key in zip(invoice_lines, keys, strict=True):
        left = [int(line[name]) + credited[key][i] for i, name in enumerate(_AMOUNTS)]
        credited[key] = [0, 0, 0]  # a key shared by two lines: its credits go to the first
        if not any(left):
            continue
        whole = left == [int(line[name]) for name in _AMOUNTS]
        excl, vat, incl = left
        label = "" if whole else REST_LABEL
        credit = {
            **negated_line(line),
            "description": label + str(line["description"]),
            "amount_excl_vat": -excl,
            "vat_amount": -vat,
            "amount_incl_vat": -incl,
        }
        if not whole:
            credit.update(quantity="1", unit_price_excl_vat=-excl)
        rest.append(credit)
    return rest


def _line_key(line: dict[str, Any]) -> tuple[str, ...]:
    if line.get("booking_id"):
        return ("booking", str(line["booking_id"]))
    description = str(line["description"])
    for label in (PARTIAL_REFUND_LABEL, PARTIAL_CREDIT_LABEL, REST_LABEL):
        description = description.removeprefix(label)
    return ("line", description, str(line["vat_rate"]), str(line["service_date"]))


def _line_shares(lines: list[dict[str, Any]], refunded: int) -> list[tuple[int, int, int]]:
    """(incl. VAT, excl. VAT, VAT) of each line in `refunded` of the invoice: pro rata of
    each line's amount, the last line taking what the rounding of the others left, the VAT
    of each rate rounded once and spread over its lines (`spread_vat`); all of each line
    once the whole invoice is refunded."""
    invoiced = sum(int(line["amount_incl_vat"]) for line in lines)
    if refunded >= invoiced:
        return [
            (int(line["amount_incl_vat"]), int(line["amount_excl_vat"]), int(line["vat_amount"]))
            for line in lines
        ]
    parts = []
    left = max(refunded, 0)
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        share = round_half_up(Decimal(refunded) * int(line["amount_incl_vat"]) / invoiced)
        part = left if last else min(left, max(share, 0))
        left -= part
        parts.append(part)
    vats = _spread_per_rate([line["vat_rate"] for line in lines], parts)
    return [(part, part - vat, vat) for part, vat in zip(parts, vats, strict=True)]


def vat_breakdown(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bases and VAT of the lines summed per rate (a new document's lines carry their
    rate's VAT rounded once, `document_lines`; one issued before, its lines' roundings)."""
    base: dict[str, int] = defaultdict(int)
    vat: dict[str, int] = defaultdict(int)
    for line in lines:
        base[line["vat_rate"]] += int(line["amount_excl_vat"])
        vat[line["vat_rate"]] += int(line["vat_amount"])
    rates = sorted(base, key=Decimal, reverse=True)
    return [{"rate": r, "base": base[r], "vat": vat[r]} for r in rates]


def totals(lines: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "excl_vat": sum(int(line["amount_excl_vat"]) for line in lines),
        "vat": sum(int(line["vat_amount"]) for line in lines),
        "incl_vat": sum(int(line["amount_incl_vat"]) for line in lines),
    }


def legal_mentions(
    seller: dict[str, Any],
    buyer: dict[str, Any],
    payment: dict[str, Any],
    refers: tuple[str, str] | None,
) -> list[str]:
    mentions = []
    if seller.get("vat_regime") == "franchise":
        mentions.append(FRANCHISE_MENTION)
    elif seller.get("vat_on_debits"):
        mentions.append(VAT_ON_DEBITS_MENTION)
    if refers:
        mentions.append(f"Avoir se rapportant à la facture n° {refers[0]} du {_fr(refers[1])}")
    if payment.get("status") == "paid" and payment.get("paid_at"):
        method = {
            "card": "carte bancaire",
            "sepa_debit": "prélèvement SEPA",
            "transfer": "virement",
        }.get(payment.get("method", ""), payment.get("method"))
        verb = "Remboursé" if refers else "Facture acquittée"
        mentions.append(f"{verb} le {_fr(payment['paid_at'][:10])} par {method}")
    if buyer_category(buyer) != "B2C":
        due = payment.get("due_date")
        mentions.append(
            f"Conditions de paiement : à réception, au plus tard le {_fr(due)}"
            if due
            else "Conditions de paiement : payée à la commande"
        )
        mentions.extend(B2B_MENTIONS)
    else:
        mentions.extend(consumer_mentions(paid=payment.get("status") == "paid"))
    return mentions


def buyer_country(buyer: Mapping[str, Any]) -> str:
    """The buyer's country (ISO 3166 alpha-2): its address's, else its VAT number's
    (Greece's is EL), else ""."""
    country = str((buyer.get("address") or {}).get("country") or "").upper()
    if country:
        return country
    prefix = str(buyer.get("vat_number") or "")[:2].upper()
    if not prefix.isalpha():
        return ""
    return "GR" if prefix == "EL" else prefix


def buyer_category(buyer: Mapping[str, Any]) -> BuyerCategory:
    """Who the buyer is for the reform, in BR-FR-20's words (the BAR note):

    * `B2B`: a French business, known by its SIREN: e-invoiced through the platforms;
    * `B2BINT`: a business established in another EU state (a company name and that
      state's VAT number, no SIREN, no French address): an international B2B sale, which
      the seller e-reports invoice by invoice (DSE v3.2 § 3.7.3, flux 10.1: "personne
      morale assujettie non établie en France", CGI art. 290-I);
    * `B2C`: anyone else, a consumer: e-reported in daily aggregates (flux 10.3)."""
    if buyer.get("siren"):
        return "B2B"
    vat = str(buyer.get("vat_number") or "").upper()
    address = buyer.get("address") or {}
    country = str(address.get("country") or "").upper()
    if buyer.get("company_name") and vat[:2].isalpha() and vat[:2] != "FR" and country != "FR":
        return "B2BINT"
    return "B2C"


def consumer_mentions(paid: bool) -> list[str]:
    """Discount, penalties and recovery fee as they stand for a consumer (BR-FR-05)."""
    return [B2C_DISCOUNT, B2C_PENALTIES_PAID if paid else B2C_PENALTIES_DUE, B2C_RECOVERY_FEE]


def chain_hash(document: dict[str, Any], previous_hash: str) -> str:
    """sha256 of the canonical JSON of the document (without its hash) + the previous hash."""
    body = {k: v for k, v in document.items() if k != "hash"}
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256((canonical + previous_hash).encode()).hexdigest()


def document_number(prefix: str, year: int, sequence: int) -> str:
    return f"{prefix}-{year}-{sequence:06d}"


def document_id(operator_id: str, year: int, sequence: int) -> str:
    return f"inv-{operator_id}-{year}-{sequence:06d}"


def parse_document_id(document_id_: str) -> tuple[str, int, int] | None:
    """(operator_id, year, sequence) of a document id, or None if it is not one."""
    if not document_id_.startswith("inv-"):
        return None
    try:
        operator_id, year, sequence = document_id_[4:].rsplit("-", 2)
        return operator_id, int(year), int(sequence)
    except ValueError:
        return None


def _fr(day: str | date | datetime) -> str:
    text = day.isoformat() if isinstance(day, (date, datetime)) else str(day)
    y, m, d = text[:10].split("-")
    return f"{d}/{m}/{y}"
