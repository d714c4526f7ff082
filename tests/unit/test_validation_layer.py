"""The validation layer's zip (infra/layers.py): Saxon under `python/`, the same bytes
for the same wheels, built once per set of sources. The real build (target wheels) is
checked on the packaged app in tests/integration/test_deployment_zip.py."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra import layers


@pytest.fixture
def installs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Stands in for pip: writes a module and a shared object where it is asked to."""
    calls: list[Path] = []

    def install(requirements: Path, target: Path) -> None:
        calls.append(requirements)
        (target / "saxonche.libs").mkdir(parents=True)
        (target / "saxonche.cpython-313-aarch64-linux-gnu.so").write_bytes(b"\x7fELF")
        (target / "saxonche.libs" / "libsaxon.so").write_bytes(b"\x7fELF")
        (target / "saxonche.libs" / "libsaxon.so").chmod(0o755)

    monkeypatch.setattr(layers, "install_target_wheels", install)
    return calls


def test_the_layer_holds_the_wheels_under_python_with_their_modes(
    tmp_path: Path, installs: list[Path]
) -> None:
    built = layers.build_layer(tmp_path / "out", cache=tmp_path / "cache")

    assert built == tmp_path / "out" / layers.LAYER_ZIP
    with zipfile.ZipFile(built) as archive:
        assert sorted(archive.namelist()) == [
            "python/saxonche.cpython-313-aarch64-linux-gnu.so",
            "python/saxonche.libs/libsaxon.so",
        ]
        library = archive.getinfo("python/saxonche.libs/libsaxon.so")
        assert (library.external_attr >> 16) & 0o777 == 0o755
        assert library.date_time == layers.FIXED_DATE


def test_the_layer_is_built_once_per_set_of_sources_and_the_same_bytes_each_time(
    tmp_path: Path, installs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = layers.build_layer(tmp_path / "a", cache=cache).read_bytes()
    again = layers.build_layer(tmp_path / "b", cache=cache).read_bytes()
    assert (len(installs), again) == (1, first)  # from the cache

    requirements = tmp_path / "requirements-validation.txt"
    requirements.write_text("saxonche==99.0\n")  # another pin: another layer
    rebuilt = layers.build_layer(tmp_path / "c", requirements=requirements, cache=cache)

    assert len(installs) == 2
    assert rebuilt.read_bytes() == first  # the same wheels, the same bytes
    assert len(list(cache.glob("validation-layer-*.zip"))) == 1  # the stale one removed


def test_the_layer_is_made_for_the_lambda_target() -> None:
    properties = layers.layer_resource()["Properties"]

    assert properties["CompatibleRuntimes"] == ["python3.13"]
    assert properties["CompatibleArchitectures"] == ["arm64"]
    assert layers.layer_overlay(["APIHandler", "RouteEinvoices"]) == {
        layers.LAYER_ID: layers.layer_resource(),
        "RouteEinvoices": {"Properties": {"Layers": [{"Ref": layers.LAYER_ID}]}},
    }
