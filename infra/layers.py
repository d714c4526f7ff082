"""The validation layer: SaxonC-HE (`saxonche`, requirements-validation.txt) in a Lambda
layer of its own, attached only to the function that validates e-invoices.

Saxon is ~111 MB unzipped and ~38 MB zipped on aarch64, more than everything else the
app ships together. In deployment.zip, every function carried it, the API's included,
which never validates (a resend asked for over the API starts the job's function: see
`services/einvoice_routing.request_resend`, and `starter_overlay` below): the zip was
71 MB, 227 of the 250 MB Lambda allows unzipped. In a layer, deployment.zip is the app
and its other dependencies, and only `RouteEinvoices` unpacks Saxon (to /opt/python, on
the runtime's sys.path).

The layer's wheels are installed as deployment.zip's are (`infra.target`: the target's
platform, the versions tested here), then zipped under `python/`. The zip is cached in
.chalice/deployments/ (beside Chalice's own), named by a digest of what it is built
from, and copied into the package's directory, where `aws cloudformation package`
uploads it (ContentUri) as it does deployment.zip (CodeUri).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from infra.roles import role_with_policy
from infra.target import (
    TARGET_ARCHITECTURE,
    TARGET_RUNTIME,
    install_target_wheels,
    runtime_constraints,
)

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements-validation.txt"
LAYER_ID = "ValidationLayer"
LAYER_ZIP = "validation-layer.zip"
# The functions that validate e-invoices (chalicelib/jobs: route_einvoices).
LAYER_FUNCTIONS = ("RouteEinvoices",)
CACHE = ROOT / ".chalice" / "deployments"
# A zip's entries carry this date, so the same wheels make the same bytes.
FIXED_DATE = (2020, 1, 1, 0, 0, 0)


def layer_digest(requirements: Path = REQUIREMENTS) -> str:
    """What the layer is built from: its requirements, the pins tested here, the recipe."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update("\n".join(runtime_constraints()).encode())
    digest.update(Path(__file__).read_bytes())
    digest.update((ROOT / "infra" / "target.py").read_bytes())
    return digest.hexdigest()[:16]


def build_layer(outdir: Path, requirements: Path = REQUIREMENTS, cache: Path = CACHE) -> Path:
    """OUTDIR/validation-layer.zip, from the cache when its sources have not changed."""
    cached = cache / f"validation-layer-{layer_digest(requirements)}.zip"
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            site = Path(tmp) / "python"
            install_target_wheels(requirements, site)
            partial = cache / f"{cached.name}.{os.getpid()}.partial"
            zip_tree(site, partial, prefix="python")
            os.replace(partial, cached)  # whole or absent, for a builder running beside
        for stale in cache.glob("validation-layer-*.zip"):
            if stale != cached:
                stale.unlink()
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / LAYER_ZIP
    shutil.copyfile(cached, target)
    return target


def zip_tree(source: Path, target: Path, prefix: str) -> None:
    """`source`'s files under `prefix/`, sorted, dated FIXED_DATE, modes kept."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{prefix}/{path.relative_to(source).as_posix()}", FIXED_DATE)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def layer_resource() -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::LayerVersion",
        "Properties": {
            "Description": "SaxonC-HE: the XSLT 2.0 engine of the e-invoice validation",
            "ContentUri": f"./{LAYER_ZIP}",
            "CompatibleRuntimes": [TARGET_RUNTIME],
            "CompatibleArchitectures": [TARGET_ARCHITECTURE],
            "RetentionPolicy": "Delete",
        },
    }


# The API has no validator: a resend asked for over it starts RouteEinvoices at once
# (`adapters/function_trigger.py`), which the API's role may invoke, and nothing else.
STARTERS = ("APIHandler",)
ROUTER_ENV_VAR = "EINVOICE_ROUTER_FUNCTION"


def starter_overlay(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """The function name for STARTERS, and the right to invoke it for their roles (added
    to the policies `overlay` already gives each role, else Chalice's)."""
    resources = base.get("Resources", {})
    found: dict[str, Any] = {}
    target = LAYER_FUNCTIONS[0]
    if target not in resources:
        return found
    statement = {
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        "Resource": [{"Fn::GetAtt": [target, "Arn"]}],
    }
    for fid in (f for f in STARTERS if f in resources):
        variables = {ROUTER_ENV_VAR: {"Ref": target}}
        found[fid] = {"Properties": {"Environment": {"Variables": variables}}}
        granted = role_with_policy(resources, overlay, fid, "StartRouteEinvoices", statement)
        if granted is not None:
            found[granted[0]] = granted[1]
    return found


def layer_overlay(function_ids: list[str]) -> dict[str, Any]:
    """The layer, and the functions of LAYER_FUNCTIONS pointed at it (a missing one is a
    packaging error: see `infra.package.template_problems`)."""
    overlay: dict[str, Any] = {LAYER_ID: layer_resource()}
    for fid in LAYER_FUNCTIONS:
        if fid in function_ids:
            overlay[fid] = {"Properties": {"Layers": [{"Ref": LAYER_ID}]}}
    return overlay
