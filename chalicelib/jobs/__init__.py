"""Scheduled jobs: each one a call into services, idempotent, with an optional `as_of`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.observability import observed_job
from chalicelib.services import run_budget
from chalicelib.services.attendance import release_no_shows
from chalicelib.services.bookings import expire_holds
from chalicelib.services.books_check import check_books
from chalicelib.services.company_invoicing import invoice_companies
from chalicelib.services.context import Context
from chalicelib.services.einvoice_routing import route_einvoices
from chalicelib.services.ereport_job import produce_ereports
from chalicelib.services.exports import run_exports
from chalicelib.services.membership_charges import renew_memberships
from chalicelib.services.notifications import send_reminders
from chalicelib.services.reconciliation import reconcile_payments
from chalicelib.services.settlement import settle_operators

Job = Callable[[Context, "datetime | None"], dict[str, Any]]

JOBS: dict[str, Job] = {
    "expire_holds": expire_holds,
    "invoice_companies": invoice_companies,
    "renew_memberships": renew_memberships,
    "release_no_shows": release_no_shows,
    "reconcile_payments": reconcile_payments,
    "send_reminders": send_reminders,
    "produce_ereports": produce_ereports,
    "route_einvoices": route_einvoices,
    "check_books": check_books,
    "run_exports": run_exports,
    "settle_operators": settle_operators,
}


# When each job runs: the one table that app.py registers with Chalice (EventBridge
# schedules in the packaged template) and that `make run`'s local scheduler
# (tools/local_scheduler.py) evaluates, so the two cannot drift. AWS syntax, in UTC:
# `rate(N unit)`, or `cron(minutes hours day-of-month month day-of-week year)`.
SCHEDULES: dict[str, str] = {
    "expire_holds": "rate(1 minute)",
    "release_no_shows": "rate(15 minutes)",
    "reconcile_payments": "rate(60 minutes)",
    "send_reminders": "rate(60 minutes)",
    # From just after midnight in Paris, whatever DST: 22:05 UTC in summer, 23:05 UTC in
    # winter (the runs before midnight find nothing due), then every 15 minutes of the
    # hour, so that a night with more renewals than one run can charge (a 15-minute
    # function, .chalice/config.json) is finished by the next runs; runs that overlap
    # claim different charges.
    "renew_memberships": "cron(5/15 22,23 * * ? *)",
    # The company invoices of the month just ended: from 02:00 UTC on the 1st, every 15
    # minutes until 03:45, so that a network with more companies than one run (a
    # 15-minute function) can invoice is finished by the next runs; later runs find
    # every company invoiced and issue nothing.
    "invoice_companies": "cron(0/15 2,3 1 * ? *)",
    # B2C e-reports: daily at 03:00 UTC, each operator's periods that have ended (ten
    # days, a month or two months, per its VAT regime: domain/ereporting.py CALENDAR).
    "produce_ereports": "cron(0 3 * * ? *)",
    # B2B invoices to the accredited platform, and the statuses it reports back.
    "route_einvoices": "rate(60 minutes)",
    # Every operator's document chain and last month's payouts, checked; the findings are
    # metrics with alarms (services/books_check.py): 04:30 UTC, after the night's jobs.
    "check_books": "cron(30 4 * * ? *)",
    # Exports the queue lost or a crashed worker left (locally, with no queue: every
    # pending export) are handed to a worker again.
    "run_exports": "rate(1 minute)",
    # Settlement invoices between operators for the month just ended: 02:30 UTC on the
    # 1st (after the company invoices).
    "settle_operators": "cron(30 2 1 * ? *)",
}


def run_job(
    ctx: Context, name: str, as_of: datetime | None = None, time_left: float | None = None
) -> dict[str, Any]:
    """Run a job; `time_left` (seconds before the Lambda's timeout, when known) lets a long
    job use its function's whole time (services/run_budget.py)."""
    with observed_job(name) as record, run_budget.time_left(time_left):
        result = JOBS[name](ctx, as_of)
        record(result)
    return result
