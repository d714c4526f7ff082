"""Local S3 for closing archives and exports: moto's server on 127.0.0.1."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.local_stack import (
    LocalProcess,
    LocalStackError,
    _moto_command,
    aws_env,
    ensure_port_free,
    spawn,
)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer: the server is up
    except OSError:
        return False


def start_local_s3(
    port: int, *, log_path: Path | None = None, timeout: float = 30.0
) -> LocalProcess:
    """moto's server on 127.0.0.1:`port` (data in memory: archives are lost when it stops)."""
    ensure_port_free(port, "local S3")
    url = f"http://127.0.0.1:{port}"
    process = spawn("s3", _moto_command(port), url=url, env=aws_env(), log_path=log_path)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(url):
            if not process.running():
                raise LocalStackError(f"local S3 exited early:\n{process.log_tail()}")
            if time.monotonic() > deadline:
                raise LocalStackError(f"local S3 did not answer within {timeout:.0f}s")
            time.sleep(0.2)
    except BaseException:
        process.stop()
        raise
    return process
