"""The deployment package: its size if `make package` built it, else how to build it."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from bench.stats import Row

ROOT = Path(__file__).resolve().parents[1]
ZIP = ROOT / "build" / "package" / "dev" / "deployment.zip"
SECTION = "deployment package (Lambda cold start reads it)"
LIMIT_MB = 50  # Lambda's limit for a zipped package uploaded directly


def package_size(path: Path = ZIP) -> list[Row]:
    if not path.is_file():
        return [Row(SECTION, "deployment.zip", "not built", "build it: make package (STAGE=dev)")]
    size = os.path.getsize(path) / 1e6
    with zipfile.ZipFile(path) as archive:
        unzipped = sum(i.file_size for i in archive.infolist()) / 1e6
        files = len(archive.infolist())
    return [
        Row(
            SECTION,
            "deployment.zip, zipped",
            f"{size:.1f} MB",
            f"{path.relative_to(ROOT)}; goal <= {LIMIT_MB} MB",
            figure=size,
            goal=LIMIT_MB,
        ),
        Row(
            SECTION,
            "deployment.zip, unzipped",
            f"{unzipped:.1f} MB",
            f"{files} files; limit 250 MB",
        ),
    ]
