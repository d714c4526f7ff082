"""Archives in a real S3 server (moto's, on loopback): stored, and downloadable by link."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from chalicelib.adapters.archive_store import ArchiveStore
from chalicelib.domain.archive import seal, sha256
from tools.local_s3 import start_local_s3
from tools.local_stack import free_port


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    process = start_local_s3(free_port())
    try:
        yield process.url
    finally:
        process.stop()


@pytest.fixture
def archives(s3_url: str) -> ArchiveStore:
    return ArchiveStore("relais-archives-test", "eu-west-3", s3_url)


def test_presigned_link_downloads_the_archive_byte_for_byte(archives: ArchiveStore) -> None:
    data = seal("op_1", "2026-10", "0" * 64, {"FEC-2026-10.txt": b"JournalCode|...\r\n"})
    key = archives.key("op_1", "2026-10", sha256(data))
    archives.put(key, data, sha256(data))
    with urllib.request.urlopen(archives.presigned_url(key), timeout=10) as answer:
        assert answer.read() == data


def test_a_missing_archive_reads_as_none(archives: ArchiveStore) -> None:
    assert archives.get("archives/op_1/1999-01/none.zip") is None
