"""Wrong settings are told at once: every wrong variable with its allowed range; `make run`
exits, a deployed function logs one structured error and answers 503 `misconfigured`."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from chalice.test import Client

from chalicelib.api.wiring import use_context
from chalicelib.config import ConfigurationError, _problem, get_settings, load_settings
from infra.package import ROOT


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    use_context(None)
    yield
    get_settings.cache_clear()
    use_context(None)


def test_every_wrong_setting_is_named_with_its_allowed_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOLD_SECONDS", "5")
    monkeypatch.setenv("REMINDER_HOUR", "25")

    with pytest.raises(ConfigurationError) as raised:
        load_settings()

    assert len(raised.value.problems) == 2
    hold, reminder = sorted(raised.value.problems)
    assert hold.startswith("HOLD_SECONDS='5'") and hold.endswith("(allowed: from 30 to 86400)")
    assert reminder.startswith("REMINDER_HOUR='25'") and reminder.endswith(
        "(allowed: from 0 to 23)"
    )


def test_a_hold_of_thirty_seconds_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOLD_SECONDS", "30")

    assert load_settings().hold_seconds == 30


def test_a_wrong_secret_is_named_but_never_echoed() -> None:
    error = {"loc": ("STRIPE_API_KEY",), "input": "sk_live_leak", "msg": "Field required"}

    assert _problem(error) == "STRIPE_API_KEY: Field required"


def test_a_misconfigured_api_answers_503_misconfigured_without_details(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    from app import app

    monkeypatch.setenv("HOLD_SECONDS", "5")
    with Client(app) as client:
        response = client.http.get("/v1/health")

    body = json.loads(response.body)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert (body["code"], body["status"]) == ("misconfigured", 503)
    assert "HOLD_SECONDS" not in response.body.decode()
    assert "Traceback" not in response.body.decode()


def test_a_misconfigured_container_logs_one_structured_error(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, caplog: pytest.LogCaptureFixture
) -> None:
    from app import app

    monkeypatch.setenv("HOLD_SECONDS", "5")
    # Chalice's own "relais" logger does not propagate: listen on ours directly.
    logger = logging.getLogger("relais.config")
    logger.addHandler(caplog.handler)
    try:
        with Client(app) as client:
            client.http.get("/v1/health")
            client.http.get("/v1/relays")
    finally:
        logger.removeHandler(caplog.handler)

    records = [r for r in caplog.records if r.name == "relais.config"]
    assert len(records) == 1
    logged = json.loads(records[0].getMessage())
    assert logged["event"] == "misconfigured"
    assert [p.split("=")[0] for p in logged["problems"]] == ["HOLD_SECONDS"]


def test_make_run_with_a_wrong_setting_exits_at_once_naming_it() -> None:
    env = {**os.environ, "HOLD_SECONDS": "10", "PORT": "1", "RELAIS_LOCAL_DIR": "/nonexistent"}

    run = subprocess.run(
        [sys.executable, "-m", "tools.run_local"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 2
    assert "HOLD_SECONDS='10'" in run.stderr
    assert "allowed: from 30 to 86400" in run.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("DDB_PORT", "70000"),
        ("STRIPE_PORT", "0"),
        ("RELAIS_TABLE", "a"),
        ("SEED_DEMO", "maybe"),
        ("AUTH_JWKS_FILE", "/nonexistent/jwks.json"),
    ],
)
def test_make_run_names_every_wrong_setting_of_its_own_and_exits_before_starting(
    variable: str, value: str
) -> None:
    env = {**os.environ, "HOLD_SECONDS": "10", variable: value}

    run = subprocess.run(
        [sys.executable, "-m", "tools.run_local"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 2, run.stderr
    assert f"{variable}={value!r}" in run.stderr and "HOLD_SECONDS='10'" in run.stderr
