"""The deployment package: its size if `make package` built it, else how to build it.
Every function unpacks deployment.zip; only route_einvoices also unpacks the validation
layer (Saxon, infra/layers.py), so its total is the one to hold under Lambda's 250 MB."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from bench.stats import Row

ROOT = Path(__file__).resolve().parents[1]
ZIP = ROOT / "build" / "package" / "dev" / "deployment.zip"
LAYER = ZIP.with_name("validation-layer.zip")
SECTION = "deployment package (Lambda cold start reads it)"
LIMIT_MB = 50  # Lambda's limit for a zipped package uploaded directly
UNZIPPED_LIMIT_MB = 250  # a function and its layers, unzipped


def package_size(path: Path = ZIP, layer: Path = LAYER) -> list[Row]:
    if not path.is_file():
        return [Row(SECTION, "deployment.zip", "not built", "build it: make package (STAGE=dev)")]
    size, unzipped, files = _sizes(path)
    rows = [
        Row(
            SECTION,
            "deployment.zip, zipped (every function)",
            f"{size:.1f} MB",
            f"{os.path.relpath(path, ROOT)}; goal <= {LIMIT_MB} MB",
            figure=size,
            goal=LIMIT_MB,
        ),
        Row(
            SECTION,
            "deployment.zip, unzipped",
            f"{unzipped:.1f} MB",
            f"{files} files; limit {UNZIPPED_LIMIT_MB} MB with the function's layers",
        ),
    ]
    if layer.is_file():
        layer_size, layer_unzipped, _ = _sizes(layer)
        total = unzipped + layer_unzipped
        rows += [
            Row(
                SECTION,
                "validation-layer.zip, zipped (route_einvoices only)",
                f"{layer_size:.1f} MB",
                f"unzipped {layer_unzipped:.1f} MB; goal <= {LIMIT_MB} MB",
                figure=layer_size,
                goal=LIMIT_MB,
            ),
            Row(
                SECTION,
                "route_einvoices, code + layer unzipped",
                f"{total:.1f} MB",
                f"goal <= {UNZIPPED_LIMIT_MB} MB (Lambda's limit)",
                figure=total,
                goal=UNZIPPED_LIMIT_MB,
            ),
        ]
    return rows


def _sizes(path: Path) -> tuple[float, float, int]:
    """(zipped MB, unzipped MB, files) of a zip."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    return os.path.getsize(path) / 1e6, sum(i.file_size for i in infos) / 1e6, len(infos)
