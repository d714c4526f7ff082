"""The real app packaged once (`python -m infra.package`), for the template and
deployment-zip tests. On a cold cache this downloads the target wheels.

The package is kept under `build/test-package/`, named by a digest of everything it is
built from (app, chalicelib, infra, Chalice config, requirements): the test processes of
one run (pytest -n 2) build it once, and a later run with the same sources reuses it."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.package import ROOT

REGION = "eu-west-3"


@dataclass(frozen=True)
class Packaged:
    result: subprocess.CompletedProcess[str]
    template_path: Path
    template: dict[str, Any]

    @property
    def zip_path(self) -> Path:
        return self.template_path.parent / "deployment.zip"

    def output(self) -> str:
        return f"stdout:\n{self.result.stdout}\nstderr:\n{self.result.stderr}"

    def resources_of_type(self, rtype: str) -> dict[str, Any]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == rtype}


SOURCES = (
    "app.py",
    "requirements.txt",
    "requirements-validation.txt",
    ".chalice/config.json",
    ".chalice/policy.json",
    "chalicelib",
    "infra",
)


def sources_digest(stage: str) -> str:
    """SHA-256 over the path and bytes of every file the package is built from."""
    digest = hashlib.sha256(f"{stage} {REGION} {sys.version_info[:2]}".encode())
    for source in SOURCES:
        path = ROOT / source
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0")
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def packaged_app(stage: str = "dev") -> Packaged:
    if not (ROOT / "app.py").exists():
        raise AssertionError("app.py is missing at the repository root: nothing to package")
    outdir = ROOT / "build" / "test-package" / f"{stage}-{sources_digest(stage)}"
    lock_path = ROOT / "build" / ".package.lock"
    lock_path.parent.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "infra.package", str(outdir), "--region", REGION]
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others reuse its output
        for stale in outdir.parent.glob(f"{stage}-*"):
            if stale != outdir:  # packages of older sources: ~75 MB each
                shutil.rmtree(stale, ignore_errors=True)
        done = outdir / "result.json"
        if done.exists():
            saved = json.loads(done.read_text())
            result = subprocess.CompletedProcess(command, 0, saved["stdout"], saved["stderr"])
        else:
            result = subprocess.run(
                [*command, "--stage", stage],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode == 0:
                done.write_text(json.dumps({"stdout": result.stdout, "stderr": result.stderr}))
    template_path = outdir / "sam.json"
    if not template_path.exists():
        raise AssertionError(f"no template was written\n{result.stdout}\n{result.stderr}")
    return Packaged(result, template_path, json.loads(template_path.read_text()))
