"""Routes of e-invoicing: an invoice's lifecycle on the accredited platform, and the
platform each operator chose."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from chalice import Blueprint, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.schemas import WebhookAnswer
from chalicelib.domain.catalogue import NonEmpty
from chalicelib.domain.identifiers import SPACES_AND_CONTROLS
from chalicelib.errors import ValidationFailed
from chalicelib.services import einvoice_routing, einvoice_webhooks, platform
from chalicelib.services.platform import REGISTRATION_NUMBER

bp = Blueprint(__name__)


class LifecycleEntry(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    code: str
    label: str
    at: str
    detail: Any = None
    attempt: int | None = None  # the deposit attempt, from the 2nd one (after a 213)


class LifecycleError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # validation_failed: not sent, the CII breaks the rules listed; platform_rejected: the
    # platform refused the flow (status 213); platform_not_configured: the operator has
    # no platform yet, nothing was sent.
    code: str
    at: str | None = None
    failed_rules: list[str] | None = None
    failed_count: int | None = None
    detail: Any = None


class Lifecycle(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    document_id: str
    routed: bool  # a B2B document, deposited on the platform (else e-reported)
    flow_id: str | None
    status: str | None
    history: list[LifecycleEntry]
    error: LifecycleError | None = None
    attempt: int | None = None  # current deposit attempt (a 213 may be followed by a 2nd)
    resend_pending: bool = False  # a new deposit was asked for and is not made yet
    credit_note_id: str | None = None  # the credit note that cancelled a refused invoice


@endpoint(
    bp,
    "/v1/invoices/{invoice_id}/lifecycle",
    "GET",
    summary="Where a B2B invoice stands on the accredited platform (statuses 200-213)",
    tag="invoices",
    errors=(403, 404),
    role="books",
    response=Lifecycle,
)
def get_lifecycle(call: Call) -> Any:
    return einvoice_routing.lifecycle(call.ctx, call.params["invoice_id"])


@endpoint(
    bp,
    "/v1/invoices/{invoice_id}/lifecycle/resend",
    "POST",
    summary="Deposit again, same number, an invoice the platform rejected (213)",
    tag="invoices",
    errors=(403, 404, 409),
    role="books",
    idempotent=True,
    response=Lifecycle,
)
def resend(call: Call) -> Any:
    return einvoice_routing.request_resend(call.ctx, call.principal, call.params["invoice_id"])


def _platform_url(value: str) -> str:
    """https, or plain http to a loopback host (a local fake platform)."""
    parsed = urlsplit(value)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if not parsed.hostname or not (
        parsed.scheme == "https" or (parsed.scheme == "http" and loopback)
    ):
        raise ValueError("must be an https URL (http only to a loopback host)")
    if parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise ValueError("must have no query, fragment or credentials")
    if parsed.port == 0:  # `.port` raises ValueError past 65535
        raise ValueError("must name a port from 1 to 65535")
    return value


# The same rule as a pattern, so that the OpenAPI document states it (no `\s`: see
# SPACES_AND_CONTROLS).
_PORT = r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
PLATFORM_URL_PATTERN = (
    rf"^(https://[A-Za-z0-9.-]+|http://(127\.0\.0\.1|localhost))(:{_PORT})?"
    rf"(/[^?#{SPACES_AND_CONTROLS}]*)?$"
)
PlatformUrl = Annotated[
    str,
    Field(min_length=8, max_length=500, pattern=PLATFORM_URL_PATTERN),
    AfterValidator(_platform_url),
]


class PlatformSettingsInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "base_url": "https://pa.example.fr/api",
                    "token_url": "https://pa.example.fr/oauth/token",
                    "client_id": "relais-melun",
                    "client_secret": "s3cr3t",
                    "webhook_secret": "whsec-0123456789abcdef",
                    "registration_number": "0042",
                    "name": "PA de l'exemple",
                }
            ],
            # A platform's name goes with its registration number (put_platform: 422).
            "if": {"required": ["name"], "properties": {"name": {"type": "string"}}},
            "then": {
                "required": ["registration_number"],
                "properties": {"registration_number": {"type": "string"}},
            },
        },
    )

    base_url: PlatformUrl  # the flow API (AFNOR XP Z12-013): {base_url}/v1/flows
    token_url: PlatformUrl  # OAuth2 client credentials
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: SecretStr = Field(min_length=1, max_length=1000)  # write-only: to SSM
    # Optional, write-only, to SSM: what the platform signs its status webhooks with
    # (POST /v1/einvoicing/platforms/{operator_id}/webhook); absent = the one set stays.
    webhook_secret: SecretStr | None = Field(default=None, min_length=16, max_length=1000)
    # The platform's registration number and name, which its e-reports carry as their
    # sender; absent: the deployment's (EREPORTING_PLATFORM_ID / _NAME), the same PA.
    registration_number: str | None = Field(default=None, pattern=REGISTRATION_NUMBER)
    name: NonEmpty | None = None


class PlatformSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator_id: str
    # operator: its own settings; deployment: none of its own, the network-wide platform
    # is used; none: no platform, B2B invoices wait (`platform_not_configured`).
    source: Literal["operator", "deployment", "none"]
    base_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret_set: bool
    webhook_secret_set: bool = False
    registration_number: str | None = None
    name: str | None = None
    updated_at: str | None = None
    version: int | None = None


@endpoint(
    bp,
    "/v1/operators/{operator_id}/einvoicing-platform",
    "GET",
    summary="The accredited platform an operator sends its B2B invoices through",
    tag="catalogue",
    errors=(403, 404),
    role="books",
    response=PlatformSettings,
)
def get_platform(call: Call) -> Any:
    return platform.platform_settings(call.ctx, call.params["operator_id"])


@endpoint(
    bp,
    "/v1/operators/{operator_id}/einvoicing-platform",
    "PUT",
    summary="Choose the operator's accredited platform (the client secret goes to SSM)",
    tag="catalogue",
    body=PlatformSettingsInput,
    errors=(403, 404, 422),
    role="admin",
    response=PlatformSettings,
)
def put_platform(call: Call) -> Any:
    body = call.body
    if body.name is not None and body.registration_number is None:
        raise ValidationFailed(
            "A platform's name goes with its registration_number.", field="registration_number"
        )
    wanted = {
        "base_url": body.base_url,
        "token_url": body.token_url,
        "client_id": body.client_id,
        "client_secret": body.client_secret.get_secret_value(),
        "webhook_secret": body.webhook_secret.get_secret_value() if body.webhook_secret else None,
        "registration_number": body.registration_number,
        "name": body.name,
    }
    return platform.configure_platform(call.ctx, call.principal, call.params["operator_id"], wanted)


@endpoint(
    bp,
    "/v1/operators/{operator_id}/einvoicing-platform",
    "DELETE",
    summary="Forget the operator's own platform and its secrets (If-Match)",
    tag="catalogue",
    status=204,
    produces="text/plain",
    errors=(403, 404, 412, 428),
    role="admin",
)
def delete_platform(call: Call) -> Any:
    operator_id = call.params["operator_id"]
    platform.remove_platform(call.ctx, call.principal, operator_id, call.headers.get("if-match"))
    return Response(body="", status_code=204)


class ChorusSettingsInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "base_url": "https://api.piste.gouv.fr/cpro/factures",
                    "token_url": "https://oauth.piste.gouv.fr/api/oauth/token",
                    "client_id": "relais-melun",
                    "client_secret": "s3cr3t",
                }
            ]
        },
    )

    base_url: PlatformUrl  # Chorus Pro's flow API, through the same port
    token_url: PlatformUrl  # OAuth2 client credentials (PISTE)
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: SecretStr = Field(min_length=1, max_length=1000)  # write-only: to SSM


@endpoint(
    bp,
    "/v1/operators/{operator_id}/chorus-pro",
    "GET",
    summary="The Chorus Pro account an operator invoices public bodies through",
    tag="catalogue",
    errors=(403, 404),
    role="books",
    response=PlatformSettings,
)
def get_chorus(call: Call) -> Any:
    return platform.platform_settings(call.ctx, call.params["operator_id"], platform.CHORUS)


@endpoint(
    bp,
    "/v1/operators/{operator_id}/chorus-pro",
    "PUT",
    summary="Set the operator's own Chorus Pro API account (the client secret goes to SSM)",
    tag="catalogue",
    body=ChorusSettingsInput,
    errors=(403, 404, 422),
    role="admin",
    response=PlatformSettings,
)
def put_chorus(call: Call) -> Any:
    body = call.body
    wanted = {
        "base_url": body.base_url,
        "token_url": body.token_url,
        "client_id": body.client_id,
        "client_secret": body.client_secret.get_secret_value(),
    }
    operator_id = call.params["operator_id"]
    return platform.configure_platform(
        call.ctx, call.principal, operator_id, wanted, platform.CHORUS
    )


@endpoint(
    bp,
    "/v1/operators/{operator_id}/chorus-pro",
    "DELETE",
    summary="Forget the operator's own Chorus Pro account and its secret (If-Match)",
    tag="catalogue",
    status=204,
    produces="text/plain",
    errors=(403, 404, 412, 428),
    role="admin",
)
def delete_chorus(call: Call) -> Any:
    operator_id = call.params["operator_id"]
    if_match = call.headers.get("if-match")
    platform.remove_platform(call.ctx, call.principal, operator_id, if_match, platform.CHORUS)
    return Response(body="", status_code=204)


@endpoint(
    bp,
    "/v1/einvoicing/platforms/{operator_id}/webhook",
    "POST",
    summary="Lifecycle statuses pushed by the operator's accredited platform (signed)",
    tag="webhooks",
    auth="public",
    errors=(400, 422),
    response=WebhookAnswer,
)
def platform_webhook(call: Call) -> Any:
    return einvoice_webhooks.receive_status_webhook(
        call.ctx,
        call.params["operator_id"],
        call.raw_body,
        call.headers.get("x-pa-signature"),
    )
