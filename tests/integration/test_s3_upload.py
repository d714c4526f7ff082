"""Files written into S3 part by part: whole when completed, absent when aborted."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.archive_store import ArchiveStore
from chalicelib.adapters.s3_upload import PART_SIZE

BUCKET = "relais-test-exports"


@pytest.fixture
def store() -> Iterator[ArchiveStore]:
    with mock_aws():
        yield ArchiveStore(BUCKET, "eu-west-3")


def test_a_file_larger_than_a_part_is_whole_and_hashed(store: ArchiveStore) -> None:
    block = bytes(range(256)) * 4096  # 1 MiB
    with store.upload("exports/x/1/big.bin", "application/octet-stream") as upload:
        for _ in range(PART_SIZE // len(block) + 3):  # a full part and a short one
            upload.write(block)
        size, digest = upload.complete()
    data = store.get("exports/x/1/big.bin")
    assert data is not None and (size, digest) == (len(data), hashlib.sha256(data).hexdigest())
    assert size > PART_SIZE


def test_an_empty_file_is_an_empty_object(store: ArchiveStore) -> None:
    with store.upload("exports/x/1/empty.txt", "text/plain") as upload:
        assert upload.complete() == (0, hashlib.sha256(b"").hexdigest())
    assert store.get("exports/x/1/empty.txt") == b""


def test_an_error_while_writing_leaves_no_object(store: ArchiveStore) -> None:
    with pytest.raises(RuntimeError), store.upload("exports/x/1/half.txt", "text/plain") as upload:
        upload.write(b"half a file")
        raise RuntimeError("the producer failed")
    assert store.get("exports/x/1/half.txt") is None
    uploads = store.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert uploads == []


def test_a_zip_is_written_without_seeking(store: ArchiveStore) -> None:
    with store.upload("exports/x/1/files.zip", "application/zip") as upload:
        with zipfile.ZipFile(upload, "w") as files:  # type: ignore[arg-type]
            files.writestr("a.txt", "première")
            files.writestr("b.txt", "seconde")
        upload.complete()
    data = store.get("exports/x/1/files.zip") or b""
    assert zipfile.ZipFile(io.BytesIO(data)).read("a.txt").decode() == "première"


def test_the_bucket_is_made_on_first_upload_locally(store: ArchiveStore) -> None:
    client = boto3.client("s3", region_name="eu-west-3")
    assert BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]
    with store.upload("exports/x/1/f.txt", "text/plain") as upload:
        upload.write(b"x")
        upload.complete()
    assert BUCKET in [b["Name"] for b in client.list_buckets()["Buckets"]]
