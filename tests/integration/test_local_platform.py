"""`make run`'s fake accredited platform (tools/fake_pa.py): validated with the app's own
validator, it plays a buyer's platform (201 Émise, 202 Reçue) so the routing job shows a
lifecycle locally; run_local points the operators at it unless a platform is named."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.services.context import Context
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_einvoice_routing import lifecycle, route
from tests.support.api import Api
from tools.fake_pa import FakePlatform
from tools.run_local import platform_env

SETTING_OF = {
    "EREPORTING_PLATFORM_URL": "ereporting_platform_url",
    "EREPORTING_PLATFORM_TOKEN_URL": "ereporting_platform_token_url",
    "EREPORTING_PLATFORM_CLIENT_ID": "ereporting_platform_client_id",
    "EREPORTING_PLATFORM_CLIENT_SECRET": "ereporting_platform_client_secret",
    "EREPORTING_PLATFORM_ID": "ereporting_platform_id",
    "EREPORTING_PLATFORM_NAME": "ereporting_platform_name",
}


@pytest.fixture
def local_platform(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatform]:
    platform = FakePlatform(auto_statuses=("201", "202"))
    for variable, value in platform_env(platform.url, environ={}).items():
        monkeypatch.setattr(ctx.settings, SETTING_OF[variable], value)
    yield platform
    platform.stop()
    assert not platform.running()


def test_the_local_platform_takes_invoices_and_answers_a_lifecycle(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    local_platform: FakePlatform,
) -> None:
    assert route(api, admin)["deposited"] == 1
    assert route(api, admin)["updated"] == 1
    history = lifecycle(api, admin, invoiced["id"])["history"]
    assert [h["code"] for h in history] == ["200", "201", "202"]


def test_run_local_leaves_a_named_platform_alone() -> None:
    assert (
        platform_env("http://127.0.0.1:9", environ={"EREPORTING_PLATFORM_URL": "https://pa"}) == {}
    )
    assert set(platform_env("http://127.0.0.1:9", environ={})) == set(SETTING_OF)
