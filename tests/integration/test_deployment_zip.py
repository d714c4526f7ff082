"""The built deployment.zip runs on the Lambda target (python3.13, arm64), whatever
interpreter built it, and fits Lambda's size limits; so does the validation layer (Saxon),
which only the route_einvoices function unpacks."""

from __future__ import annotations

import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.layers import LAYER_ZIP
from infra.target import BUILD_ONLY_SUFFIXES, TARGET_GLIBC
from tests.support.packaged import packaged_app

# Lambda: 50 MB for a zip uploaded directly, 250 MB unzipped, a function's layers included
# (whatever the upload path; infra.deploy uploads through S3). Both zips stay under 50 MB:
# SaxonC-HE alone is ~38 MB zipped, which is why it has a layer of its own.
ZIPPED_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024
EM_AARCH64 = 183  # ELF e_machine
SHARED_OBJECT = re.compile(r"\.so(\.[0-9.]+)?$")
MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_aarch64$")


@dataclass(frozen=True)
class Wheel:
    dist_info: str
    tags: tuple[str, ...]
    files: frozenset[str]


@pytest.fixture(scope="module")
def archive() -> zipfile.ZipFile:
    packaged = packaged_app("dev")
    assert packaged.result.returncode == 0, packaged.output()
    return zipfile.ZipFile(packaged.zip_path)


@pytest.fixture(scope="module")
def layer() -> zipfile.ZipFile:
    packaged = packaged_app("dev")
    assert packaged.result.returncode == 0, packaged.output()
    return zipfile.ZipFile(packaged.template_path.parent / LAYER_ZIP)


def _wheels(archive: zipfile.ZipFile) -> list[Wheel]:
    wheels = []
    for name in archive.namelist():
        if not name.endswith(".dist-info/WHEEL"):
            continue
        dist_info = name.rsplit("/", 1)[0]
        text = archive.read(name).decode()
        tags = tuple(
            line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")
        )
        record = archive.read(f"{dist_info}/RECORD").decode()
        files = frozenset(line.split(",", 1)[0] for line in record.splitlines() if line)
        wheels.append(Wheel(dist_info, tags, files))
    return wheels


def _fits_target(tag: str) -> bool:
    """cp313-cp313 or cp3x-abi3 (x <= 13), built for glibc <= 2.34 on aarch64."""
    interpreter, abi, platform = tag.split("-")
    if abi == "abi3":
        python_ok = (
            re.fullmatch(r"cp3(\d+)", interpreter) is not None and int(interpreter[3:]) <= 13
        )
    else:
        python_ok = (interpreter, abi) == ("cp313", "cp313")
    if platform == "manylinux2014_aarch64":
        return python_ok
    match = MANYLINUX.match(platform)
    return python_ok and match is not None and (int(match[1]), int(match[2])) <= TARGET_GLIBC


def _owners(archive: zipfile.ZipFile) -> dict[str, Wheel]:
    owners = {}
    for wheel in _wheels(archive):
        for path in wheel.files:
            owners[path] = wheel
    return owners


def test_every_compiled_extension_comes_from_a_wheel_built_for_cp313_on_aarch64(
    archive: zipfile.ZipFile,
) -> None:
    owners = _owners(archive)
    compiled = [n for n in archive.namelist() if SHARED_OBJECT.search(n)]
    unfit: dict[str, list[str]] = defaultdict(list)

    assert compiled, "no compiled extension at all: is the zip complete?"
    for name in compiled:
        wheel = owners.get(name)
        if wheel is None:
            unfit["(no wheel)"].append(name)
        elif not any(_fits_target(tag) for tag in wheel.tags):
            unfit[f"{wheel.dist_info} {wheel.tags}"].append(name)
    assert not unfit, dict(unfit)


def test_python_extensions_are_named_for_cpython_3_13_on_aarch64_or_the_stable_abi(
    archive: zipfile.ZipFile,
) -> None:
    extensions = [n for n in archive.namelist() if n.endswith(".so") and ".libs/" not in n]
    wrong = [
        n for n in extensions if not n.endswith((".cpython-313-aarch64-linux-gnu.so", ".abi3.so"))
    ]

    assert extensions
    assert wrong == []


def test_every_shared_object_is_an_aarch64_elf(archive: zipfile.ZipFile) -> None:
    machines = {}
    for name in archive.namelist():
        if SHARED_OBJECT.search(name):
            header = archive.read(name)[:20]
            machines[name] = (
                int.from_bytes(header[18:20], "little") if header[:4] == b"\x7fELF" else -1
            )

    assert machines
    assert {n: m for n, m in machines.items() if m != EM_AARCH64} == {}


def test_no_wheel_in_the_zip_was_built_for_another_platform(archive: zipfile.ZipFile) -> None:
    platform_specific = [w for w in _wheels(archive) if not all(t.endswith("-any") for t in w.tags)]

    assert platform_specific  # pydantic-core, cryptography, lxml, Pillow...
    assert [
        w.dist_info for w in platform_specific if not any(_fits_target(t) for t in w.tags)
    ] == []


def test_the_zip_holds_the_app_and_chalice_runtime_but_no_bytecode_of_another_python(
    archive: zipfile.ZipFile,
) -> None:
    names = set(archive.namelist())

    assert {"app.py", "chalice/app.py", "chalicelib/config.py"} <= names
    assert [n for n in names if n.endswith(".pyc")] == []
    # AND not the AWS SDK, which the runtime provides (aws-xray-sdk depends on botocore)
    assert {n.split("/")[0] for n in names} & {"boto3", "botocore", "s3transfer"} == set()
    assert "aws_xray_sdk/core/__init__.py" in names


def test_the_zip_holds_no_sources_headers_or_stubs_of_compiled_extensions(
    archive: zipfile.ZipFile,
) -> None:
    build_only = [n for n in archive.namelist() if Path(n).suffix in BUILD_ONLY_SUFFIXES]
    assert build_only == []
    # AND the compiled extensions built from such sources are there
    assert any(n.startswith("lxml/etree.cpython-313-aarch64") for n in archive.namelist())


def test_the_zip_fits_lambda_size_limits(archive: zipfile.ZipFile, layer: zipfile.ZipFile) -> None:
    packaged = packaged_app("dev")
    zipped = packaged.zip_path.stat().st_size
    layer_zipped = (packaged.template_path.parent / LAYER_ZIP).stat().st_size
    unzipped = sum(info.file_size for info in archive.infolist())
    layer_unzipped = sum(info.file_size for info in layer.infolist())

    assert zipped < ZIPPED_LIMIT, f"{zipped / 1e6:.1f} MB zipped"
    assert layer_zipped < ZIPPED_LIMIT, f"{layer_zipped / 1e6:.1f} MB zipped"
    # the function that validates unpacks both
    assert unzipped + layer_unzipped < UNZIPPED_LIMIT, f"{unzipped / 1e6:.1f} MB + layer"


def test_saxon_is_in_the_validation_layer_only_built_for_the_target(
    archive: zipfile.ZipFile, layer: zipfile.ZipFile
) -> None:
    assert not [n for n in archive.namelist() if n.startswith("saxonche")]
    names = layer.namelist()
    # Lambda puts a layer's python/ on sys.path (/opt/python)
    assert {n.split("/")[0] for n in names} == {"python"}
    assert "python/saxonche.cpython-313-aarch64-linux-gnu.so" in names
    (wheel,) = _wheels(layer)
    assert wheel.dist_info.startswith("python/saxonche-")
    assert any(_fits_target(tag) for tag in wheel.tags)
    compiled = [n for n in names if SHARED_OBJECT.search(n)]
    assert compiled
    assert all(int.from_bytes(layer.read(n)[18:20], "little") == EM_AARCH64 for n in compiled)


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("cp313-cp313-manylinux_2_17_aarch64", True),
        ("cp313-cp313-manylinux2014_aarch64", True),
        ("cp311-abi3-manylinux_2_34_aarch64", True),
        ("cp313-cp313-manylinux_2_35_aarch64", False),
        ("cp311-cp311-manylinux_2_17_aarch64", False),
        ("cp313-cp313-manylinux_2_17_x86_64", False),
        ("cp314-abi3-manylinux_2_17_aarch64", False),
    ],
)
def test_tag_check_accepts_only_the_target(tag: str, fits: bool) -> None:
    assert _fits_target(tag) is fits
