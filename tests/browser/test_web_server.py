"""The page server of `make run` (no browser needed): files, config.js, origins."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tools.run_local import Settings, allowed_origins
from tools.web_server import WebServer, config_js, page_config, start_web_server

API, STRIPE = "http://127.0.0.1:8000", "http://127.0.0.1:8002"


@pytest.fixture
def server() -> Iterator[WebServer]:
    page = start_web_server(0, page_config(API, STRIPE, {"member": "jwt-member"}))
    yield page
    page.stop()


def test_config_js_points_the_page_at_the_api_and_localstripe_js(server: WebServer) -> None:
    answer = requests.get(server.url + "config.js", timeout=5)

    body = answer.text.removeprefix("window.RELAIS_CONFIG = ").rstrip().removesuffix(";")
    assert answer.headers["Content-Type"].startswith("text/javascript")
    assert json.loads(body) == {
        "apiBaseUrl": f"{API}/v1",
        "stripePublishableKey": "pk_test_relais_local",
        "stripeJsUrl": f"{STRIPE}/js.stripe.com/v3/",
        "local": True,
        "demoTokens": {"member": "jwt-member"},
    }


def test_config_js_cannot_close_a_script_element() -> None:
    assert b"</script>" not in config_js({"apiBaseUrl": "</script><script>alert(1)//"})


def test_page_and_modules_are_served_from_web(server: WebServer) -> None:
    page = requests.get(server.url, timeout=5)
    module = requests.get(server.url + "js/main.js", timeout=5)

    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert module.headers["Content-Type"].startswith("text/javascript")


def test_nothing_outside_web_is_served(server: WebServer) -> None:
    assert requests.get(server.url + "../README.md", timeout=5).status_code == 404
    assert requests.get(server.url + "%2e%2e/README.md", timeout=5).status_code == 404


def test_server_listens_on_loopback_only(server: WebServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")


def test_make_run_allows_the_page_origins_besides_the_given_ones() -> None:
    settings = Settings.from_env(
        {"WEB_PORT": "8103", "ALLOWED_ORIGINS": "https://relais.example, http://127.0.0.1:8103"}
    )

    assert allowed_origins(settings).split(",") == [
        "https://relais.example",
        "http://127.0.0.1:8103",
        "http://localhost:8103",
    ]
