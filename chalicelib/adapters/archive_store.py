"""Closing archives in S3, each under its own hash (so none is ever overwritten), and the
files of asynchronous exports (written by multipart upload, adapters/s3_upload).

The boto3 client is built on first use. Locally (moto's server) the bucket is created
on first write; in AWS the stack creates it.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from chalicelib.adapters.s3_upload import S3Upload

PRESIGN_SECONDS = 15 * 60
# The bucket's lifecycle deletes `exports/` objects this many days after they were
# written (S3 rounds up to the next midnight UTC: never earlier). infra/package.py sets
# the rule; tests/integration/test_export_files.py checks both say the same.
EXPORT_FILES_DAYS = 7
_MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "AccessDenied", "404"})


class ArchiveStore:
    def __init__(self, bucket: str, region: str, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self._region = region
        self._endpoint_url = endpoint_url

    @cached_property
    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
        return boto3.client(
            "s3", region_name=self._region, endpoint_url=self._endpoint_url, config=config
        )

    @staticmethod
    def key(operator_id: str, period: str, sha256_hex: str) -> str:
        return f"archives/{operator_id}/{period}/{sha256_hex}.zip"

    def get(self, key: str) -> bytes | None:
        """The object's bytes; None when it is missing (without `s3:ListBucket`, S3
        answers a missing key with AccessDenied)."""
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        body: bytes = response["Body"].read()
        return body

    def put(self, key: str, body: bytes, sha256_hex: str) -> None:
        try:
            self._put(key, body, sha256_hex)
        except self.client.exceptions.NoSuchBucket:
            self._create_bucket()
            self._put(key, body, sha256_hex)

    def _put(self, key: str, body: bytes, sha256_hex: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/zip",
            Metadata={"sha256": sha256_hex},
        )

    def _create_bucket(self) -> None:
        self.client.create_bucket(
            Bucket=self.bucket,
            CreateBucketConfiguration={"LocationConstraint": self._region},
        )

    def presigned_url(self, key: str, download_as: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        if download_as:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_as}"'
        url: str = self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=PRESIGN_SECONDS
        )
        return url

    def upload(self, key: str, content_type: str) -> S3Upload:
        """A multipart upload to `key`, written as a file (see adapters/s3_upload)."""
        try:
            return S3Upload(self.client, self.bucket, key, content_type)
        except self.client.exceptions.NoSuchBucket:
            self._create_bucket()
            return S3Upload(self.client, self.bucket, key, content_type)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)
