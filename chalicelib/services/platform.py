"""The port to the operator's accredited platform (PA), and which platform each operator uses.

Each operator chooses its own platform (`PUT /v1/operators/{id}/einvoicing-platform`),
and may have its own Chorus Pro API account (`PUT /v1/operators/{id}/chorus-pro`, same
shape, no webhook secret; without it, the deployment's `CHORUS_PRO_*` account):
the flow API's URL, the OAuth2 token URL and client id are stored with the operator's
data; the client secret goes to the operator's SSM SecureString, never to the table, a
log or an answer. An operator without its own settings uses the deployment-wide platform
(`EREPORTING_PLATFORM_URL`...) when one is set, and else has no platform: its B2B
invoices wait, shown as `platform_not_configured`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from chalicelib.adapters.pa_client import FlowClient, PlatformAccount
from chalicelib.domain.editing import check_version, expected_version
from chalicelib.errors import NotFound, PreconditionFailed, ServiceUnavailable
from chalicelib.observability import logger
from chalicelib.services import audit
from chalicelib.services.catalogue import get_operator

if TYPE_CHECKING:  # the settings (pydantic-settings) load with the first request
    from chalicelib.adapters.secrets import Secret
    from chalicelib.auth import Principal
    from chalicelib.services.context import Context

CLIENT_SECRET = "pa-client-secret"  # the name of the operator's SSM parameter
# The secret the platform signs its status webhooks with (services/einvoice_webhooks.py).
WEBHOOK_SECRET = "pa-webhook-secret"
CHORUS_CLIENT_SECRET = "chorus-client-secret"  # an operator's own Chorus Pro API account
PA, CHORUS = "pa", "chorus"  # the two kinds of settings an operator may have
# A platform's registration number (scheme 0238), the sender of the e-reports it carries.
REGISTRATION_NUMBER = r"^[A-Za-z0-9]{4}$"
DEFAULT_PLATFORM_NAME = "Plateforme agréée"
UNAUDITED = ("updated_at", "version")  # bookkeeping of the settings item, not settings
SECRETS = {PA: (CLIENT_SECRET, WEBHOOK_SECRET), CHORUS: (CHORUS_CLIENT_SECRET,)}
AUDITED_AS = {PA: "einvoicing_platform", CHORUS: "chorus_pro"}


class FlowPlatform(Protocol):
    def submit_flow(
        self, *, tracking_id: str, name: str, syntax: str, processing_rule: str, content: bytes
    ) -> dict[str, Any]: ...

    def get_flow(self, flow_id: str) -> dict[str, Any]: ...


@runtime_checkable
class Directory(Protocol):
    """A platform that also answers directory look-ups (adapters/pa_client.FlowClient)."""

    def find_address(self, siren: str) -> str | None: ...


class InvoiceValidator(Protocol):
    def failures(self, xml: bytes) -> list[str]:
        """The rules `xml` breaks (XSD, EN 16931, BR-FR); [] when it may be sent."""
        ...


def platform_of(ctx: Context) -> FlowPlatform | None:
    """The deployment-wide platform's client, or None when none is configured (no URL, or
    its client secret missing from SSM: its invoices wait, `platform_not_configured`)."""
    settings = ctx.settings
    if not settings.ereporting_platform_url:
        return None
    secret = _deployment_secret(ctx.secrets.platform_client_secret, "platform")
    if secret is None:
        return None
    return FlowClient(
        PlatformAccount(
            base_url=settings.ereporting_platform_url,
            token_url=settings.ereporting_platform_token_url,
            client_id=settings.ereporting_platform_client_id,
            client_secret=secret,
        )
    )


def chorus_of(ctx: Context) -> FlowPlatform | None:
    """Chorus Pro, for invoices to public bodies, through the same flow port (its API
    account: `CHORUS_PRO_*`); None when not configured: those invoices wait."""
    settings = ctx.settings
    if not settings.chorus_pro_url:
        return None
    secret = _deployment_secret(ctx.secrets.chorus_client_secret, "Chorus Pro")
    if secret is None:
        return None
    return FlowClient(
        PlatformAccount(
            base_url=settings.chorus_pro_url,
            token_url=settings.chorus_pro_token_url,
            client_id=settings.chorus_pro_client_id,
            client_secret=secret,
        )
    )


def _deployment_secret(secret: Secret, account: str) -> str | None:
    try:
        value = secret.get_or_none()
    except ServiceUnavailable:  # SSM refused for a moment: the next run tries again
        logger().warning("secret_unreadable", extra={"account": account})
        return None
    if value is None:  # the URL is set: the parameter was forgotten
        logger().error("deployment_secret_missing", extra={"account": account})
    return value


def _for_this_run(read: Callable[[], str | None], account: str) -> str | None:
    """A secret for a job's run: one SSM cannot read now (throttled) makes the account's
    documents wait for the next run, as if it had none, rather than stop the whole run."""
    try:
        return read()
    except ServiceUnavailable:
        logger().warning("secret_unreadable", extra={"account": account})
        return None


def platform_for(ctx: Context, operator_id: str) -> FlowPlatform | None:
    """The operator's own platform, else the deployment-wide one, else None."""
    own = _own_client(ctx, operator_id, PA)
    return own if own is not _NONE else platform_of(ctx)


def chorus_for(ctx: Context, operator_id: str) -> FlowPlatform | None:
    """The operator's own Chorus Pro account, else the deployment's, else None."""
    own = _own_client(ctx, operator_id, CHORUS)
    return own if own is not _NONE else chorus_of(ctx)


_NONE: Any = object()  # no settings of its own


def _own_client(ctx: Context, operator_id: str, kind: str) -> Any:
    own = ctx.platform_settings.get(operator_id, kind)
    if own is None:
        return _NONE
    secret = _for_this_run(lambda: ctx.secrets.operators.get(operator_id, SECRETS[kind][0]), kind)
    if secret is None:
        return None
    return FlowClient(
        PlatformAccount(
            base_url=own["base_url"],
            token_url=own["token_url"],
            client_id=own["client_id"],
            client_secret=secret,
        )
    )


def ereport_sender(ctx: Context, operator_id: str) -> tuple[str, str] | None:
    """(registration number, name) of the platform the operator's e-reports go through:
    its own platform's when it names them, else the deployment's (`EREPORTING_PLATFORM_ID`,
    an operator's own account at the same PA); None when neither is known (no file)."""
    own = ctx.platform_settings.get(operator_id) or {}
    if own.get("registration_number"):
        return own["registration_number"], own.get("name") or DEFAULT_PLATFORM_NAME
    if ctx.settings.ereporting_platform_id is None:
        return None
    return ctx.settings.ereporting_platform_id, (
        ctx.settings.ereporting_platform_name or DEFAULT_PLATFORM_NAME
    )


def webhook_secret(ctx: Context, operator_id: str) -> str | None:
    """What the platform an operator uses signs its status webhooks with: its own
    platform's secret, else (no settings of its own) the deployment-wide platform's."""
    if ctx.platform_settings.get(operator_id) is not None:
        return ctx.secrets.operators.get(operator_id, WEBHOOK_SECRET)
    if not ctx.settings.ereporting_platform_url:
        return None
    return ctx.secrets.platform_webhook_secret.get_or_none()


def has_platform(ctx: Context, operator_id: str) -> bool:
    """Whether the operator's B2B invoices can go (the platform's secret readable too)."""
    return platform_for(ctx, operator_id) is not None


def has_chorus(ctx: Context, operator_id: str) -> bool:
    return chorus_for(ctx, operator_id) is not None


def _deployment_url(ctx: Context, kind: str) -> str | None:
    return ctx.settings.ereporting_platform_url if kind == PA else ctx.settings.chorus_pro_url


def platform_settings(ctx: Context, operator_id: str, kind: str = PA) -> dict[str, Any]:
    """What an operator has configured (never a secret itself); 404 for an unknown one."""
    get_operator(ctx, operator_id)
    own = ctx.platform_settings.get(operator_id, kind)
    if own is None:
        if not _deployment_url(ctx, kind):
            return {
                "operator_id": operator_id,
                "source": "none",
                "client_secret_set": False,
                "webhook_secret_set": False,
            }
        # The deployment's account: whether its secrets are stored (why invoices wait).
        client, webhook = (
            (ctx.secrets.platform_client_secret, ctx.secrets.platform_webhook_secret)
            if kind == PA
            else (ctx.secrets.chorus_client_secret, None)
        )
        return {
            "operator_id": operator_id,
            "source": "deployment",
            "client_secret_set": _for_this_run(client.get_or_none, kind) is not None,
            "webhook_secret_set": webhook is not None
            and _for_this_run(webhook.get_or_none, kind) is not None,
        }
    client_secret, *others = SECRETS[kind]
    return {
        **own,
        "operator_id": operator_id,
        "source": "operator",
        "client_secret_set": ctx.secrets.operators.get(operator_id, client_secret) is not None,
        "webhook_secret_set": bool(others)
        and ctx.secrets.operators.get(operator_id, others[0]) is not None,
    }


def configure_platform(
    ctx: Context, principal: Principal, operator_id: str, wanted: dict[str, Any], kind: str = PA
) -> dict[str, Any]:
    """Store the operator's platform: the secret to SSM first, then the rest (so a stored
    URL never points at a platform whose secret is missing)."""
    get_operator(ctx, operator_id)
    before = ctx.platform_settings.get(operator_id, kind) or {}
    ctx.secrets.operators.put(operator_id, SECRETS[kind][0], wanted["client_secret"])
    if kind == PA and wanted.get("webhook_secret"):  # absent: the one set before stays
        ctx.secrets.operators.put(operator_id, WEBHOOK_SECRET, wanted["webhook_secret"])
    public = {
        name: wanted[name]
        for name in ("base_url", "token_url", "client_id", "registration_number", "name")
        if wanted.get(name) is not None
    }
    public["updated_at"] = ctx.clock.now().isoformat(timespec="seconds")
    ctx.platform_settings.put(operator_id, public, kind)
    changes: dict[str, list[Any]] = {
        name: [before.get(name), public.get(name)]
        for name in sorted(set(public) | set(before))
        if name not in UNAUDITED and before.get(name) != public.get(name)
    }
    changes["client_secret"] = ["(secret)", "(secret)"]  # changed, never written out
    if kind == PA and wanted.get("webhook_secret"):
        changes["webhook_secret"] = ["(secret)", "(secret)"]
    audit.record(
        ctx,
        principal,
        "update",
        AUDITED_AS[kind],
        operator_id,
        operator_id=operator_id,
        changes=changes,
    )
    return platform_settings(ctx, operator_id, kind)


def remove_platform(
    ctx: Context, principal: Principal, operator_id: str, if_match: str | None, kind: str = PA
) -> None:
    """Forget the operator's own platform (If-Match on the settings' version): the
    settings first (conditional), then its secrets in SSM; the operator falls back to
    the deployment-wide platform, or none (its B2B invoices then wait). A delete that
    stopped between the two (the secrets left) is finished by the next one."""
    get_operator(ctx, operator_id)  # 404 for an unknown operator
    own = ctx.platform_settings.get(operator_id, kind)
    left = [n for n in SECRETS[kind] if ctx.secrets.operators.get(operator_id, n) is not None]
    if own is None and not left:
        raise NotFound("The operator has no settings of its own here.")
    expected = expected_version(if_match)
    if own is not None:
        version = check_version(int(own["version"]), expected)
        if not ctx.platform_settings.delete(operator_id, version, kind):
            raise PreconditionFailed("The settings changed meanwhile: read them again.")
    for name in left:
        ctx.secrets.operators.delete(operator_id, name)
    before = own or {}
    changes: dict[str, list[Any]] = {
        name: [value, None]
        for name, value in sorted(before.items())
        if name not in UNAUDITED and value
    }
    changes.update({_secret_field(name): ["(secret)", None] for name in left})
    audit.record(
        ctx,
        principal,
        "delete",
        AUDITED_AS[kind],
        operator_id,
        operator_id=operator_id,
        changes=changes,
    )


def _secret_field(name: str) -> str:
    """`pa-client-secret` → `client_secret`, `chorus-client-secret` → `client_secret`."""
    return name.split("-", 1)[1].replace("-", "_")
