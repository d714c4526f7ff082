"""Browser tests: Debian's Chromium, driven by Playwright, on the page `make run` serves.

The stack is the real `make run` on free ports (tests/e2e/conftest.py `start_stack`),
so the page comes from its own origin (WEB_PORT) and every API call is a real CORS
request. Chromium is `/usr/bin/chromium` (Debian's package; never `playwright install`).
Without it the tests are skipped with the reason, except in CI (CI=true) where they fail.
Each test module is marked `xdist_group("browser")` so that they share one worker
(one stack, one browser) under `make test` (`--dist loadgroup`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.pages import ACTION_TIMEOUT_MS, BookingPage
from tests.e2e.conftest import Stack, start_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
]
PHONE = {"width": 390, "height": 844}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session."""
    if not CHROMIUM.is_file():
        _unavailable(f"Debian's Chromium is not installed ({CHROMIUM}): apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def web_stack(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`make run` with the demo network (started after Chromium is known to be there)."""
    stack = start_stack(tmp_path_factory.mktemp("browser-local"))
    yield stack
    stack.stop()


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    """A fresh profile the size of a phone, downloads accepted."""
    context = chromium.new_context(accept_downloads=True, locale="fr-FR", viewport=PHONE)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def booking_page(browser_context: Any, web_stack: Stack) -> BookingPage:
    return BookingPage(browser_context.new_page(), web_stack.web_url)
