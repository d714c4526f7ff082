"""`python -m infra.throttle --stage STAGE (--stop | --restore) [--dry-run]`: stop the
API's requests, or give them back their throttling, with the AWS CLI (docs/RUNBOOK.md §5).

Stopping sets to zero the rate and burst of every method setting the template gives the
stage: its default (`/*/*`) and each route throttled on its own (the POST routes that
create things, `infra/gateway.method_settings`), which would otherwise keep taking
requests. Restoring puts back the values of `infra/stages.json`. `make deploy` cannot
restore them: its template did not change, so its change set is empty and the stage,
changed outside CloudFormation, keeps its zeros.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from infra.deploy import stack_name
from infra.gateway import method_settings
from infra.package import DEFAULT_REGION
from infra.stages import Stage, load_stage, stage_names

REST_API_ID = "RestAPI"  # the REST API's logical id in the template (Chalice's)


def patch_operations(stage: Stage, stop: bool) -> list[str]:
    """`op=replace,path=…,value=…` for the rate and burst of each of the stage's method
    settings: zero to stop, the stage's values to restore."""
    operations = []
    for setting in method_settings(stage):
        method = setting["ResourcePath"]
        path = "/*/*" if method == "/*" else f"{method}/{setting['HttpMethod']}"
        for name, key in (
            ("rateLimit", "ThrottlingRateLimit"),
            ("burstLimit", "ThrottlingBurstLimit"),
        ):
            value = 0 if stop else setting[key]
            operations.append(f"op=replace,path={path}/throttling/{name},value={value}")
    return operations


def rest_api_command(stage_name: str, region: str) -> list[str]:
    """The AWS CLI command that answers the stage's REST API id."""
    return [
        "aws",
        "cloudformation",
        "describe-stack-resource",
        "--region",
        region,
        "--stack-name",
        stack_name(stage_name),
        "--logical-resource-id",
        REST_API_ID,
        "--query",
        "StackResourceDetail.PhysicalResourceId",
        "--output",
        "text",
    ]


def update_command(
    rest_api_id: str, stage_name: str, region: str, operations: Sequence[str]
) -> list[str]:
    return [
        "aws",
        "apigateway",
        "update-stage",
        "--region",
        region,
        "--rest-api-id",
        rest_api_id,
        "--stage-name",
        stage_name,
        "--patch-operations",
        *operations,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.throttle", description=__doc__)
    parser.add_argument("--stage", required=True, choices=stage_names())
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--stop", action="store_true", help="rate and burst 0 everywhere")
    action.add_argument("--restore", action="store_true", help="the values of stages.json")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or DEFAULT_REGION)
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    operations = patch_operations(load_stage(args.stage), stop=args.stop)
    if args.dry_run:
        print(" ".join(rest_api_command(args.stage, args.region)))
        print(" ".join(update_command("$REST_API_ID", args.stage, args.region, operations)))
        return 0
    if shutil.which("aws") is None:
        print("infra.throttle: the AWS CLI (`aws`) is not on PATH", file=sys.stderr)
        return 2
    found = subprocess.run(
        rest_api_command(args.stage, args.region), check=True, capture_output=True, text=True
    )
    rest_api_id = found.stdout.strip()
    subprocess.run(update_command(rest_api_id, args.stage, args.region, operations), check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
