"""`make run` seals a closing archive in its local S3 and the link downloads it."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.conftest import Stack
from tests.support.api import operator_body

pytestmark = pytest.mark.e2e


def test_closed_month_archive_downloads_from_the_local_s3(
    stack_factory: Callable[..., Stack],
) -> None:
    # GIVEN `make run` and an operator whose books started last month
    stack = stack_factory(seed=False)
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    admin = stack.token("e2e-admin", "admin")
    try:
        body = operator_body(accounting_start=last_month)
        operator = stack.post("/v1/operators", token=admin, json=body).json()
        # WHEN last month is closed and its archive asked for
        closed = stack.post(
            f"/v1/operators/{operator['id']}/periods/{last_month}/close", token=admin, json={}
        )
        link = stack.get(
            f"/v1/operators/{operator['id']}/periods/{last_month}/archive", token=admin
        )
        download = requests.get(link.json()["url"], timeout=30)
    finally:
        stack.stop()

    # THEN the link serves the ZIP whose hash the period carries
    assert closed.status_code == 200, closed.text
    assert download.status_code == 200, download.text[:300]
    digest = hashlib.sha256(download.content).hexdigest()
    assert digest == link.json()["sha256"] == closed.json()["archive_sha256"]
