"""Everything that differs between deployment stages, read from infra/stages.json.

That file is the one place for stage settings: the table name, the browser origins,
the mail sender, log and backup retention, tracing, API Gateway throttling, and the
plain (non-secret) application settings each function gets as environment variables.
`infra/package.py` writes them into the packaged template; secrets never live here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STAGES_FILE = Path(__file__).with_name("stages.json")


@dataclass(frozen=True)
class Throttle:
    rate_limit: float  # requests per second, steady
    burst_limit: int


@dataclass(frozen=True)
class Stage:
    name: str
    table_name: str
    allowed_origins: str  # comma-separated, exact origins
    mail_from: str  # empty = no mail
    log_retention_days: int
    point_in_time_recovery_days: int
    tracing: bool
    api_throttle: Throttle
    write_throttle: Throttle  # POST of bookings, purchases, memberships
    settings: dict[str, str]  # plain environment variables of every function


def secret_setting(variable: str) -> bool:
    """Whether an environment variable's name says it holds a secret (`…_SECRET`,
    `…_PASSWORD`, `…_KEY`, `…_TOKEN`); the name of its SSM parameter, a URL or a path
    (`…_PARAMETER`, `…_URL`, `…_PREFIX`) is no secret."""
    words = variable.upper().split("_")
    if words[-1] in ("PARAMETER", "URL", "PREFIX"):
        return False
    return "SECRET" in words or "PASSWORD" in words or words[-1] in ("KEY", "TOKEN")


def parse_stage(name: str, raw: dict[str, Any]) -> Stage:
    secrets = sorted(k for k in raw["settings"] if secret_setting(k))
    if secrets:  # it would be committed here and shown in every function's configuration
        raise ValueError(
            f"stage {name}: {', '.join(secrets)} in settings: a secret goes to SSM "
            "(docs/RUNBOOK.md), never to infra/stages.json"
        )
    return Stage(
        name=name,
        table_name=raw["table_name"],
        allowed_origins=raw["allowed_origins"],
        mail_from=raw["mail_from"],
        log_retention_days=int(raw["log_retention_days"]),
        point_in_time_recovery_days=int(raw["point_in_time_recovery_days"]),
        tracing=bool(raw["tracing"]),
        api_throttle=Throttle(**raw["api_throttle"]),
        write_throttle=Throttle(**raw["write_throttle"]),
        settings={k: str(v) for k, v in raw["settings"].items()},
    )


def stage_names() -> list[str]:
    return sorted(json.loads(STAGES_FILE.read_text()))


def load_stage(name: str) -> Stage:
    stages = json.loads(STAGES_FILE.read_text())
    if name not in stages:
        raise KeyError(f"unknown stage {name!r}; infra/stages.json has {sorted(stages)}")
    return parse_stage(name, stages[name])
