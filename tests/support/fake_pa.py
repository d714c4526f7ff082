"""The fake accredited platform of tools/fake_pa.py, validating with the test copies of
the official artefacts (tests/data/einvoicing/), so the app's own validator is not what
judges the app's files."""

from __future__ import annotations

from collections.abc import Iterable

from tests.support.einvoicing import cii_failures, flux10_failures
from tools.fake_pa import CLIENT_ID, CLIENT_SECRET, TOKEN
from tools.fake_pa import FakePlatform as _FakePlatform

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "TOKEN", "FakePlatform"]


def _test_checks(syntax: str, content: bytes) -> list[str]:
    return cii_failures(content) if syntax == "CII" else flux10_failures(content)


class FakePlatform(_FakePlatform):
    def __init__(self, auto_statuses: Iterable[str] = ()) -> None:
        super().__init__(validate=_test_checks, auto_statuses=auto_statuses)
