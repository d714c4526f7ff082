"""`python -m infra.throttle`: stopping the API's requests for a restore (RUNBOOK §5) and
giving them back, with the AWS CLI (which cannot run here)."""

from __future__ import annotations

from typing import Any

import pytest

from infra import throttle
from infra.stages import load_stage
from tests.support.packaged import packaged_app


def test_stopping_zeroes_every_method_setting_of_the_deployed_stage() -> None:
    # the stage's default and each route throttled on its own, as the template sets them
    settings = packaged_app("dev").template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    operations = throttle.patch_operations(load_stage("dev"), stop=True)

    for setting in settings:
        method = setting["ResourcePath"]
        path = "/*/*" if method == "/*" else f"{method}/{setting['HttpMethod']}"
        for name in ("rateLimit", "burstLimit"):
            assert f"op=replace,path={path}/throttling/{name},value=0" in operations
    assert len(operations) == 2 * len(settings)
    assert "op=replace,path=/~1v1~1bookings/POST/throttling/rateLimit,value=0" in operations


def test_restoring_puts_back_the_values_of_the_stage() -> None:
    prod = load_stage("prod")
    operations = throttle.patch_operations(prod, stop=False)

    default, writes = prod.api_throttle, prod.write_throttle
    assert f"op=replace,path=/*/*/throttling/rateLimit,value={default.rate_limit}" in operations
    path = "/~1v1~1purchases/POST/throttling/burstLimit"
    assert f"op=replace,path={path},value={writes.burst_limit}" in operations


def test_the_stage_s_api_is_found_then_updated(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[list[str]] = []

    def run(command: list[str], check: bool, **kw: Any) -> Any:
        calls.append(command)
        return type("Done", (), {"stdout": "abc123\n"})()

    monkeypatch.setattr(throttle.shutil, "which", lambda name: "/usr/bin/aws")
    monkeypatch.setattr(throttle.subprocess, "run", run)

    assert throttle.main(["--stage", "prod", "--stop"]) == 0

    found, updated = calls
    assert found[found.index("--stack-name") + 1] == "relais-prod"
    assert updated[:3] == ["aws", "apigateway", "update-stage"]
    assert updated[updated.index("--rest-api-id") + 1] == "abc123"
    assert updated[updated.index("--stage-name") + 1] == "prod"


def test_a_dry_run_prints_the_commands_and_calls_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(throttle.subprocess, "run", pytest.fail)

    assert throttle.main(["--stage", "dev", "--restore", "--dry-run"]) == 0

    printed = capsys.readouterr().out
    assert "describe-stack-resource" in printed and "update-stage" in printed
