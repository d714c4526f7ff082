"""Every key format of the single DynamoDB table, in one place (DESIGN.md "Data").

Stores build their keys here and nowhere else; services never see a key. The formats
are stored data: changing one orphans every item already written with it, so each is
pinned by tests/unit/test_keys.py. `PK`/`SK` are the table's keys; `GSI1*`/`GSI2*` the
two indexes'. A `…_PREFIX` is what a `begins_with` query of a partition looks for.
"""

from __future__ import annotations

Key = dict[str, str]


def key(pk: str, sk: str) -> Key:
    return {"PK": pk, "SK": sk}


# -- catalogue ------------------------------------------------------------------------------
CATALOGUE_PK = "CATALOGUE"  # GSI1: every operator, relay, resource and product
OPERATOR_SK = "OPERATOR"
RELAY_SK = "RELAY"
PRODUCT_SK = "PRODUCT"
SIREN_SK = "SIREN"  # an operator's SIREN claim
CLOSURE_MARKER_SK = "CLOSURE"  # on the occupancy partition of a closed relay-day
HOURS_MARKER_SK = (
    "HOURS"  # on the occupancy partition of a day with an exception, or new weekly hours
)
OCCUPANCY_SK_PREFIX = "RES#"


def operator_pk(operator_id: str) -> str:
    return f"OPERATOR#{operator_id}"


def siren_pk(siren: str) -> str:
    """Claims a SIREN once: SK `SIREN` for an operator, `COMPANY#{operator}` for a company."""
    return f"SIREN#{siren}"


def relay_pk(relay_id: str) -> str:
    """A relay (SK `RELAY`), its resources and closures; also GSI2 of its bookings."""
    return f"RELAY#{relay_id}"


def resource_sk(resource_id: str) -> str:
    return f"RESOURCE#{resource_id}"


def product_pk(product_id: str) -> str:
    return f"PRODUCT#{product_id}"


def closure_sk(day: str) -> str:
    return f"CLOSURE#{day}"


def catalogue_sk(entity: str, entity_id: str) -> str:
    return f"{entity}#{entity_id}"


def occupancy_pk(relay_id: str, day: str) -> str:
    return f"OCC#{relay_id}#{day}"


def occupancy_sk(resource_id: str) -> str:
    return f"{OCCUPANCY_SK_PREFIX}{resource_id}"


# -- bookings -------------------------------------------------------------------------------
BOOKING_SK = "BOOKING"
HOLDS_PK = "HOLDS"  # SK `{hold end, UTC}#{booking}`: holds to release, oldest first
REFUNDS_DUE_PK = "REFUNDS_DUE"  # SK `{booking}`: refunds Stripe has not taken yet


def booking(booking_id: str) -> Key:
    return key(f"BOOKING#{booking_id}", BOOKING_SK)


def member_booking_sk(day: str, start_utc: str, booking_id: str) -> str:
    """GSI1 (under `member_pk`): a member's bookings by date and start."""
    return f"BOOKING#{day}#{start_utc}#{booking_id}"


def member_bookings_between(low_day: str, high_day: str) -> tuple[str, str]:
    """The GSI1SK range of a member's bookings from `low_day` to `high_day` included."""
    return f"BOOKING#{low_day}", f"BOOKING#{high_day}~"


def relay_booking_sk(day: str, start_utc: str, booking_id: str) -> str:
    """GSI2 (under `relay_pk`): a relay's bookings by date and start."""
    return f"{day}#{start_utc}#{booking_id}"


def hold(expires_utc: str, booking_id: str) -> Key:
    return key(HOLDS_PK, f"{expires_utc}#{booking_id}")


def refund_due(booking_id: str) -> Key:
    return key(REFUNDS_DUE_PK, booking_id)


# -- members: profile, calendar feed, packs, memberships, employer ----------------------------
MEMBER_PREFIX = "MEMBER#"
PROFILE_SK = "PROFILE"
CALENDAR_FEED_SK = "CALFEED"
PACK_SK_PREFIX = "PACK#"
MEMBERSHIP_SK_PREFIX = "MEMBERSHIP#"
MEMBERSHIP_GSI1SK = "MEMBERSHIP"
MEMBERSHIPS_DUE_PK = "MEMBERSHIPS_DUE"  # GSI2: memberships with a charge due
MEMBER_COMPANY_SK = "COMPANY"  # the company a member books for


def member_pk(member_id: str) -> str:
    return f"{MEMBER_PREFIX}{member_id}"


def profile(member_id: str) -> Key:
    return key(member_pk(member_id), PROFILE_SK)


def member_feed(member_id: str) -> Key:
    return key(member_pk(member_id), CALENDAR_FEED_SK)


def feed_token(token: str) -> Key:
    return key(f"CALFEED#{token}", CALENDAR_FEED_SK)


def pack_sk(purchased_at_iso: str, purchase_id: str) -> str:
    """A credit pack under `member_pk`; the same text as `CreditPack.sort_key`, which
    bookings record in their credit draws."""
    return f"{PACK_SK_PREFIX}{purchased_at_iso}#{purchase_id}"


def membership(member_id: str, membership_id: str) -> Key:
    return key(member_pk(member_id), membership_sk(membership_id))


def membership_sk(membership_id: str) -> str:
    """A membership under `member_pk`; also its GSI1PK, to find it by id alone."""
    return f"{MEMBERSHIP_SK_PREFIX}{membership_id}"


def membership_due_sk(due_utc: str, membership_id: str) -> str:
    """GSI2SK (under `MEMBERSHIPS_DUE_PK`): due memberships, soonest first."""
    return f"{due_utc}#{membership_id}"


# -- payments, refunds, purchases, Stripe events ------------------------------------------------
PAYMENT_SK = "PAYMENT"
REFUND_SK_PREFIX = "REFUND#"
PURCHASE_SK = "PURCHASE"
STRIPE_EVENT_SK = "EVENT"


def payment_pk(intent_id: str) -> str:
    """A payment (SK `PAYMENT`) and its refunds (SK `refund_sk`)."""
    return f"PAYMENT#{intent_id}"


def payment(intent_id: str) -> Key:
    return key(payment_pk(intent_id), PAYMENT_SK)


def refund_sk(refund_id: str) -> str:
    return f"{REFUND_SK_PREFIX}{refund_id}"


def by_time_sk(at_iso: str, entity_id: str) -> str:
    """GSI1SK of a payment or refund under its operator: by time, then id."""
    return f"{at_iso}#{entity_id}"


def operator_payments_pk(operator_id: str) -> str:
    """GSI1: an operator's payments by time."""
    return f"PAYMENTS#{operator_id}"


def operator_refunds_pk(operator_id: str) -> str:
    """GSI1: an operator's refunds by time."""
    return f"REFUNDS#{operator_id}"


def dispute(dispute_id: str) -> Key:
    return key(f"DISPUTE#{dispute_id}", "DISPUTE")


def operator_disputes_pk(operator_id: str) -> str:
    """GSI1: an operator's disputes by the time they were opened."""
    return f"DISPUTES#{operator_id}"


def operator_closed_disputes_pk(operator_id: str) -> str:
    """GSI2: an operator's closed disputes by the time they closed (`by_time_sk`)."""
    return f"DISPUTES_CLOSED#{operator_id}"


def purchase(purchase_id: str) -> Key:
    return key(f"PURCHASE#{purchase_id}", PURCHASE_SK)


MEMBER_PURCHASE_SK_PREFIX = "PURCHASE#"


def member_purchase_sk(created_at_iso: str, purchase_id: str) -> str:
    """GSI1 (under `member_pk`): a member's purchases by time."""
    return f"{MEMBER_PURCHASE_SK_PREFIX}{created_at_iso}#{purchase_id}"


def stripe_event(event_id: str) -> Key:
    return key(f"STRIPE_EVENT#{event_id}", STRIPE_EVENT_SK)


# -- invoices, credit notes, ledger -------------------------------------------------------------
DOCUMENT_SOURCE_SK = "SOURCE"
MEMBER_INVOICE_PREFIX = "INVOICE#"


def document_head(operator_id: str, year: int) -> Key:
    """Last number and hash of an operator's documents of a year: gapless numbering."""
    return key(document_heads_pk(operator_id), str(year))


def document_heads_pk(operator_id: str) -> str:
    return f"DOCHEADS#{operator_id}"


def document_source(source: str) -> Key:
    """One document per payment or refund, ever."""
    return key(f"DOCSOURCE#{source}", DOCUMENT_SOURCE_SK)


def documents_pk(operator_id: str, year: int | str) -> str:
    return f"DOC#{operator_id}#{year}"


def document_sk(sequence: int) -> str:
    return f"{sequence:06d}"


def operator_documents_pk(operator_id: str) -> str:
    """GSI2: an operator's documents, every year."""
    return f"DOCS#{operator_id}"


def member_invoice_sk(issued_on: str, number: str) -> str:
    """GSI1 (under `member_pk`): a member's documents by date."""
    return f"{MEMBER_INVOICE_PREFIX}{issued_on}#{number}"


def operator_document_sk(issued_on: str, number: str) -> str:
    """GSI2SK (under `operator_documents_pk`): by date, then number."""
    return f"{issued_on}#{number}"


def ledger_pk(operator_id: str, year: int) -> str:
    return f"LEDGER#{operator_id}#{year}"


def ledger_sk(entry_date: str, entry_id: str, index: int) -> str:
    """A ledger line: by date, then entry, then its position in the entry."""
    return f"{entry_date}#{entry_id}#{index:03d}"


def ledger_entry_claim(operator_id: str, entry_id: str) -> Key:
    """An entry without a document (fee, payout, transfer), claimed once wherever it lands."""
    return key(f"LEDGERENTRY#{operator_id}", entry_id)


# -- accounting periods ---------------------------------------------------------------------------


def periods_pk(operator_id: str) -> str:
    return f"PERIOD#{operator_id}"


def period(operator_id: str, month: str) -> Key:
    """`month` is `YYYY-MM`: the operator's periods sort in time order."""
    return key(periods_pk(operator_id), month)


def entry_numbers_pk(operator_id: str, month: str) -> str:
    """The `EcritureNum` of the entries dated in `month`, one item per entry (SK = entry
    id), written by the first FEC that holds the entry."""
    return f"FECNUM#{operator_id}#{month}"


def entry_number_counter(operator_id: str, year: int) -> Key:
    """The last `EcritureNum` handed out in the operator's fiscal year `year`."""
    return key(f"FECSEQ#{operator_id}", f"{year:04d}")


def entry_numbers_given(operator_id: str) -> Key:
    """Present once any `EcritureNum` was handed out (the fiscal year start is then fixed)."""
    return key(f"FECSEQ#{operator_id}", "numbered")


# -- companies ----------------------------------------------------------------------------------
COMPANIES_PK = "COMPANIES"  # GSI1: every company
COMPANY_SK = "COMPANY"
INVOICE_PAYMENT_STATE_SK = "STATE"


def company_pk(company_id: str) -> str:
    """A company (SK `COMPANY`) and its employees (SK `member_pk`)."""
    return f"COMPANY#{company_id}"


def company(company_id: str) -> Key:
    return key(company_pk(company_id), COMPANY_SK)


def company_siren(siren: str, operator_id: str) -> Key:
    """A company's SIREN, claimed once per operator."""
    return key(siren_pk(siren), company_pk(operator_id))


def company_bookings_pk(company_id: str, month: str) -> str:
    return f"COMPANYBOOKINGS#{company_id}#{month}"


def company_booking_sk(day: str, booking_id: str) -> str:
    return f"{day}#{booking_id}"


def invoice_payments_pk(invoice_id: str) -> str:
    """A company invoice's payment state (SK `STATE`) and payments (SK `invoice_payment_sk`)."""
    return f"INVOICEPAY#{invoice_id}"


def invoice_payment_sk(reference: str) -> str:
    return f"PAYMENT#{reference}"


def unpaid_pk(operator_id: str) -> str:
    """GSI1: an operator's unpaid company invoices."""
    return f"UNPAID#{operator_id}"


def company_payments_pk(operator_id: str) -> str:
    """GSI2: payments received on an operator's company invoices."""
    return f"COMPANYPAYMENTS#{operator_id}"


def dated_sk(day: str, entity_id: str) -> str:
    """GSI SK of unpaid invoices (`{issued on}#{number}`), payments (`{paid on}#{id}`)."""
    return f"{day}#{entity_id}"


# -- Stripe reconciliation ----------------------------------------------------------------------
STRIPE_BT_SK = "BT"
STRIPE_BT_PENDING_PK = "STRIPE_BT_PENDING"  # GSI1: balance transactions not booked yet
STRIPE_PAYOUT_OPEN_PK = "STRIPE_PAYOUT_OPEN"  # GSI1: payouts not fully reconciled
STRIPE_MATCH_PREFIX = "STRIPE_MATCH#"
STRIPE_MATCH_SK = "CHARGE"
STRIPE_PAYOUT_SK = "PAYOUT"
PAYOUT_BT_PREFIX = "BT#"
RECONCILE_PK = "RECONCILE"


def stripe_bt(txn_id: str) -> Key:
    return key(f"STRIPE_BT#{txn_id}", STRIPE_BT_SK)


def created_sk(created: int, stripe_id: str) -> str:
    """GSI1SK of pending balance transactions and open payouts: Stripe's `created`, padded."""
    return f"{created:012d}#{stripe_id}"


def stripe_match(intent_or_charge: str) -> Key:
    return key(f"{STRIPE_MATCH_PREFIX}{intent_or_charge}", STRIPE_MATCH_SK)


def stripe_payout_pk(payout_id: str) -> str:
    """A payout (SK `PAYOUT`) and its balance transactions (SK `payout_bt_sk`)."""
    return f"STRIPE_PAYOUT#{payout_id}"


def stripe_payout(payout_id: str) -> Key:
    return key(stripe_payout_pk(payout_id), STRIPE_PAYOUT_SK)


def payout_bt_sk(txn_id: str) -> str:
    return f"{PAYOUT_BT_PREFIX}{txn_id}"


def operator_payouts_pk(operator_id: str) -> str:
    return f"PAYOUTS#{operator_id}"


def operator_payout_sk(day: str, payout_id: str) -> str:
    return f"{day}#{payout_id}"


def reconcile_cursor(stream: str) -> Key:
    return key(RECONCILE_PK, f"CURSOR#{stream}")


# -- idempotency, mail outbox -------------------------------------------------------------------
OUTBOX_RETRY_PK = "OUTBOX_RETRY"  # SK `{message key}`: mails to retry
MAIL_SK = "MAIL"


def idempotency(scope: str, idempotency_key: str) -> Key:
    """A caller's key: the scope (the caller's `sub`, any text) goes with its length, so
    no other caller's (sub, key) pair can spell the same item ("m#1" + "2" vs "m" + "1#2")."""
    return key(f"IDEMPOTENCY#{len(scope)}:{scope}#{idempotency_key}", "IDEMPOTENCY")


def mail(message_key: str) -> Key:
    """The claim of one mail: sent once."""
    return key(f"MAIL#{message_key}", MAIL_SK)


def outbox_retry(message_key: str) -> Key:
    return key(OUTBOX_RETRY_PK, message_key)


def outbox_pk(day: str) -> str:
    """The journal of the mails of a day."""
    return f"OUTBOX#{day}"


def outbox_sk(at: str, message_key: str) -> str:
    return f"{at}#{message_key}"


# -- rate limits (adapters/rate_limit_store.py) ---------------------------------------------


def rate_window(scope: str, window_start: int) -> Key:
    """A caller's request counter in the fixed window starting at `window_start` (epoch s)."""
    return key(f"RATE#{scope}", f"WINDOW#{window_start}")


# -- audit trail ----------------------------------------------------------------------------
AUDIT_NETWORK = "NETWORK"  # entries that belong to no operator


def audit_pk(operator_id: str | None, month: str) -> str:
    """An operator's (or the network's) audit entries of a UTC month, SK `{time}#{id}`."""
    return f"AUDIT#{operator_id or AUDIT_NETWORK}#{month}"


def audit_month_pk(month: str) -> str:
    """GSI1: every audit entry of a UTC month, whatever the operator."""
    return f"AUDIT#{month}"


def audit_sk(at_utc: str, entry_id: str) -> str:
    """SK (and GSI1SK) of an audit entry: `{time UTC, microseconds}#{id}`, newest last."""
    return f"{at_utc}#{entry_id}"


# -- e-reporting (adapters/ereport_store.py) ------------------------------------------------


def ereports_pk(operator_id: str) -> str:
    """An operator's e-reporting files: one Query lists them all."""
    return f"EREPORT#{operator_id}"


def ereport_sk(kind: str, period_start: str, sequence: int) -> str:
    """`{kind}#{period start}#{nn}`: the n-th file (IN, then REs) of a kind and period."""
    return f"{ereport_prefix(kind, period_start)}{sequence:02d}"


def ereport_prefix(kind: str, period_start: str) -> str:
    """What every file of a kind and period begins with (a `begins_with` query)."""
    return f"{kind}#{period_start}#"


# -- e-invoice lifecycle (adapters/einvoice_store.py) ------------------------------------------


def einvoices_pk(operator_id: str) -> str:
    """An operator's invoices routed through its platform, with their lifecycle."""
    return f"EINVOICE#{operator_id}"


def einvoice_sk(document_id: str) -> str:
    return document_id


# -- directory addresses of buyers (adapters/directory_store.py) -----------------------------


def directory_address(siren: str) -> dict[str, str]:
    """A business's electronic address as the platform's directory gave it, with a date."""
    return {"PK": f"DIRECTORY#{siren}", "SK": "ADDRESS"}


# -- accredited platform settings (adapters/platform_settings_store.py) -----------------------


def platform_settings(operator_id: str, kind: str = "pa") -> dict[str, str]:
    """An operator's own accredited platform (`pa`) or Chorus Pro API account (`chorus`):
    URLs, client id; the secret is in SSM."""
    return {"PK": f"PLATFORM#{operator_id}", "SK": "SETTINGS" if kind == "pa" else "CHORUS"}


# -- accounting settings (adapters/accounting_settings_store.py) ------------------------------


def accounting_settings(operator_id: str) -> dict[str, str]:
    """An operator's chart of accounts, journal codes and fiscal year (absent: defaults)."""
    return {"PK": f"ACCOUNTING#{operator_id}", "SK": "SETTINGS"}


# -- asynchronous exports (adapters/export_store.py) -------------------------------------------

EXPORT_SK = "EXPORT"
EXPORTS_OPEN_PK = "EXPORTS_OPEN"  # SK `{created_at}#{export}`: exports not yet done or failed


def export(export_id: str) -> Key:
    return key(f"EXPORT#{export_id}", EXPORT_SK)


def open_export(created_at: str, export_id: str) -> Key:
    return key(EXPORTS_OPEN_PK, f"{created_at}#{export_id}")
