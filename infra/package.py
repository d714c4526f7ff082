"""`python -m infra.package OUTDIR [--stage dev|prod]`: the deployable CloudFormation template.

1. `chalice package --stage STAGE OUTDIR`, run through `infra.target` so that the Lambda
   runtime is python3.13 on arm64 and `deployment.zip` holds wheels for that target,
   whatever the local interpreter; it writes the SAM template `sam.json`. Beside it,
   `validation-layer.zip`: Saxon, for the e-invoice validation only (infra/layers.py).
2. The template gets the table of infra/table.json (logical id `RelaisTable`, named and
   backed up as the stage says), the stage's settings of infra/stages.json in every
   function, the deployment-specific values as CloudFormation parameters, log retention
   and tracing, the API Gateway additions of infra/gateway.py, and the validation layer
   on the function that validates.
3. `cfn-lint` checks the result with no rule skipped; errors fail the build, warnings
   are printed.

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
from pathlib import Path
from typing import Any

from chalicelib.adapters.archive_store import EXPORT_FILES_DAYS  # export files expire
from infra.alarms import EXPORT_DEAD_LETTERS, monitoring_overlay
from infra.gateway import rest_api_overlay
from infra.layers import (
    LAYER_FUNCTIONS,
    LAYER_ID,
    LAYER_ZIP,
    build_layer,
    layer_overlay,
    starter_overlay,
)
from infra.parameters import deploy_parameters, secret_parameter_names
from infra.roles import role_with_policy
from infra.stages import Stage, load_stage, stage_names
from infra.table import table_resource
from infra.target import TARGET_ARCHITECTURE, TARGET_RUNTIME

ROOT = Path(__file__).resolve().parent.parent
TABLE_ID = "RelaisTable"
TABLE_ENV_VAR = "RELAIS_TABLE"
ARCHIVE_BUCKET_ID = "ArchiveBucket"  # closing archives (S3): private, versioned, kept
# Asynchronous exports (chalicelib/services/exports.py): the queue app.export_worker
# consumes (app.EXPORT_QUEUE is Chalice's placeholder name for it), its dead letters,
# and who may send to it: the API (POST /v1/exports) and the run_exports job.
EXPORT_QUEUE_ID = "ExportQueue"
EXPORT_DEAD_LETTERS_ID = EXPORT_DEAD_LETTERS
EXPORT_QUEUE_PLACEHOLDER = "relais-exports"
EXPORT_SENDERS = ("APIHandler", "RunExports")
EXPORT_WORKER_TIMEOUT = 900  # .chalice/config.json, lambda_functions.export_worker
RUNTIME = TARGET_RUNTIME
ARCHITECTURES = [TARGET_ARCHITECTURE]
DEFAULT_STAGE = "dev"
DEFAULT_REGION = "eu-west-3"
TEMPLATE_NAME = "sam.json"
OVERLAY_NAME = "merge-template.json"
FUNCTION_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})
# Chalice renames the API handler's logical id after naming its log group after it
# (aws/chalice#2079), so with log_retention_in_days the group points at nothing.
CHALICE_RENAMES = {"ApiHandler": "APIHandler"}
# X-Ray takes no resource-level permission, so its writer policy is AWS's managed one,
# attached only on stages that trace (the inline policies never grant "*").
XRAY_POLICY = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"}

Template = dict[str, Any]


class PackagingError(Exception):
    """The packaged template is not what we mean to deploy."""


def function_ids(template: Template) -> list[str]:
    """Logical ids of every Lambda function in the template."""
    resources = template.get("Resources", {})
    return sorted(rid for rid, res in resources.items() if res.get("Type") in FUNCTION_TYPES)


def function_environment(stage: Stage) -> dict[str, Any]:
    """The variables every function gets: the stage's settings, then the stack's values."""
    env: dict[str, Any] = dict(stage.settings)
    # Powertools Tracer (chalicelib/observability.py) only where Lambda traces.
    env["POWERTOOLS_TRACE_DISABLED"] = "false" if stage.tracing else "true"
    env[TABLE_ENV_VAR] = {"Ref": TABLE_ID}
    env["ARCHIVE_BUCKET"] = {"Ref": ARCHIVE_BUCKET_ID}
    env["EXPORT_QUEUE_URL"] = {"Ref": EXPORT_QUEUE_ID}
    env.update(secret_parameter_names())
    env.update(
        {p.env_var: {"Ref": p.logical_id} for p in deploy_parameters(stage) if p.to_functions}
    )
    return env


def log_group_overlay(base: Template, stage: Stage) -> dict[str, Any]:
    """The stage's retention on every log group, each pointed at its function's real id."""
    resources = base.get("Resources", {})
    overlay: dict[str, Any] = {}
    for rid, res in resources.items():
        if res.get("Type") != "AWS::Logs::LogGroup":
            continue
        props: dict[str, Any] = {"RetentionInDays": stage.log_retention_days}
        name = res.get("Properties", {}).get("LogGroupName")
        if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str):
            sub = name["Fn::Sub"]
            for old, new in CHALICE_RENAMES.items():
                if f"${{{old}}}" in sub and old not in resources and new in resources:
                    props["LogGroupName"] = {"Fn::Sub": sub.replace(f"${{{old}}}", f"${{{new}}}")}
        overlay[rid] = {"Properties": props}
    return overlay


def table_overlay(stage: Stage) -> dict[str, Any]:
    table = table_resource()
    table["Properties"]["TableName"] = stage.table_name
    table["Properties"]["PointInTimeRecoverySpecification"] = {
        "PointInTimeRecoveryEnabled": True,
        "RecoveryPeriodInDays": stage.point_in_time_recovery_days,
    }
    return table


def role_ids(template: Template) -> list[str]:
    resources = template.get("Resources", {})
    return sorted(rid for rid, res in resources.items() if res.get("Type") == "AWS::IAM::Role")


def merge_overlay(base: Template, stage: Stage) -> Template:
    """The merge document for `base`, as `chalice package --merge-template` would take it."""
    env = function_environment(stage)
    tracing = "Active" if stage.tracing else "PassThrough"
    resources: dict[str, Any] = {TABLE_ID: table_overlay(stage), **log_group_overlay(base, stage)}
    resources[ARCHIVE_BUCKET_ID] = archive_bucket()
    for fid in function_ids(base):
        resources[fid] = {
            "Properties": {"Environment": {"Variables": dict(env)}, "Tracing": tracing}
        }
    if "RestAPI" in base.get("Resources", {}):
        resources["RestAPI"] = rest_api_overlay(stage)
    monitoring = monitoring_overlay(base.get("Resources", {}), stage, function_ids(base), TABLE_ID)
    resources = deep_merge(monitoring, resources)
    resources = deep_merge(export_queue_overlay(base, resources), resources)
    resources = deep_merge(layer_overlay(function_ids(base)), resources)
    resources = deep_merge(starter_overlay(base, resources), resources)
    if stage.tracing:
        for rid in role_ids(base):
            resources[rid] = deep_merge(
                {"Properties": {"ManagedPolicyArns": [XRAY_POLICY]}}, resources.get(rid, {})
            )
    return {
        "Parameters": {p.logical_id: p.cfn() for p in deploy_parameters(stage)},
        "Resources": resources,
        "Outputs": {
            "TableName": {"Value": {"Ref": TABLE_ID}},
            "TableArn": {"Value": {"Fn::GetAtt": [TABLE_ID, "Arn"]}},
        },
    }


def export_queue_overlay(base: Template, overlay: dict[str, Any]) -> dict[str, Any]:
    """The export queue and its dead letters (the worker's event source is pointed at it
    by `point_worker_at_export_queue`); the right to send for the API and the run_exports
    job, to consume for the worker (added to the policies `overlay` already gives each
    role, else Chalice's)."""
    resources = base.get("Resources", {})
    found: dict[str, Any] = {
        EXPORT_QUEUE_ID: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                # Six times the worker's timeout, as Lambda's SQS event source wants it
                # (a throttled poll still counts a receive): a message comes back only
                # once its run is over (the export's lease, 16 minutes, ends before).
                "VisibilityTimeout": 6 * EXPORT_WORKER_TIMEOUT,
                "MessageRetentionPeriod": 86400,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [EXPORT_DEAD_LETTERS_ID, "Arn"]},
                    "maxReceiveCount": 5,
                },
            },
        },
        EXPORT_DEAD_LETTERS_ID: {
            "Type": "AWS::SQS::Queue",
            "Properties": {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True},
        },
    }
    queue_arn = {"Fn::GetAtt": [EXPORT_QUEUE_ID, "Arn"]}
    grants: dict[str, list[str]] = {}
    for fid in function_ids(base):
        props = resources[fid].get("Properties", {})
        for event in (props.get("Events") or {}).values():
            queue = event.get("Properties", {}).get("Queue")
            if event.get("Type") == "SQS" and _is_export_placeholder(queue):
                grants[fid] = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        if fid in EXPORT_SENDERS:
            grants[fid] = ["sqs:SendMessage"]
    for fid, actions in grants.items():
        statement = {"Effect": "Allow", "Action": actions, "Resource": [queue_arn]}
        granted = role_with_policy(resources, overlay, fid, "ExportQueue", statement)
        if granted is not None:
            found[granted[0]] = granted[1]
    return found


def archive_bucket() -> dict[str, Any]:
    """Sealed archives are kept: the bucket is private, versioned and outlives the stack
    (export files under `exports/` expire)."""
    blocked = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "VersioningConfiguration": {"Status": "Enabled"},
            # Export files are a download, not a record: gone after a week (their old
            # versions the day after); parts of an upload that never finished, a day.
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "ExportFilesExpire",
                        "Status": "Enabled",
                        "Prefix": "exports/",
                        "ExpirationInDays": EXPORT_FILES_DAYS,
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                    },
                    {
                        "Id": "UnfinishedUploads",
                        "Status": "Enabled",
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    },
                ]
            },
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


def merge_template(base: Template, stage: Stage) -> Template:
    """`base` (Chalice's template) with the table, the stage's settings, parameters."""
    merged: Template = deep_merge(merge_overlay(base, stage), base)
    return point_worker_at_export_queue(merged)


def point_worker_at_export_queue(template: Template) -> Template:
    """The export worker's SQS event on the stack's ExportQueue instead of Chalice's
    placeholder ARN (a merge cannot replace a value that is itself an object)."""
    for fid in function_ids(template):
        events = template["Resources"][fid].get("Properties", {}).get("Events") or {}
        for event in events.values():
            queue = event.get("Properties", {}).get("Queue")
            if event.get("Type") == "SQS" and _is_export_placeholder(queue):
                event["Properties"]["Queue"] = {"Fn::GetAtt": [EXPORT_QUEUE_ID, "Arn"]}
    return template


def _is_export_placeholder(queue: Any) -> bool:
    sub = queue.get("Fn::Sub", "") if isinstance(queue, dict) else ""
    return isinstance(sub, str) and sub.endswith(f":{EXPORT_QUEUE_PLACEHOLDER}")


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
        if props.get("Architectures") != ARCHITECTURES:
            problems.append(f"{fid}: architectures {props.get('Architectures')!r}")
        env = props.get("Environment", {}).get("Variables", {})
        if env.get(TABLE_ENV_VAR) != {"Ref": TABLE_ID}:
            problems.append(f"{fid}: {TABLE_ENV_VAR} does not reference {TABLE_ID}")
        layers = props.get("Layers") or []
        if (fid in LAYER_FUNCTIONS) != ({"Ref": LAYER_ID} in layers):
            problems.append(f"{fid}: layers {layers!r}, {LAYER_ID} only on {LAYER_FUNCTIONS}")
    missing = [fid for fid in LAYER_FUNCTIONS if fid not in fids]
    if missing:  # a renamed job would leave the validation without Saxon
        problems.append(f"no function {missing} for {LAYER_ID}")
    return problems


def _entry_point(module: str) -> list[str]:
    # Neither chalice nor cfnlint has a __main__; call their console-script function.
    return [sys.executable, "-c", f"import sys; from {module} import main; sys.exit(main())"]


def chalice_command(outdir: Path, stage: str, project_dir: Path = ROOT) -> list[str]:
    return [
        sys.executable,
        "-m",
        "infra.target",
        "--project-dir",
        str(project_dir),
        "package",
        "--stage",
        stage,
        str(outdir),
    ]


def cfn_lint_command(template_path: Path, region: str) -> list[str]:
    return [
        *_entry_point("cfnlint.runner"),
        "--regions",
        region,
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


def build(outdir: Path, stage_name: str, region: str, project_dir: Path = ROOT) -> Path:
    """Package the app into `outdir` and merge the infra in; return the template path."""
    # Chalice asks botocore for a region name (no API call, no credentials).
    env = {**os.environ, "AWS_DEFAULT_REGION": region}
    stage = load_stage(stage_name)
    command = chalice_command(outdir, stage_name, project_dir)
    subprocess.run(command, cwd=project_dir, env=env, check=True)
    build_layer(outdir)
    template_path = outdir / TEMPLATE_NAME
    base: Template = json.loads(template_path.read_text())
    _write_json(outdir / OVERLAY_NAME, merge_overlay(base, stage))
    merged = merge_template(base, stage)
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
    parser.add_argument("--stage", default=DEFAULT_STAGE, choices=stage_names())
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
    size = (template_path.parent / "deployment.zip").stat().st_size
    layer = (template_path.parent / LAYER_ZIP).stat().st_size
    print(
        f"infra.package: {template_path} (stage {args.stage}, deployment.zip {size / 1e6:.1f} MB,"
        f" {LAYER_ZIP} {layer / 1e6:.1f} MB, cfn-lint exit {lint.returncode})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
