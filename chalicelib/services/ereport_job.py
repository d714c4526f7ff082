"""The `produce_ereports` job: build the files of the closed periods, then send them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.services.context import Context
from chalicelib.services.ereport_transmission import transmit_ereports
from chalicelib.services.ereporting import produce_period_reports


def produce_ereports(ctx: Context, as_of: datetime | None = None) -> dict[str, Any]:
    produced = produce_period_reports(ctx, as_of)
    sent = transmit_ereports(ctx)
    processed = int(produced["produced"]) + sent["submitted"] + sent["rejected"]
    return {"job": "produce_ereports", "processed": processed, **produced, **sent}
