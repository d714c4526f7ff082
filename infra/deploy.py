"""`python -m infra.deploy BUILD_DIR --stage STAGE`: deploy a packaged template with the AWS CLI.

Needs the AWS CLI (v2) on PATH, credentials for the target account, and
`DEPLOY_BUCKET`, an S3 bucket in the stack's region that holds the code zips.

1. `aws cloudformation package` uploads BUILD_DIR/deployment.zip (every function's code)
   and BUILD_DIR/validation-layer.zip (Saxon, the route_einvoices function's layer) to
   the bucket and writes BUILD_DIR/packaged.json pointing at them;
2. packaged.json is rewritten without whitespace: the CLI writes it indented by 4
   (~1.2 MB, the API's OpenAPI body being most of it), over CloudFormation's 1 MB for a
   template; compact it is ~0.4 MB. One over the limit stops here;
3. `aws cloudformation deploy` uploads it to the same bucket (a template over 51,200
   bytes must go through S3) and creates or updates the stack `relais-STAGE` through a
   change set. Stack parameters are taken from the environment variables named in
   infra/parameters.py (`AUTH_ISSUER`, `AUTH_JWKS_URL`, ...) when set; on an update a
   parameter not given keeps its current value.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.package import DEFAULT_REGION, TEMPLATE_NAME
from infra.parameters import deploy_parameters
from infra.stages import load_stage, stage_names

PACKAGED_NAME = "packaged.json"
# CloudFormation reads at most 1 MB of template from S3; a template body passed inline at
# most 51,200 bytes, hence the bucket given to `deploy` as well.
TEMPLATE_LIMIT = 1_000_000


def stack_name(stage: str) -> str:
    return f"relais-{stage}"


def parameter_overrides(stage: str, environ: Mapping[str, str]) -> list[str]:
    """`Key=Value` for each stack parameter whose environment variable is set."""
    return [
        f"{p.logical_id}={environ[p.env_var]}"
        for p in deploy_parameters(load_stage(stage))
        if p.env_var in environ
    ]


def package_command(build_dir: Path, bucket: str, stage: str, region: str) -> list[str]:
    return [
        "aws",
        "cloudformation",
        "package",
        "--region",
        region,
        "--template-file",
        str(build_dir / TEMPLATE_NAME),
        "--s3-bucket",
        bucket,
        "--s3-prefix",
        f"relais/{stage}",
        "--use-json",
        "--output-template-file",
        str(build_dir / PACKAGED_NAME),
    ]


def compact_template(path: Path) -> int:
    """Rewrite the template at `path` without whitespace; answer its size in bytes."""
    document = json.loads(path.read_text(encoding="utf-8"))
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))


def deploy_command(
    build_dir: Path, bucket: str, stage: str, region: str, overrides: list[str]
) -> list[str]:
    command = [
        "aws",
        "cloudformation",
        "deploy",
        "--region",
        region,
        "--template-file",
        str(build_dir / PACKAGED_NAME),
        "--s3-bucket",
        bucket,
        "--s3-prefix",
        f"relais/{stage}",
        "--stack-name",
        stack_name(stage),
        "--capabilities",
        "CAPABILITY_IAM",
        "CAPABILITY_AUTO_EXPAND",
        "--no-fail-on-empty-changeset",
        "--tags",
        "project=relais",
        f"stage={stage}",
    ]
    if overrides:
        command += ["--parameter-overrides", *overrides]
    return command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__)
    parser.add_argument("build_dir", type=Path)
    parser.add_argument("--stage", required=True, choices=stage_names())
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or DEFAULT_REGION)
    args = parser.parse_args(argv)
    bucket = os.environ.get("DEPLOY_BUCKET", "")
    if shutil.which("aws") is None:
        print("infra.deploy: the AWS CLI (`aws`) is not on PATH", file=sys.stderr)
        return 2
    if not bucket:
        print("infra.deploy: set DEPLOY_BUCKET to an S3 bucket for the code", file=sys.stderr)
        return 2
    if not (args.build_dir / TEMPLATE_NAME).exists():
        print(f"infra.deploy: no {TEMPLATE_NAME} in {args.build_dir}", file=sys.stderr)
        return 2
    overrides = parameter_overrides(args.stage, os.environ)
    subprocess.run(package_command(args.build_dir, bucket, args.stage, args.region), check=True)
    size = compact_template(args.build_dir / PACKAGED_NAME)
    if size > TEMPLATE_LIMIT:
        print(
            f"infra.deploy: {PACKAGED_NAME} is {size:,} bytes, over CloudFormation's "
            f"{TEMPLATE_LIMIT:,}",
            file=sys.stderr,
        )
        return 2
    deploy = deploy_command(args.build_dir, bucket, args.stage, args.region, overrides)
    subprocess.run(deploy, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
