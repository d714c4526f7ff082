"""The real app packaged once per test process (`python -m infra.package`), for the
template and deployment-zip tests. On a cold cache this downloads the target wheels."""

from __future__ import annotations

import fcntl
import functools
import json
import subprocess
import sys
import tempfile
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


@functools.cache
def packaged_app(stage: str = "dev") -> Packaged:
    if not (ROOT / "app.py").exists():
        raise AssertionError("app.py is missing at the repository root: nothing to package")
    outdir = Path(tempfile.mkdtemp(prefix=f"relais-package-{stage}-"))
    lock_path = ROOT / "build" / ".package.lock"
    lock_path.parent.mkdir(exist_ok=True)
    # Chalice writes its cached zip in .chalice/deployments/ in place: test processes
    # (pytest -n 2) take turns, and the second one reuses the first one's zip.
    command = [sys.executable, "-m", "infra.package", str(outdir), "--region", REGION]
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            [*command, "--stage", stage],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    template_path = outdir / "sam.json"
    if not template_path.exists():
        raise AssertionError(f"no template was written\n{result.stdout}\n{result.stderr}")
    return Packaged(result, template_path, json.loads(template_path.read_text()))
