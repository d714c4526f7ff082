"""Producing the e-reporting files of each operator (flux 10.1 with 10.3, 10.2 with 10.4).

`produce_report` builds one kind of report for one period from the issued documents and
stores it once: `IN` the first time, a corrective `RE` (the complete figures of the
period) when they have changed since, nothing when they have not. Safe to run again.
The files are stored with status `produced`; `ereport_transmission` sends them to the
accredited platform (when one is configured); `ereport_job` runs both.

A file the flux 10 schematron would refuse (`flux10_xml.refusals`) is never stored: the
job logs `ereport_invalid` and counts `EReportInvalid`, and tries again on its next run.
A file refused (by the platform, 301 Rejetée, or by that check before sending) was not
integrated (DSE v3.2 § 3.7.9): it is no longer counted as reported, and the next run
makes the period's file again under a new id (G8.05) — `IN` if nothing of the period
was taken, else `RE` — unless it would say the same as the refused one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.adapters.ereport_store import ReportTaken
from chalicelib.adapters.flux10_xml import (
    Header,
    payments_xml,
    refusals,
    same_content,
    transactions_xml,
)
from chalicelib.domain.catalogue import Operator
from chalicelib.domain.documents import Document
from chalicelib.domain.ereporting import (
    InternationalPayment,
    InternationalSale,
    Period,
    Regime,
    ReportKind,
    closed_periods,
    due_by,
    figures_digest,
    international_payments,
    international_refunds_left_out,
    international_sales,
    next_type_code,
    payment_days,
    periods_to_report,
    refunds_beyond_receipts,
    regime_of,
    timestamp,
    transaction_days,
    transmission_id,
)
from chalicelib.domain.timezones import PARIS
from chalicelib.observability import count, logger
from chalicelib.services.catalogue import get_operator, list_operators
from chalicelib.services.context import Context
from chalicelib.services.paging import Sorted
from chalicelib.services.platform import ereport_sender

KINDS: tuple[ReportKind, ...] = ("transactions", "payments")
# A payment reported in a period may settle a document issued earlier (a company
# invoice due in 30 days): look that far back for them.
PAYMENT_LOOKBACK = timedelta(days=92)
ATTEMPTS = 5
# How far back the job looks again for periods to report or correct.
RECHECK = timedelta(days=62)


def produce_report(
    ctx: Context, operator_id: str, kind: ReportKind, period: Period, today: date | None = None
) -> dict[str, Any] | None:
    """The report stored for this run (on `today`), or None when there is nothing new to
    report."""
    operator = get_operator(ctx, operator_id)
    sender = ereport_sender(ctx, operator_id)
    if sender is None or (kind == "payments" and operator.vat_on_debits):
        return None
    if kind == "payments":
        # Money received in the period settles documents issued before it (a company
        # invoice due in 30 days) and after it: a payment of the last minutes whose
        # invoice was issued once its webhook came again, after midnight.
        since, until = period.start - PAYMENT_LOOKBACK, max(period.end, today or period.end)
    else:
        since, until = period.start, period.end
    documents = _documents(ctx, operator_id, since, until)
    days = (transaction_days if kind == "transactions" else payment_days)(documents, period)
    sales = international_sales(documents, period) if kind == "transactions" else []
    paid = international_payments(documents, period) if kind == "payments" else []
    digest = figures_digest(days, sales, paid)
    for _ in range(ATTEMPTS):
        previous = ctx.ereports.of_period(operator_id, kind, period.start.isoformat())
        taken = [p for p in previous if not is_refused(p)]
        type_code = next_type_code([p["digest"] for p in taken], digest)
        if type_code is None or (type_code == "IN" and not (days or sales or paid)):
            return None
        version = (len(previous) + 1, type_code, digest)
        report = _report(ctx, operator, kind, period, version, days, (sales, paid), sender)
        if _refused_again(report, previous) or not _valid(report):
            return None
        try:
            ctx.ereports.add(operator_id, report)
        except ReportTaken:
            continue  # another run stored this sequence: compare with it
        if kind == "payments":
            _note_refunds_left_out(operator_id, documents, period)
        return report
    return None


def is_refused(report: dict[str, Any]) -> bool:
    """Refused by the platform, or a file it would refuse (stored before that check)."""
    return report["status"] == "rejected" or bool(refusals(report["xml"].encode()))


def _refused_again(report: dict[str, Any], previous: list[dict[str, Any]]) -> bool:
    """Whether the last file of the period was refused and this one says the same."""
    last = previous[-1] if previous else None
    return (
        last is not None
        and is_refused(last)
        and same_content(report["xml"].encode(), last["xml"].encode())
    )


def _valid(report: dict[str, Any]) -> bool:
    problems = refusals(report["xml"].encode())
    if problems:
        count("EReportInvalid")
        logger().error(
            "ereport_invalid",
            extra={"operator_id": report["operator_id"], "report": report["id"], "rules": problems},
        )
    return not problems


def _note_refunds_left_out(operator_id: str, documents: list[Document], period: Period) -> None:
    """Refunds beyond a day's receipts at a rate, which flux 10.4 cannot carry (see
    `payment_days`), and those of international sales flux 10.2 cannot (see
    `international_payments`): logged for the accountant (the VAT return deducts them)."""
    for day in refunds_beyond_receipts(documents, period):
        logger().warning(
            "ereport_refunds_beyond_receipts",
            extra={
                "operator_id": operator_id,
                "day": day.day.isoformat(),
                "refunded": {rate.rate: rate.base for rate in day.rates},
            },
        )
    for refund in international_refunds_left_out(documents, period):  # flux 10.2's
        logger().warning(
            "ereport_refunds_beyond_receipts",
            extra={
                "operator_id": operator_id,
                "invoice": refund.number,
                "period": [period.start.isoformat(), period.end.isoformat()],
                "refunded": {rate.rate: rate.base for rate in refund.rates},
            },
        )


def produce_period_reports(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    """The job (daily): for each operator and kind, every period of its calendar (its
    VAT regime and filing, domain/ereporting.py `CALENDAR`) that ended in the last two
    months, reported (IN) or, if its figures changed (late payments), corrected (RE).
    A period not ended yet is never reported; one already reported, unchanged, costs
    a comparison."""
    today = (as_of or ctx.clock.now()).astimezone(PARIS).date()
    produced = 0
    for operator in list_operators(ctx):
        regime = operator_regime(operator)
        stored = ctx.ereports.all(operator.id)
        for kind in KINDS:
            reported = {
                Period(date.fromisoformat(r["period_start"]), date.fromisoformat(r["period_end"]))
                for r in stored
                if r["kind"] == kind
            }
            candidates = closed_periods(kind, today, RECHECK, regime)
            for period in periods_to_report(candidates, reported):
                produced += produce_report(ctx, operator.id, kind, period, today) is not None
    return {"produced": produced}


def operator_regime(operator: Operator) -> Regime:
    return regime_of(operator.vat_regime.value, operator.vat_filing.value)


def list_reports(ctx: Context, operator_id: str) -> Sorted[dict[str, Any]]:
    """By period, kind and sequence (then id): `page_list` resumes after the last served."""
    get_operator(ctx, operator_id)  # 404 for an unknown operator
    reports = ctx.ereports.all(operator_id)
    return Sorted(
        ({k: v for k, v in r.items() if k not in ("xml", "digest")} for r in reports),
        key=lambda r: (r["period_start"], r["kind"], int(r["sequence"]), r["id"]),
    )


def _report(
    ctx: Context,
    operator: Operator,
    kind: ReportKind,
    period: Period,
    version: tuple[int, str, str],
    days: list[Any],
    international: tuple[list[InternationalSale], list[InternationalPayment]],
    sender: tuple[str, str],
) -> dict[str, Any]:
    """`version`: the file's sequence in its period, its type code (IN, RE), its digest;
    `international`: the sales it reports one by one (flux 10.1) or their payments (10.2);
    `sender`: the platform's registration number and name (`platform.ereport_sender`)."""
    sequence, type_code, digest = version
    sales, paid = international
    now = ctx.clock.now().astimezone(PARIS)
    header = Header(
        id=transmission_id(operator.siren, kind, period, sequence),
        issued_at=timestamp(now),
        type_code=type_code,
        platform_id=sender[0],
        platform_name=sender[1],
        issuer_siren=operator.siren,
        issuer_name=operator.name,
    )
    if kind == "transactions":
        flux = "+".join(f for f, some in (("10.1", sales), ("10.3", days)) if some) or "10.3"
        on_debits = operator.vat_on_debits and operator.vat_regime.value != "franchise"
        xml = transactions_xml(header, period, days, sales, on_debits=on_debits)
    else:
        flux = "+".join(f for f, some in (("10.2", paid), ("10.4", days)) if some) or "10.4"
        xml = payments_xml(header, period, days, paid)
    return {
        "id": header.id,
        "operator_id": operator.id,
        "kind": kind,
        "flux": flux,
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "sequence": sequence,
        "type_code": type_code,
        "status": "produced",
        "produced_at": now.isoformat(timespec="seconds"),
        "regime": operator_regime(operator),
        "due_by": due_by(kind, period, operator_regime(operator)).isoformat(),
        "days": len(days),
        "invoices": len(sales) + len(paid),
        "digest": digest,
        "xml": xml.decode("utf-8"),
    }


def _documents(ctx: Context, operator_id: str, since: date, until: date) -> list[Document]:
    documents: list[Document] = []
    cursor: str | None = None
    while True:
        page, cursor = ctx.invoices.page(
            member_id=None,
            operator_id=operator_id,
            span=(since.isoformat(), until.isoformat()),
            doc_type=None,
            limit=500,
            cursor=cursor,
        )
        documents.extend(map(Document.of, page))
        if not cursor:
            return documents
