"""`make deploy`: the AWS CLI commands it runs (the deploy itself cannot run here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    command = deploy.deploy_command(
        Path("build/package/prod"), "my-bucket", "prod", "eu-west-3", ["A=b"]
    )

    assert command[:3] == ["aws", "cloudformation", "deploy"]
    assert command[command.index("--stack-name") + 1] == "relais-prod"
    assert command[command.index("--template-file") + 1] == "build/package/prod/packaged.json"
    # a template over 51,200 bytes is refused inline: the CLI uploads it there
    assert command[command.index("--s3-bucket") + 1] == "my-bucket"
    assert command[command.index("--s3-prefix") + 1] == "relais/prod"
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


def _aws(tmp_path: Path, template: dict[str, Any], calls: list[list[str]]) -> Any:
    """A fake `subprocess.run` of the AWS CLI: `package` writes `template` indented by 4,
    as the CLI does."""

    def run(command: list[str], check: bool) -> None:
        calls.append(command)
        if command[2] == "package":
            (tmp_path / deploy.PACKAGED_NAME).write_text(json.dumps(template, indent=4))

    return run


@pytest.fixture
def aws_ready(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(deploy.shutil, "which", lambda name: "/usr/bin/aws")
    monkeypatch.setenv("DEPLOY_BUCKET", "my-bucket")
    (tmp_path / "sam.json").write_text("{}")
    return tmp_path


def test_the_packaged_template_is_compacted_before_it_is_deployed(
    monkeypatch: pytest.MonkeyPatch, aws_ready: Path
) -> None:
    template = {"Resources": {"Api": {"Type": "AWS::Serverless::Api", "Body": ["x" * 50]}}}
    calls: list[list[str]] = []
    monkeypatch.setattr(deploy.subprocess, "run", _aws(aws_ready, template, calls))

    assert deploy.main([str(aws_ready), "--stage", "dev"]) == 0

    assert [c[2] for c in calls] == ["package", "deploy"]
    written = (aws_ready / deploy.PACKAGED_NAME).read_text()
    assert json.loads(written) == template
    assert " " not in written and "\n" not in written


def test_a_template_over_cloudformations_limit_is_not_deployed(
    monkeypatch: pytest.MonkeyPatch, aws_ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {"Resources": {"Big": {"Type": "AWS::SSM::Parameter", "Value": "x" * 1_000_000}}}
    calls: list[list[str]] = []
    monkeypatch.setattr(deploy.subprocess, "run", _aws(aws_ready, template, calls))

    assert deploy.main([str(aws_ready), "--stage", "dev"]) == 2

    assert [c[2] for c in calls] == ["package"]
    assert "over CloudFormation's 1,000,000" in capsys.readouterr().err
