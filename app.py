"""Relais: the Chalice app. Registers blueprints and scheduled jobs; the code is in chalicelib/."""

from __future__ import annotations

from typing import Any

from chalice import Chalice

from chalicelib import observability
from chalicelib.api import (
    accounting,
    accounting_settings,
    audit,
    availability,
    bookings,
    calendars,
    catalogue,
    catalogue_edits,
    closures,
    companies,
    company_admin,
    einvoices,
    erasure,
    ereports,
    exports,
    invoices,
    jobs,
    members,
    memberships,
    meta,
    periods,
    reconciliation,
    stats,
    wallet,
    webhooks,
)
from chalicelib.api.fallback_routes import add_fallback_routes
from chalicelib.api.http_middleware import handle as http_middleware
from chalicelib.jobs import SCHEDULES

app = Chalice(app_name="relais")
# Files (PDF, ZIP) encode themselves (api/responses.BinaryResponse), whatever `Accept` says.
app.api.binary_types = []

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
    accounting_settings.bp,
    ereports.bp,
    einvoices.bp,
    reconciliation.bp,
    audit.bp,
    stats.bp,
    periods.bp,
    exports.bp,
    webhooks.bp,
    jobs.bp,
)
for blueprint in BLUEPRINTS:
    app.register_blueprint(blueprint)
# One JSON log line and the request metrics (EMF) per answer (chalicelib/observability.py).
app.register_middleware(observability.http_middleware, "http")
add_fallback_routes(app)  # OPTIONS preflights and 405s, after every real route
# Inside the logging middleware, so that its line carries the request id set here.
app.register_middleware(http_middleware, "http")  # request ids, CORS, language


def _scheduled(job: str) -> Any:
    def handler(event: Any) -> dict[str, Any]:
        from chalicelib.api.wiring import get_context
        from chalicelib.jobs import run_job

        lambda_context = getattr(event, "context", None)
        time_left = None
        if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
            time_left = lambda_context.get_remaining_time_in_millis() / 1000
        return run_job(get_context(), job, time_left=time_left)

    handler.__name__ = f"{job}_schedule"
    return handler


# Every schedule comes from one table (chalicelib/jobs), also read by `make run`.
for _job, _expression in SCHEDULES.items():
    app.schedule(_expression, name=_job)(_scheduled(_job))


# The worker of asynchronous exports (chalicelib/services/exports.py): one SQS message,
# one export. The queue's name is a placeholder that infra/package.py replaces by the
# stack's own queue (ExportQueue); locally the `run_exports` job runs exports instead.
EXPORT_QUEUE = "relais-exports"


@app.on_sqs_message(queue=EXPORT_QUEUE, batch_size=1, name="export_worker")
def export_worker(event: Any) -> dict[str, Any]:
    from chalicelib.adapters.export_queue import export_ids
    from chalicelib.api.wiring import get_context
    from chalicelib.services.exports import run_export

    ctx = get_context()
    outcomes = {
        export_id: run_export(ctx, export_id)
        for export_id in export_ids([record.body for record in event])
    }
    return {"job": "export_worker", "processed": len(outcomes), "outcomes": outcomes}
