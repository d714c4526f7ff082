"""A period's sealed archive: a ZIP whose bytes depend only on the files put in it.

Entries are sorted by name and carry a fixed date (1980-01-01, the earliest a ZIP can
hold) and fixed permissions, so the same files always give the same ZIP and the same
SHA-256. `manifest.json` lists each file with its SHA-256 and size and names the
previous period's archive hash: each archive is chained to the one before.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

MANIFEST = "manifest.json"
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(
    operator_id: str, period: str, previous: str, files: dict[str, bytes]
) -> dict[str, Any]:
    return {
        "operator_id": operator_id,
        "period": period,
        "previous_archive_sha256": previous,
        "files": [
            {"name": name, "sha256": sha256(files[name]), "size": len(files[name])}
            for name in sorted(files)
        ],
    }


def seal(operator_id: str, period: str, previous: str, files: dict[str, bytes]) -> bytes:
    """The ZIP of `files` plus their manifest."""
    if MANIFEST in files:
        raise ValueError(f"{MANIFEST} is written by seal itself")
    listing = manifest(operator_id, period, previous, files)
    every = {**files, MANIFEST: json.dumps(listing, indent=2, sort_keys=True).encode() + b"\n"}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(every):
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, every[name], compresslevel=9)
    return out.getvalue()


def unseal(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(manifest, files) of an archive; `ValueError` if it is not one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = {name: archive.read(name) for name in archive.namelist()}
        listing = json.loads(files.pop(MANIFEST))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ValueError(f"not a closing archive: {exc}") from exc
    if not isinstance(listing, dict):
        raise ValueError("not a closing archive: the manifest is not an object")
    return listing, files


def broken_files(listing: dict[str, Any], files: dict[str, bytes]) -> list[str]:
    """The files that are missing, extra, or whose hash or size differ from the manifest."""
    listed = {f["name"]: f for f in listing.get("files", [])}
    broken = sorted(set(listed) ^ set(files))
    for name, data in files.items():
        entry = listed.get(name)
        if entry and (entry["sha256"] != sha256(data) or entry["size"] != len(data)):
            broken.append(name)
    return sorted(set(broken))
