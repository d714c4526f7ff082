"""The nightly check of every operator's books, whose findings are metrics with alarms.

- `IntegrityFailures`: an issued document, or the chain of hashes, no longer matches
  (accounting.integrity: the same check as `GET /v1/accounting/integrity`).
- `PayoutMismatches`: a Stripe payout that arrived in the checked window and whose
  transactions do not add up to it.
- `UnmatchedPayments`: a payment that succeeded in the window but that Stripe's balance
  or the invoices do not show.

The window ends `SETTLE_DAYS` before the run (Stripe pays out card payments after a few
days, and the hourly reconciliation needs time to see them) and spans `WINDOW_DAYS`.
docs/RUNBOOK.md says what to do when one of the alarms fires.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.timezones import PARIS
from chalicelib.observability import count
from chalicelib.services.accounting import integrity
from chalicelib.services.context import Context
from chalicelib.services.reconciliation_report import reconciliation_report

SETTLE_DAYS = 7
WINDOW_DAYS = 31

logger = logging.getLogger("relais.books_check")


def check_books(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    today = (as_of or ctx.clock.now()).astimezone(PARIS).date()
    high = today - timedelta(days=SETTLE_DAYS)
    low = high - timedelta(days=WINDOW_DAYS - 1)
    findings: list[dict[str, Any]] = []
    operators = sorted(ctx.catalogue.get(fresh=True).operators)
    for operator_id in operators:
        chain = integrity(ctx, operator_id)
        if not chain["ok"]:
            findings.append(
                {
                    "operator_id": operator_id,
                    "metric": "IntegrityFailures",
                    "first_broken_number": chain["first_broken_number"],
                }
            )
        report = reconciliation_report(ctx, operator_id, (low, high))
        findings.extend(
            {"operator_id": operator_id, "metric": "PayoutMismatches", "payout_id": p["id"]}
            for p in report["payouts"]
            if not p["matched"]
        )
        findings.extend(
            {
                "operator_id": operator_id,
                "metric": "UnmatchedPayments",
                "payment_intent_id": p["payment_intent_id"],
                "reasons": p["reasons"],
            }
            for p in report["unmatched_payments"]
        )
    totals = {
        metric: sum(1 for f in findings if f["metric"] == metric)
        for metric in ("IntegrityFailures", "PayoutMismatches", "UnmatchedPayments")
    }
    for metric, n in totals.items():
        count(metric, n)  # zeros too: the alarms see the job ran
    for finding in findings:
        logger.error("Books check: %s", finding)
    return {
        "job": "check_books",
        "processed": len(operators),
        "from": low.isoformat(),
        "to": high.isoformat(),
        **totals,
        "findings": findings,
    }
