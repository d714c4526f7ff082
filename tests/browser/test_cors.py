"""The browser enforces the API's CORS policy: the page's own origin is allowed,
a page served from any other origin has its API calls refused by the browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.pages import BookingPage
from tests.e2e.conftest import Stack
from tools.web_server import WebServer, page_config, start_web_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


@pytest.fixture
def foreign_page(web_stack: Stack) -> Iterator[WebServer]:
    """The same page and config, served from an origin the API does not allow."""
    stripe = f"http://127.0.0.1:{web_stack.ports['STRIPE_PORT']}"
    server = start_web_server(0, page_config(web_stack.base_url, stripe))
    yield server
    server.stop()


def test_page_on_its_own_origin_reads_the_api(booking_page: BookingPage) -> None:
    booking_page.open()

    suggestions = booking_page.page.locator("#lieux option")
    suggestions.first.wait_for(state="attached")

    assert suggestions.count() > 10
    assert booking_page.alert() == ""


def test_page_on_a_non_allowed_origin_is_refused_by_the_browser(
    browser_context: Any, foreign_page: WebServer, web_stack: Stack
) -> None:
    page = BookingPage(browser_context.new_page(), foreign_page.url).open()

    page.page.get_by_text("Impossible de joindre l’API").wait_for()

    assert any("blocked by CORS policy" in line for line in page.console), page.console
    assert web_stack.get("/v1/relays").status_code == 200  # the API itself is up
