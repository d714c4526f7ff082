"""`make deploy`: the AWS CLI commands it runs (the deploy itself cannot run here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import deploy


def test_parameters_are_taken_from_the_environment_variables_that_are_set() -> None:
    environ = {"AUTH_ISSUER": "https://issuer.example", "ALLOWED_ORIGINS": "https://a.example"}

    overrides = deploy.parameter_overrides("prod", environ)

    assert sorted(overrides) == [
        "AllowedOrigins=https://a.example",
        "AuthIssuer=https://issuer.example",
    ]


def test_the_stack_of_a_stage_is_deployed_from_the_uploaded_template() -> None:
    command = deploy.deploy_command(Path("build/package/prod"), "prod", "eu-west-3", ["A=b"])

    assert command[:3] == ["aws", "cloudformation", "deploy"]
    assert command[command.index("--stack-name") + 1] == "relais-prod"
    assert command[command.index("--template-file") + 1] == "build/package/prod/packaged.json"
    assert "CAPABILITY_IAM" in command
    assert command[-2:] == ["--parameter-overrides", "A=b"]


def test_the_code_is_uploaded_under_the_stage_prefix() -> None:
    command = deploy.package_command(Path("out"), "my-bucket", "dev", "eu-west-3")

    assert command[command.index("--s3-bucket") + 1] == "my-bucket"
    assert command[command.index("--s3-prefix") + 1] == "relais/dev"
    assert command[command.index("--output-template-file") + 1] == "out/packaged.json"


def test_deploy_without_a_bucket_stops_before_calling_aws(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deploy.shutil, "which", lambda name: "/usr/bin/aws")
    monkeypatch.delenv("DEPLOY_BUCKET", raising=False)
    monkeypatch.setattr(deploy.subprocess, "run", pytest.fail)

    assert deploy.main([str(tmp_path), "--stage", "dev"]) == 2
    assert "DEPLOY_BUCKET" in capsys.readouterr().err
