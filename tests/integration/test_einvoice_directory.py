"""The buyer's electronic address (BT-49) from the platform's directory, looked up by
SIREN before a B2B invoice is deposited, kept with its date; unknown in the directory
(or the directory unreachable): BT-49 stays the SIREN, as before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.adapters.clock import FixedClock
from chalicelib.services.context import Context
from chalicelib.services.directory import buyer_address
from chalicelib.services.platform import platform_for
from tests.integration.test_companies import (  # noqa: F401 (fixtures)
    COMPANY_SIREN,
    alice,
    bob,
    company,
    company_hooks,
    december,
    invoiced,
)
from tests.integration.test_einvoice_routing import lifecycle, route
from tests.integration.test_ereport_transmission import fake_pa  # noqa: F401
from tests.support.api import Api
from tests.support.einvoicing import cii_failures
from tests.support.fake_pa import FakePlatform

ADDRESS = f"{COMPANY_SIREN}_FACTURES"


def sent_cii(platform: FakePlatform, invoice_id: str) -> bytes:
    return platform.contents[invoice_id]


def test_a_buyer_known_in_the_directory_gets_its_address_in_the_cii(
    api: Api,
    admin: str,
    ctx: Context,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    fake_pa.directory[COMPANY_SIREN] = ADDRESS

    assert route(api, admin)["deposited"] == 1

    xml = sent_cii(fake_pa, invoiced["id"])
    assert f'schemeID="0225">{ADDRESS}<'.encode() in xml  # BT-49
    assert cii_failures(xml) == []
    kept = ctx.directory.get(COMPANY_SIREN)
    assert kept is not None
    assert (kept["address"], kept["looked_up_on"]) == (ADDRESS, clock.moment.date().isoformat())
    assert fake_pa.lookups == [COMPANY_SIREN]
    assert lifecycle(api, admin, invoiced["id"])["status"] == "200"
    # the issued document never changes: its own XML keeps what it was issued with
    assert api.get(f"/v1/invoices/{invoiced['id']}", token=admin).json == invoiced


def test_the_address_is_kept_for_a_month_then_asked_again(
    ctx: Context,
    clock: FixedClock,
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    fake_pa.directory[COMPANY_SIREN] = ADDRESS
    platform = platform_for(ctx, "any")
    assert buyer_address(ctx, platform, COMPANY_SIREN) == ADDRESS
    clock.moment += timedelta(days=29)
    assert buyer_address(ctx, platform, COMPANY_SIREN) == ADDRESS
    assert fake_pa.lookups == [COMPANY_SIREN]  # from the cache
    fake_pa.directory[COMPANY_SIREN] = f"{COMPANY_SIREN}_COMPTA"  # moved meanwhile
    clock.moment += timedelta(days=1)
    assert buyer_address(ctx, platform, COMPANY_SIREN) == f"{COMPANY_SIREN}_COMPTA"
    assert len(fake_pa.lookups) == 2


def test_a_buyer_unknown_in_the_directory_keeps_its_siren_and_is_asked_again_in_a_week(
    api: Api,
    admin: str,
    ctx: Context,
    clock: FixedClock,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    assert route(api, admin)["deposited"] == 1
    assert f'schemeID="0225">{COMPANY_SIREN}<'.encode() in sent_cii(fake_pa, invoiced["id"])
    kept = ctx.directory.get(COMPANY_SIREN)
    assert kept is not None and "address" not in kept  # known to be unknown, with its date

    platform = platform_for(ctx, "any")
    clock.moment += timedelta(days=6)
    assert buyer_address(ctx, platform, COMPANY_SIREN) is None
    assert fake_pa.lookups == [COMPANY_SIREN]
    fake_pa.directory[COMPANY_SIREN] = ADDRESS  # registered since
    clock.moment += timedelta(days=1)
    assert buyer_address(ctx, platform, COMPANY_SIREN) == ADDRESS


def test_a_directory_outage_never_holds_the_invoice_back(
    api: Api,
    admin: str,
    ctx: Context,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    fake_pa.directory[COMPANY_SIREN] = ADDRESS
    fake_pa.directory_failures = [503]  # the search fails; the deposit goes through

    assert route(api, admin)["deposited"] == 1

    assert f'schemeID="0225">{COMPANY_SIREN}<'.encode() in sent_cii(fake_pa, invoiced["id"])
    assert ctx.directory.get(COMPANY_SIREN) is None  # nothing kept: asked again next time


def test_an_address_that_is_not_the_buyers_is_not_used(
    api: Api,
    admin: str,
    invoiced: dict[str, Any],  # noqa: F811
    fake_pa: FakePlatform,  # noqa: F811
) -> None:
    fake_pa.directory[COMPANY_SIREN] = "999999999_OTHER"

    assert route(api, admin)["deposited"] == 1

    assert f'schemeID="0225">{COMPANY_SIREN}<'.encode() in sent_cii(fake_pa, invoiced["id"])
