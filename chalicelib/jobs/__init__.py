"""Scheduled jobs: each one a call into services, idempotent, with an optional `as_of`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.observability import observed_job
from chalicelib.services.attendance import release_no_shows
from chalicelib.services.bookings import expire_holds
from chalicelib.services.companies import invoice_companies
from chalicelib.services.context import Context
from chalicelib.services.membership_charges import renew_memberships
from chalicelib.services.notifications import send_reminders
from chalicelib.services.reconciliation import reconcile_payments

Job = Callable[[Context, "datetime | None"], dict[str, Any]]

JOBS: dict[str, Job] = {
    "expire_holds": expire_holds,
    "invoice_companies": invoice_companies,
    "renew_memberships": renew_memberships,
    "release_no_shows": release_no_shows,
    "reconcile_payments": reconcile_payments,
    "send_reminders": send_reminders,
}


# Jobs that run on a fixed rate, in minutes (the Lambda schedules of app.py; `make run`
# calls them on the same rates, since `chalice local` runs no schedules).
RATES_MINUTES: dict[str, int] = {
    "expire_holds": 1,
    "release_no_shows": 15,
    "reconcile_payments": 60,
    "send_reminders": 60,
}


def run_job(ctx: Context, name: str, as_of: datetime | None = None) -> dict[str, Any]:
    with observed_job(name) as record:
        result = JOBS[name](ctx, as_of)
        record(result)
    return result
