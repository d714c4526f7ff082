"""Relais: the Chalice app. Registers blueprints and scheduled jobs; the code is in chalicelib/."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Cron, Rate

from chalicelib.api import (
    accounting,
    audit,
    availability,
    bookings,
    calendars,
    catalogue,
    catalogue_edits,
    closures,
    companies,
    company_admin,
    erasure,
    invoices,
    jobs,
    members,
    memberships,
    meta,
    reconciliation,
    stats,
    wallet,
    webhooks,
)
from chalicelib.jobs import RATES_MINUTES

app = Chalice(app_name="relais")
app.api.binary_types.append("application/pdf")

BLUEPRINTS = (
    meta.bp,
    catalogue.bp,
    catalogue_edits.bp,
    closures.bp,
    availability.bp,
    bookings.bp,
    wallet.bp,
    memberships.bp,
    members.bp,
    calendars.bp,
    erasure.bp,
    invoices.bp,
    companies.bp,
    company_admin.bp,
    accounting.bp,
    reconciliation.bp,
    audit.bp,
    stats.bp,
    webhooks.bp,
    jobs.bp,
)
for blueprint in BLUEPRINTS:
    app.register_blueprint(blueprint)


def _scheduled(job: str) -> Any:
    def handler(event: Any) -> dict[str, Any]:
        from chalicelib.api.wiring import get_context
        from chalicelib.jobs import run_job

        return run_job(get_context(), job)

    handler.__name__ = f"{job}_schedule"
    return handler


for _job, _minutes in RATES_MINUTES.items():
    app.schedule(Rate(_minutes, unit=Rate.MINUTES), name=_job)(_scheduled(_job))

# Monthly: the company invoices of the month just ended (02:00 UTC on the 1st).
app.schedule(Cron(0, 2, 1, "*", "?", "*"), name="invoice_companies")(
    _scheduled("invoice_companies")
)

# Daily: membership renewals and retries just after midnight in Paris, whatever DST
# (22:05 UTC in summer, 23:05 UTC in winter; the other run of the two finds nothing due).
app.schedule(Cron(5, "22,23", "*", "*", "?", "*"), name="renew_memberships")(
    _scheduled("renew_memberships")
)
