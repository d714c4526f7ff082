"""B2B invoices through the operator's accredited platform, and their lifecycle statuses.

`route_einvoices` takes each recent invoice or credit note whose buyer has a SIREN and:

1. validates its CII (Factur-X EN 16931 XSD, EN 16931 and BR-FR schematrons). An invalid
   document is never sent: it is recorded with the failed rules (`error.code`
   `validation_failed`, shown by `GET /v1/invoices/{id}/lifecycle`), logged and counted
   (metric `EInvoiceInvalid`), and validated again only once the code changed (another
   `RELAIS_VERSION`), so an invalid document costs one validation per deployment;
2. deposits a valid one as a CII flow (`processingRule` B2B; `trackingId` = the document
   id, so a flow sent again after a lost answer is the same flow) and records 200 Déposée
   with the flow id; a flow the platform refuses is recorded 213 Rejetée with its answer.

Each flow sent (a deposit, a 212) is first claimed on the document's state, so that two
runs that overlap never both send it (`domain/lifecycle.claim`).

It then asks the platform for each routed document not in a final state and adds the
statuses it reports (201 Émise, 202 Reçue, 205 Approuvée, 210 Refusée, 212 Encaissée...),
once each. An outage leaves everything for the next run, and one document's trouble
(a validator crash, a refusal) never stops the others.

Deployed, only the route_einvoices function can validate (Saxon is in its layer,
infra/layers.py): run from the API (`POST /v1/admin/jobs/route_einvoices`), everything
but the deposits is done, and these wait for the scheduled run (`deferred`); a resend
asked over the API starts that function at once (asynchronously).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters import cii_validation
from chalicelib.adapters.cdar_status import status_message
from chalicelib.adapters.cii_validation import CiiValidator
from chalicelib.adapters.function_trigger import function_trigger
from chalicelib.adapters.invoice_cii import cii_xml
from chalicelib.adapters.pa_client import (
    PlatformAuthFailed,
    PlatformRejected,
    PlatformUnavailable,
)
from chalicelib.domain.documents import Document, VatLine
from chalicelib.domain.lifecycle import (
    claim,
    claimed_elsewhere,
    current_attempt,
    current_status,
    is_routed,
    refusal_credit_source,
    settled,
    with_reported,
    with_status,
    without_claim,
)
from chalicelib.domain.timezones import PARIS
from chalicelib.errors import InvalidState
from chalicelib.observability import count, logger
from chalicelib.services import audit, directory
from chalicelib.services.catalogue import list_operators
from chalicelib.services.context import Context
from chalicelib.services.invoicing import EarlierCredits, credit_note, get_document
from chalicelib.services.platform import (
    FlowPlatform,
    InvoiceValidator,
    chorus_for,
    has_chorus,
    has_platform,
    platform_for,
)
from chalicelib.services.settlement import book_purchase

if TYPE_CHECKING:
    from chalicelib.auth import Principal

LOOKBACK = timedelta(days=31)
# Validation costs ~35 ms an invoice (x86; a few times more on a 512 MB arm64 Lambda) after
# ~1 s of compiling: past this many deposits in one run, the rest wait for the next run,
# so a backlog (the 1st of the month) never runs the job into its 30 s timeout.
MAX_DEPOSITS_PER_RUN = 100
RECORD_ATTEMPTS = 3  # a claimed flow's outcome, stored again on a state that moved meanwhile
MAX_RULES_KEPT = 50  # failed rules stored with an invalid document (a broken one fails many)
VALIDATION_FAILED = "validation_failed"
NOT_CONFIGURED = "platform_not_configured"


def route_einvoices(
    ctx: Context,
    as_of: datetime | None = None,
    platform: FlowPlatform | None = None,
    validator: InvoiceValidator | None = None,
    chorus: FlowPlatform | None = None,
) -> dict[str, Any]:
    """One run: `{"job", "processed" (documents acted on), and a count per outcome}`.
    Invoices to public bodies go to Chorus Pro (`chorus`, else the configured one), the
    others to the operator's platform (`platform`, else the one it chose)."""
    validator = _validator_here(validator)
    counts = {
        "deposited": 0,
        "rejected": 0,
        "invalid": 0,
        "updated": 0,
        "waiting": 0,
        "not_configured": 0,
        "paid_sent": 0,
        "credited": 0,
        "deferred": 0,
    }
    today = (as_of or ctx.clock.now()).astimezone(PARIS).date()
    for operator in list_operators(ctx):
        routed = {state["document_id"]: state for state in ctx.einvoices.all(operator.id)}
        recent = _recent(ctx, operator.id, (today - LOOKBACK).isoformat(), today.isoformat())
        to_send = [
            (document, routed.get(document.id))
            for document in recent
            if is_routed(document)
            and (document.id not in routed or _to_deposit_again(ctx, routed[document.id]))
        ]
        recent_ids = {document.id for document in recent}
        to_send += [  # older documents still to send: a resend not made yet, a deposit
            # given up (platform down) or waiting for a platform to be chosen
            (_document(ctx, state["document_id"]), state)
            for state in routed.values()
            if state["document_id"] not in recent_ids and _to_deposit_again(ctx, state)
        ]
        to_refresh = [
            state for state in routed.values() if state.get("flow_id") and not _settled(state)
        ]
        to_mark_paid = [state for state in routed.values() if _may_become_paid(state)]
        for state in routed.values():  # a refused invoice is cancelled by a credit note
            if _refused_without_credit_note(state):
                counts[_credit_refused(ctx, operator.id, state)] += 1
        if not (to_send or to_refresh or to_mark_paid):
            continue
        channels = _Channels(ctx, operator.id, platform, chorus)
        for document, read in to_send:
            spent = counts["deposited"] + counts["invalid"] + counts["rejected"]
            if spent >= MAX_DEPOSITS_PER_RUN:
                counts["deferred"] += 1  # sent by the next run
                continue
            chosen = channels.get(channel_of(document))
            if chosen is None:  # no platform chosen yet (or no Chorus Pro): it waits
                counts["not_configured"] += 1
                if read is None:  # remembered, so it is sent once older than the look-back
                    ctx.einvoices.create(operator.id, _waiting(document))
                continue
            if validator is None:  # run in the API (no Saxon): the scheduled run sends it
                counts["deferred"] += 1
                continue
            counts[_deposit(ctx, chosen, validator, document, read)] += 1
        for state in to_refresh:
            chosen = channels.get(state.get("channel") or PA)
            if chosen is not None:
                counts[_refresh(ctx, chosen, operator.id, state)] += 1
        for state in to_mark_paid:
            chosen = channels.get(state.get("channel") or PA)
            if chosen is not None:
                counts["paid_sent"] += _send_paid(ctx, chosen, operator.id, state)
    acted = ("deposited", "rejected", "invalid", "updated", "paid_sent", "credited")
    return {"job": "route_einvoices", "processed": sum(counts[k] for k in acted), **counts}


PA, CHORUS = "pa", "chorus"


def channel_of(document: Document) -> str:
    """Public bodies (communes...) receive through Chorus Pro, businesses through a PA."""
    return CHORUS if document.buyer.public_body else PA


def _document(ctx: Context, document_id: str) -> Document:
    """The issued document (404 for an unknown one), typed."""
    return Document.of(get_document(ctx, document_id))


class _Channels:
    """The operator's platform and Chorus Pro, each built once per run when first needed."""

    def __init__(
        self,
        ctx: Context,
        operator_id: str,
        platform: FlowPlatform | None,
        chorus: FlowPlatform | None,
    ) -> None:
        self._ctx, self._operator_id = ctx, operator_id
        self._built: dict[str, FlowPlatform | None] = {}
        if platform is not None:
            self._built[PA] = platform
        if chorus is not None:
            self._built[CHORUS] = chorus

    def get(self, channel: str) -> FlowPlatform | None:
        if channel not in self._built:
            self._built[channel] = (
                chorus_for(self._ctx, self._operator_id)
                if channel == CHORUS
                else platform_for(self._ctx, self._operator_id)
            )
        return self._built[channel]


def lifecycle(ctx: Context, document_id: str) -> dict[str, Any]:
    document = _document(ctx, document_id)  # 404 for an unknown document
    state = ctx.einvoices.get(document.operator_id, document_id) or {}
    error = state.get("error")
    if not state.get("flow_id") and not error and is_routed(document):  # not sent yet
        if channel_of(document) == CHORUS and not has_chorus(ctx, document.operator_id):
            error = {"code": "chorus_not_configured"}
        elif channel_of(document) == PA and not has_platform(ctx, document.operator_id):
            error = {"code": NOT_CONFIGURED}
    return {
        "document_id": document_id,
        "routed": is_routed(document),
        "flow_id": state.get("flow_id"),
        "status": state.get("status"),
        "history": state.get("history") or [],
        "error": error,
        "attempt": int(state.get("attempt") or 1) if state else None,
        "resend_pending": bool(state.get("resend_attempt")),
        "credit_note_id": state.get("credit_note_id"),
    }


def request_resend(
    ctx: Context,
    principal: Principal,
    document_id: str,
    validator: InvoiceValidator | None = None,
) -> dict[str, Any]:
    """Deposit again, as a new flow of the same document (same number: a rejected invoice
    is deemed not issued), one the platform rejected (213) — once the cause is fixed
    (our rendering, or the operator's platform settings). The CII is made afresh from the
    frozen document and validated again; the history keeps the rejection and follows
    with the new attempt's statuses. 409 unless the document stands rejected. Deposited
    at once where this function can validate (the job's, `make run`); the deployed API
    cannot (Saxon is in the job's layer only): it starts the job's function instead."""
    document = _document(ctx, document_id)
    operator_id = document.operator_id
    state = ctx.einvoices.get(operator_id, document_id)
    if state is None or (state.get("status") != "213" and not state.get("resend_attempt")):
        raise InvalidState("Only a document the platform rejected (213) can be deposited again.")
    if not state.get("resend_attempt"):
        wanted = current_attempt(state.get("history") or []) + 1
        if ctx.einvoices.replace(operator_id, state, {**state, "resend_attempt": wanted}):
            audit.record(
                ctx,
                principal,
                "resend",
                "einvoice",
                document_id,
                operator_id=operator_id,
                changes={"attempt": [wanted - 1, wanted]},
            )
    validator = _validator_here(validator)
    if validator is None:  # the deployed API: the job's function deposits it
        _start_the_job(ctx, document_id)
        return lifecycle(ctx, document_id)
    read = ctx.einvoices.get(operator_id, document_id)
    chosen = _Channels(ctx, operator_id, None, None).get(channel_of(document))
    if read is not None and chosen is not None and read.get("resend_attempt"):
        _deposit(ctx, chosen, validator, document, read)
    return lifecycle(ctx, document_id)


def _start_the_job(ctx: Context, document_id: str) -> None:
    """Ask the route_einvoices function, which can validate, to run now (asynchronously:
    the answer says `resend_pending` until it has). If it cannot be asked, its next
    hourly run deposits the resend all the same."""
    name = ctx.settings.einvoice_router_function
    if not name:
        return
    try:
        trigger = function_trigger(name, ctx.settings.aws_region)
        trigger.start(f"resend-{document_id}", ctx.clock.now(), {"resend": document_id})
    except Exception:  # throttled, no permission: the schedule still runs it
        logger().warning(
            "einvoice_router_not_started", extra={"document_id": document_id}, exc_info=True
        )
        count("EInvoiceRouterNotStarted")


def _validator_here(given: InvoiceValidator | None) -> InvoiceValidator | None:
    """`given`, else the official validator where this function has Saxon (deployed: only
    the route_einvoices function, through its layer), else None: no document is deposited
    unvalidated, it waits for the scheduled run."""
    if given is not None:
        return given
    return CiiValidator() if cii_validation.available() else None


def _to_deposit_again(ctx: Context, state: dict[str, Any]) -> bool:
    """A resend asked for (after a 213), an invalid document once the code that makes
    it changed (invalid again in the same release: it waits for the next one), or a
    deposit a run claimed and never recorded (it stopped in between) — unless a run is
    sending it now."""
    if claimed_elsewhere(state, ctx.clock.now()):
        return False
    error = state.get("error") or {}
    invalid_here = (
        error.get("code") == VALIDATION_FAILED and state.get("checked_with") == ctx.settings.version
    )
    if state.get("resend_attempt"):
        return not invalid_here
    if state.get("flow_id"):
        return False
    if not error:  # claimed, never recorded
        return not state.get("history")
    return error.get("code") == VALIDATION_FAILED and not invalid_here


def _deposit(
    ctx: Context,
    platform: FlowPlatform,
    validator: InvoiceValidator,
    document: Document,
    read: dict[str, Any] | None,
) -> str:
    now = ctx.clock.now().isoformat(timespec="seconds")
    if channel_of(document) == PA and document.buyer.siren:  # BT-49 from the directory
        address = directory.buyer_address(ctx, platform, document.buyer.siren)
        document = directory.with_directory_address(document, address)
    content = cii_xml(document)
    try:
        failed = validator.failures(content)
    except Exception:  # the validator itself broke: try again next run, go on with others
        logger().exception("einvoice_validator_error", extra={"document_id": document.id})
        count("EInvoiceValidatorErrors")
        return "waiting"
    if failed:
        _invalid(ctx, document, failed, now, read)
        return "invalid"
    attempt = int((read or {}).get("resend_attempt") or 1)
    tracking_id = document.id if attempt == 1 else f"{document.id}.{attempt}"
    new_state = {
        "document_id": document.id,
        "number": document.number,
        "channel": channel_of(document),
        "history": [],
        "attempt": 1,
    }
    claimed = _claim(ctx, document.operator_id, read, new_state, tracking_id)
    if claimed is None:  # another run is sending it
        return "waiting"
    try:
        answer = platform.submit_flow(
            tracking_id=tracking_id,
            name=f"{document.number}.xml",
            syntax="CII",
            processing_rule="B2G" if channel_of(document) == CHORUS else "B2B",
            content=content,
        )
    except PlatformAuthFailed:
        logger().error("einvoice_platform_auth_failed", extra={"operator_id": document.operator_id})
        count("EInvoicePlatformAuthFailures")
        _release(ctx, document.operator_id, claimed)
        return "waiting"
    except PlatformUnavailable:
        _release(ctx, document.operator_id, claimed)
        return "waiting"
    except PlatformRejected as exc:
        detail = {"status": exc.status, "detail": exc.detail}
        error = {"code": "platform_rejected", "at": now, "detail": detail}
        rejected = _answered(document, attempt, None, ("213", now, detail), error)
        _record(ctx, document.operator_id, claimed, rejected)
        return "rejected"
    deposited = _answered(document, attempt, answer.get("flowId"), ("200", now, None), None)
    _record(ctx, document.operator_id, claimed, deposited)
    return "deposited"


def _answered(
    document: Document,
    attempt: int,
    flow_id: str | None,
    status: tuple[str, str, Any],
    error: dict[str, Any] | None,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What a deposit the platform answered (`status`: 200 Déposée with its flow, or 213
    Rejetée, `(code, at, detail)`) makes of the state it is recorded on."""
    code, at, detail = status

    def outcome(state: dict[str, Any]) -> dict[str, Any]:
        history = list(state.get("history") or [])
        history = with_status(history, code, at, detail, attempt) or history
        return _state(
            document, state, flow_id=flow_id, history=history, error=error, attempt=attempt
        )

    return outcome


def _invalid(
    ctx: Context,
    document: Document,
    failed: list[str],
    now: str,
    read: dict[str, Any] | None,
) -> None:
    logger().error(
        "einvoice_invalid",
        extra={
            "document_id": document.id,
            "number": document.number,
            "operator_id": document.operator_id,
            "failed_rules": failed[:MAX_RULES_KEPT],
        },
    )
    count("EInvoiceInvalid")
    error = {
        "code": VALIDATION_FAILED,
        "at": now,
        "failed_rules": failed[:MAX_RULES_KEPT],
        "failed_count": len(failed),
    }
    kept = list((read or {}).get("history") or []) if (read or {}).get("resend_attempt") else []
    _save(ctx, document, read, history=kept, error=error, checked=ctx.settings.version)


def _save(
    ctx: Context,
    document: Document,
    read: dict[str, Any] | None,
    *,
    history: list[dict[str, Any]],
    error: dict[str, Any],
    checked: str,
) -> None:
    """Record a document found invalid; a resend stays pending, waiting for its turn."""
    state = _state(
        document, read or {}, flow_id=None, history=history, error=error, checked=checked
    )
    ctx.einvoices.save(document.operator_id, read, state)


def _waiting(document: Document) -> dict[str, Any]:
    """The state of a document no platform could take yet: never sent (no flow, no error,
    no history), so every run sends it once a platform is chosen, whatever its age."""
    return {
        "document_id": document.id,
        "number": document.number,
        "flow_id": None,
        "status": None,
        "history": [],
        "error": None,
        "channel": channel_of(document),
    }


def _state(
    document: Document,
    read: dict[str, Any],
    *,
    flow_id: str | None,
    history: list[dict[str, Any]],
    error: dict[str, Any] | None = None,
    checked: str | None = None,
    attempt: int | None = None,
) -> dict[str, Any]:
    """The document's state after an attempt (`attempt`: the deposit made; None: found
    invalid, not sent), built afresh from `read`: no claim is carried over."""
    pending = read.get("resend_attempt") if attempt is None else None
    return {
        "document_id": document.id,
        "number": document.number,
        "flow_id": flow_id if attempt is not None or not pending else read.get("flow_id"),
        "status": history[-1]["code"] if history else None,
        "history": history,
        "error": error,
        "checked_with": checked,
        "attempt": attempt or read.get("attempt") or 1,
        "resend_attempt": pending,
        "credit_note_id": read.get("credit_note_id"),
        "channel": channel_of(document),
    }


def _claim(
    ctx: Context,
    operator_id: str,
    read: dict[str, Any] | None,
    new: dict[str, Any],
    flow: str,
) -> dict[str, Any] | None:
    """Claim sending `flow` on the document's state (`read`, or `new` if it has none
    yet) before the platform is called: the state as stored, or None if another run
    holds a claim or wrote since `read`."""
    now = ctx.clock.now()
    if read is not None and claimed_elsewhere(read, now):
        return None
    base = without_claim(read) if read is not None else new
    return ctx.einvoices.save(operator_id, read, {**base, "in_flight": claim(flow, now)})


def _release(ctx: Context, operator_id: str, claimed: dict[str, Any]) -> None:
    """Give a claim up (nothing was sent): the next run sends the flow."""
    ctx.einvoices.replace(operator_id, claimed, without_claim(claimed))


def _record(
    ctx: Context,
    operator_id: str,
    claimed: dict[str, Any],
    outcome: Callable[[dict[str, Any]], dict[str, Any]],
) -> bool:
    """Store what the claimed flow gave (`outcome` of the state, without the claim). If
    the state moved meanwhile (a status pushed or polled), on the fresh state, while the
    claim is still this run's; False once another run took it over (it had expired)."""
    base = claimed
    for _ in range(RECORD_ATTEMPTS):
        if ctx.einvoices.replace(operator_id, base, without_claim(outcome(base))):
            return True
        fresh = ctx.einvoices.get(operator_id, claimed["document_id"])
        if fresh is None or fresh.get("in_flight") != claimed["in_flight"]:
            return False
        base = fresh
    return False


def _refresh(ctx: Context, platform: FlowPlatform, operator_id: str, state: dict[str, Any]) -> str:
    try:
        flow = platform.get_flow(str(state["flow_id"]))
    except (PlatformUnavailable, PlatformRejected):
        return "waiting"
    attempt = int(state.get("attempt") or 1)
    reported = [
        (str(entry.get("code")), str(entry.get("at")))
        for entry in flow.get("lifecycle") or []
        if isinstance(entry, dict)
    ]
    # The same rule as the platform's webhook (services/einvoice_webhooks.py).
    history = with_reported(list(state.get("history") or []), reported, attempt)
    if history is None:
        return "waiting"
    return "updated" if ctx.einvoices.update(operator_id, state, history) else "waiting"


def _settled(state: dict[str, Any]) -> bool:
    return settled(list(state.get("history") or []), int(state.get("attempt") or 1))


def _may_become_paid(state: dict[str, Any]) -> bool:
    """Deposited, and not refused, rejected nor paid in full (212 final) yet."""
    return bool(state.get("flow_id")) and not _settled(state)


def _codes(state: dict[str, Any]) -> set[str]:
    """The statuses of the current deposit attempt."""
    attempt = int(state.get("attempt") or 1)
    return {
        entry["code"]
        for entry in state.get("history") or []
        if int(entry.get("attempt") or 1) == attempt
    }


def _refused_without_credit_note(state: dict[str, Any]) -> bool:
    return (
        "210" in _codes(state)
        and not state.get("credit_note_id")
        and not state.get("credited_before")
    )


def _credit_refused(ctx: Context, operator_id: str, state: dict[str, Any]) -> str:
    """The buyer refused the invoice (210): it stays issued (an issued invoice never
    changes) and is cancelled by a credit note for what its earlier credit notes (a
    refund) left of it, issued once (its source is derived from the invoice) and routed
    like any B2B document; nothing when they credited it all (noted `credited_before`).
    A company invoice's amount due drops by it, so it leaves the unpaid list."""
    stored = get_document(ctx, state["document_id"])
    document = Document.of(stored)
    if document.is_credit_note:
        return "waiting"
    now = ctx.clock.now().astimezone(PARIS)
    left = document.totals.incl_vat - EarlierCredits(ctx, document).read(now.year)
    if left <= 0:
        read = ctx.einvoices.get(operator_id, document.id) or state
        done = ctx.einvoices.replace(operator_id, read, {**read, "credited_before": True})
        return "updated" if done else "waiting"
    method = document.payment.method or "transfer"
    note = Document.of(
        credit_note(  # each line less what the earlier notes credited of it
            ctx,
            stored,  # its buyer is copied as issued, key order too
            source=refusal_credit_source(document.id),
            amount=None,
            payment={"status": "due", "method": method, "due_date": now.date().isoformat()},
        )
    )
    # A company invoice then asks for nothing more: it leaves the unpaid list (and the
    # reconciliation's unpaid invoices); once per credit note, so a rerun is harmless.
    ctx.companies.apply_credit_note(document.id, note.id, -note.totals.incl_vat)
    if note.buyer_operator_id:  # a settlement invoice: the seller's purchase mirrored
        book_purchase(ctx, note.canonical(), note.buyer_operator_id)
    logger().info(
        "einvoice_refused_credited",
        extra={"document_id": document.id, "credit_note_id": note.id},
    )
    read = ctx.einvoices.get(operator_id, document.id) or state
    done = ctx.einvoices.replace(operator_id, read, {**read, "credit_note_id": note.id})
    return "credited" if done else "waiting"


Payment = tuple[str | None, tuple[VatLine, ...], bool]  # (payment id, amounts, partial)


def _payments(ctx: Context, document: Document) -> list[Payment]:
    """Each payment received on an invoice: `(payment id, amounts per VAT rate, partial)`.
    A card or membership invoice is paid in full at issue (one payment, no id); a
    company invoice by the transfers recorded, each with its share of each rate;
    `partial` while they do not cover what it asks for."""
    if document.is_credit_note:
        return []
    if document.payment.status == "paid":
        return [(None, document.vat_breakdown, False)]
    state = ctx.companies.payment_state(document.id)
    if state is None:
        return []
    due, received = int(state["amount_due"]), 0
    payments: list[Payment] = []
    for payment in ctx.companies.payments_of(document.id):
        received += int(payment["amount"])
        amounts = tuple(
            VatLine(rate=str(s["rate"]), base=int(s["base"]), vat=int(s["vat"]))
            for s in payment.get("vat") or []
        )
        payments.append((str(payment["id"]), amounts, received < due))
    return payments


def _send_paid(
    ctx: Context, platform: FlowPlatform, operator_id: str, state: dict[str, Any]
) -> int:
    """212 Encaissée for each payment received and not reported yet (VAT on receipts:
    what was received per rate), in order; the last one (paid in full) is final. The
    status flow's trackingId is `{document id}-212` for an invoice paid at issue, else
    `{document id}-212-{payment id}`: a message sent again after a lost answer is the
    same flow. Answers how many were sent."""
    document = _document(ctx, state["document_id"])
    sent = 0
    for payment_id, amounts, partial in _payments(ctx, document):
        state = ctx.einvoices.get(operator_id, state["document_id"]) or state  # fresh
        if not _may_become_paid(state):
            break
        now = ctx.clock.now().isoformat(timespec="seconds")
        detail: dict[str, Any] = {
            "amounts": [row.canonical() for row in amounts],
            "sent_by": "issuer",
        }
        if payment_id is not None:
            detail["payment"] = payment_id
        if partial:
            detail["partial"] = True
        attempt = int(state.get("attempt") or 1)
        if with_status(list(state.get("history") or []), "212", now, detail, attempt) is None:
            continue  # this payment was reported already
        suffix = "-212" if payment_id is None else f"-212-{payment_id}"
        claimed = _claim(ctx, operator_id, state, state, f"{document.id}{suffix}")
        if claimed is None:
            break  # another run is sending a status of it: it carries on
        try:
            platform.submit_flow(
                tracking_id=f"{document.id}{suffix}",
                name=f"{document.number}{suffix}.xml",
                syntax="CDAR",
                processing_rule="B2B",
                content=status_message(document, "212", now, amounts, f"{document.id}{suffix}"),
            )
        except (PlatformUnavailable, PlatformRejected) as exc:
            logger().warning(
                "einvoice_status_not_sent",
                extra={"document_id": document.id, "code": "212", "reason": str(exc)},
            )
            _release(ctx, operator_id, claimed)
            break
        if not _record(
            ctx, operator_id, claimed, functools.partial(_with_paid, at=now, detail=detail)
        ):
            break  # another run took it over: the next run carries on
        sent += 1
    return sent


def _with_paid(state: dict[str, Any], at: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The state with this 212 recorded (as it is if it was already)."""
    attempt = int(state.get("attempt") or 1)
    history = with_status(list(state.get("history") or []), "212", at, detail, attempt)
    if history is None:
        return state
    return {**state, "history": history, "status": current_status(history, attempt)}


def _recent(ctx: Context, operator_id: str, since: str, until: str) -> list[Document]:
    documents: list[Document] = []
    cursor: str | None = None
    while True:
        page, cursor = ctx.invoices.page(
            member_id=None,
            operator_id=operator_id,
            span=(since, until),
            doc_type=None,
            limit=500,
            cursor=cursor,
        )
        documents.extend(map(Document.of, page))
        if not cursor:
            return documents
