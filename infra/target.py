"""`python -m infra.target CHALICE-ARGS…`: Chalice, packaging for the Lambda target.

Chalice takes the Lambda runtime from the interpreter that runs it and resolves the
dependencies with that interpreter (`pip download` for the local platform first, then
manylinux wheels). Relais develops on Python 3.11 but runs on `python3.13` / arm64, so
this entry point runs Chalice's own CLI with two substitutions:

- `Config.lambda_python_version` answers `TARGET_RUNTIME` whatever the local Python;
- `DependencyBuilder.build_site_packages` (Chalice's dependency step) is replaced by one
  `pip install --target` for the target platform, binary wheels only, constrained to
  the versions installed in the running environment (the versions the tests ran on).

Both are attributes of chalice==1.34.0 (pinned in requirements-dev.txt), as is the hash
that names Chalice's cached zip, which also takes this file's digest; `patch_chalice`
fails loudly if a Chalice upgrade removes them. Everything else (the zip layout, the
SAM template, the deployment cache in .chalice/deployments/) is Chalice's.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

TARGET_RUNTIME = "python3.13"
TARGET_PYTHON = "3.13"
TARGET_ABI = "cp313"
TARGET_ARCHITECTURE = "arm64"  # Lambda's name; wheels say aarch64
TARGET_MACHINE = "aarch64"
# The python3.13 runtime is Amazon Linux 2023: glibc 2.34. pip takes each --platform
# literally (no older manylinux implied for aarch64), so every accepted level is listed.
TARGET_GLIBC = (2, 34)
TARGET_PLATFORMS = (
    "manylinux2014_aarch64",
    *(f"manylinux_2_{minor}_aarch64" for minor in range(17, TARGET_GLIBC[1] + 1)),
)
# Console scripts and man pages are of no use in a Lambda function.
UNUSED_DIRS = ("bin", "share")
# The Lambda runtime provides the AWS SDK: a copy pulled in as a dependency (aws-xray-sdk
# requires botocore) would add ~15 MB to the zip and shadow the runtime's.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
# What compilers and type checkers read, never the runtime: the C/C++ and Cython sources
# and headers that some wheels ship beside their compiled extensions (fontTools, lxml,
# saxonche, wrapt...) and type stubs: ~13 MB of the 250 MB Lambda allows unzipped.
BUILD_ONLY_SUFFIXES = frozenset((".c", ".cpp", ".h", ".pyx", ".pxd", ".pxi", ".pyi"))


def runtime_constraints() -> list[str]:
    """`name==version` of every distribution installed here: the package gets what was tested."""
    pins = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            pins[name.lower()] = f"{name}=={dist.version}"
    return [pins[key] for key in sorted(pins)]


def pip_install_command(requirements: Path, target: Path, constraints: Path) -> list[str]:
    platforms = [arg for tag in TARGET_PLATFORMS for arg in ("--platform", tag)]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-warn-conflicts",
        "--no-compile",  # pyc of the local Python would be useless to 3.13
        "--target",
        str(target),
        *platforms,
        "--python-version",
        TARGET_PYTHON,
        "--implementation",
        "cp",
        "--abi",
        TARGET_ABI,
        "--abi",
        "abi3",
        "--abi",
        "none",
        "--only-binary=:all:",
        "--requirement",
        str(requirements),
        "--constraint",
        str(constraints),
    ]


def install_target_wheels(requirements: Path, target: Path) -> None:
    """Install `requirements` into `target` as the Lambda runtime would need them."""
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("\n".join(runtime_constraints()) + "\n")
        subprocess.run(pip_install_command(requirements, target, constraints), check=True)
    for unused in UNUSED_DIRS:
        shutil.rmtree(target / unused, ignore_errors=True)
    for name in RUNTIME_PROVIDED:
        shutil.rmtree(target / name, ignore_errors=True)
        for info in target.glob(f"{name}-*.dist-info"):
            shutil.rmtree(info)
    for path in [p for p in target.rglob("*") if p.suffix in BUILD_ONLY_SUFFIXES]:
        if path.is_file():
            path.unlink()


def _build_site_packages(
    builder: Any, abi: str, requirements_filepath: str, target_directory: str
) -> None:
    if abi != TARGET_ABI:
        raise RuntimeError(f"Chalice asked for {abi} wheels, the target is {TARGET_ABI}")
    install_target_wheels(Path(requirements_filepath), Path(target_directory))


def _recipe_digest() -> str:
    """This file's digest: how the dependencies are installed and pruned."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def patch_chalice() -> None:
    from chalice.config import Config
    from chalice.deploy.packager import BaseLambdaDeploymentPackager, DependencyBuilder

    for owner, name in (
        (Config, "lambda_python_version"),
        (DependencyBuilder, "build_site_packages"),
        (BaseLambdaDeploymentPackager, "_hash_project_dir"),
    ):
        if not hasattr(owner, name):
            raise RuntimeError(f"chalice changed: {owner.__name__}.{name} is gone")
    Config.lambda_python_version = property(lambda self: TARGET_RUNTIME)  # type: ignore[assignment,method-assign]
    DependencyBuilder.build_site_packages = _build_site_packages  # type: ignore[assignment,method-assign]
    # Chalice reuses a built zip (.chalice/deployments/) while requirements.txt and the
    # app's files are unchanged: a change of this recipe must build it again too.
    project_hash = BaseLambdaDeploymentPackager._hash_project_dir
    recipe = _recipe_digest()

    def hash_with_recipe(self: Any, *args: Any) -> str:
        return hashlib.md5((project_hash(self, *args) + recipe).encode()).hexdigest()

    BaseLambdaDeploymentPackager._hash_project_dir = hash_with_recipe  # type: ignore[assignment,method-assign]


def main(argv: Sequence[str] | None = None) -> int:
    patch_chalice()
    # Chalice warns that the local Python is not the runtime's: here that is the point.
    warnings.filterwarnings("ignore", message="You are currently running python")
    from chalice.cli import main as chalice_main

    sys.argv = ["chalice", *(sys.argv[1:] if argv is None else argv)]
    result: int = chalice_main()
    return result


if __name__ == "__main__":
    sys.exit(main())
