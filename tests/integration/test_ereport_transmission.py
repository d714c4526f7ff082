"""E-reporting files go to the accredited platform (a fake one on loopback, AFNOR flow API
shape): once, idempotently, kept for later when it is down, marked when it refuses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.adapters.pa_client import FlowClient, PlatformAccount, PlatformAuthFailed
from chalicelib.services.context import Context
from chalicelib.services.ereport_transmission import transmit_ereports
from tests.integration.test_ereporting import month_end, platform, run_job, sold  # noqa: F401
from tests.support.api import Api
from tests.support.fake_pa import CLIENT_ID, CLIENT_SECRET, FakePlatform


@pytest.fixture
def fake_pa(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatform]:
    fake = FakePlatform()
    for name, value in {
        "ereporting_platform_url": fake.url,
        "ereporting_platform_token_url": f"{fake.url}/token",
        "ereporting_platform_client_id": CLIENT_ID,
        "ereporting_platform_client_secret": CLIENT_SECRET,
    }.items():
        monkeypatch.setattr(ctx.settings, name, value)
    yield fake
    fake.close()


def statuses(ctx: Context, operator_id: str) -> list[tuple[str, str]]:
    return sorted((r["kind"], r["status"]) for r in ctx.ereports.all(operator_id))


def test_the_job_submits_each_file_as_one_flow(
    api: Api,
    admin: str,
    ctx: Context,
    network: dict,
    sold: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,
) -> None:
    result = run_job(api, admin, month_end(sold["day"]))
    assert (result["produced"], result["submitted"]) == (2, 2)
    assert statuses(ctx, network["operator"]) == [
        ("payments", "submitted"),
        ("transactions", "submitted"),
    ]
    assert {f["flowSyntax"] for f in fake_pa.flows.values()} == {"FRR"}


def test_a_platform_outage_leaves_files_to_send_on_the_next_run(
    api: Api,
    admin: str,
    ctx: Context,
    network: dict,
    sold: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,
) -> None:
    fake_pa.failures = [503, 503]
    assert run_job(api, admin, month_end(sold["day"]))["waiting"] == 2
    assert run_job(api, admin, month_end(sold["day"]))["submitted"] == 2
    assert len(fake_pa.flows) == 2


def test_a_flow_sent_again_after_a_lost_answer_is_the_same_flow(
    ctx: Context,
    network: dict,
    api: Api,
    admin: str,
    sold: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,
) -> None:
    run_job(api, admin, month_end(sold["day"]))
    (report, *_) = ctx.ereports.all(network["operator"])
    client = FlowClient(
        PlatformAccount(fake_pa.url, f"{fake_pa.url}/token", CLIENT_ID, CLIENT_SECRET)
    )
    again = client.submit_flow(
        tracking_id=report["id"],
        name="again.xml",
        syntax="FRR",
        processing_rule="B2C",
        content=report["xml"].encode(),
    )
    assert again["flowId"] == report["transmission"]["flow_id"]
    assert len(fake_pa.flows) == 2


def test_a_refused_file_is_marked_rejected_with_the_platform_answer(
    api: Api,
    admin: str,
    ctx: Context,
    network: dict,
    sold: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,
) -> None:
    fake_pa.failures = [400]
    run_job(api, admin, month_end(sold["day"]))
    rejected = [r for r in ctx.ereports.all(network["operator"]) if r["status"] == "rejected"]
    assert [r["transmission"]["status"] for r in rejected] == [400]
    assert transmit_ereports(ctx) == {"submitted": 0, "rejected": 0, "waiting": 0}


def test_a_token_refused_with_a_400_is_an_authentication_failure_not_a_rejection() -> None:
    """OAuth2 (RFC 6749, 5.2) answers a bad client with 400 `invalid_client` as often as
    401: either means our credentials, never that the platform refused the document."""

    class TokenRefused(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = b'{"error": "invalid_client"}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenRefused)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        client = FlowClient(PlatformAccount(url, f"{url}/token", CLIENT_ID, "wrong"))
        with pytest.raises(PlatformAuthFailed):
            client.submit_flow(
                tracking_id="r-1", name="r.xml", syntax="FRR", processing_rule="B2C", content=b"x"
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
