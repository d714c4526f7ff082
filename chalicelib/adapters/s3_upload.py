"""A file written straight into S3 by multipart upload, in bounded memory.

`S3Upload` is a write-only binary file (`write`, `tell`; no `seek`, so `zipfile` writes
with data descriptors): bytes are buffered up to one part (8 MiB, above S3's 5 MiB
minimum) and each full part is uploaded at once, so memory holds about one part
whatever the file's size. `complete()` finishes the upload and answers the size and
SHA-256 of everything written; `abort()` (or leaving the `with` block on an error)
drops the parts: S3 then holds no object, never a partial one.
"""

from __future__ import annotations

import hashlib
from types import TracebackType
from typing import Any

PART_SIZE = 8 * 1024 * 1024


class S3Upload:
    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        content_type: str,
        metadata: dict[str, str] | None = None,
        part_size: int = PART_SIZE,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self.key = key
        self._part_size = part_size
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._hash = hashlib.sha256()
        self._size = 0
        self._done = False
        answer = client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, Metadata=metadata or {}
        )
        self._upload_id: str = answer["UploadId"]

    def write(self, data: bytes) -> int:
        view = bytes(data)
        self._hash.update(view)
        self._size += len(view)
        self._buffer += view
        while len(self._buffer) >= self._part_size:
            self._send(bytes(self._buffer[: self._part_size]))
            del self._buffer[: self._part_size]
        return len(view)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        """Nothing to flush before `complete` (a part is sent only when full)."""

    def writable(self) -> bool:
        return True

    def _send(self, body: bytes) -> None:
        number = len(self._parts) + 1
        answer = self._client.upload_part(
            Bucket=self._bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self) -> tuple[int, str]:
        """(size, SHA-256 hex) of the object, now in S3 under `key`."""
        if self._buffer or not self._parts:  # the last part may be short (or empty)
            self._send(bytes(self._buffer))
            self._buffer.clear()
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self.key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self._done = True
        return self._size, self._hash.hexdigest()

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self.key, UploadId=self._upload_id
            )

    def __enter__(self) -> S3Upload:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.abort()
