"""Running a scheduled job by hand (catch-up runs with `as_of`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalice import Blueprint
from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.schemas import JobAnswer
from chalicelib.errors import NotFound
from chalicelib.jobs import JOBS, run_job

bp = Blueprint(__name__)


class JobRun(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    as_of: AwareDatetime | None = None

    @field_validator("as_of")
    @classmethod
    def _sensible(cls, value: datetime | None) -> datetime | None:
        if value is not None and not 2000 <= value.year <= 2100:
            raise ValueError("must be between the years 2000 and 2100")
        return value


@endpoint(
    bp,
    "/v1/admin/jobs/{job}",
    "POST",
    summary="Run a scheduled job now",
    tag="admin",
    body=JobRun,
    errors=(403, 404, 422),
    role="admin",
    response=JobAnswer,
)
def run(call: Call) -> Any:
    name = call.params["job"]
    if name not in JOBS:
        raise NotFound(f"No job named {name!r}; jobs: {', '.join(sorted(JOBS))}.")
    as_of: datetime | None = call.body.as_of
    return run_job(call.ctx, name, as_of)
