"""Runtime configuration, read once from the environment (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    version: str = Field(default="0.1.0", alias="RELAIS_VERSION")
    table_name: str = Field(default="relais", alias="RELAIS_TABLE")
    aws_region: str = Field(default="eu-west-3", alias="AWS_REGION")
    # Set locally (DynamoDB Local / moto server); unset on AWS.
    dynamodb_endpoint_url: str | None = Field(default=None, alias="DYNAMODB_ENDPOINT_URL")

    auth_jwks_url: str | None = Field(default=None, alias="AUTH_JWKS_URL")
    auth_jwks_file: str | None = Field(default=None, alias="AUTH_JWKS_FILE")
    auth_issuer: str = Field(default="https://auth.relais.local", alias="AUTH_ISSUER")
    auth_audience: str = Field(default="relais-api", alias="AUTH_AUDIENCE")

    hold_seconds: int = Field(default=900, ge=30, le=86400, alias="HOLD_SECONDS")
    cancel_free_hours: int = Field(default=24, ge=0, le=720, alias="CANCEL_FREE_HOURS")
    # At most 97: a capacity cut checks every day of the horizon in one transaction, and
    # a DynamoDB transaction holds 100 items (services/catalogue_edits, capacity_checks).
    booking_horizon_days: int = Field(default=90, ge=1, le=97, alias="BOOKING_HORIZON_DAYS")
    idempotency_ttl_seconds: int = Field(
        default=86400, ge=3600, le=604800, alias="IDEMPOTENCY_TTL_SECONDS"
    )
    # The network catalogue is small and read on every request: each container
    # keeps it this long (writes in the same container refresh it at once).
    catalogue_cache_seconds: float = Field(
        default=30.0, ge=0, le=3600, alias="CATALOGUE_CACHE_SECONDS"
    )

    # Browser origins allowed to call the API (CORS): comma-separated, exact match
    # (`https://www.relais.coop,https://relais-gare.fr`); empty = no browser origin.
    allowed_origins: str = Field(default="", alias="ALLOWED_ORIGINS")

    # What `/v1` sits under publicly (calendar feed URLs); unset = taken from the request.
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL")

    # Members' mails through SES. The sender must be a verified SES identity
    # ("Relais <noreply@example.org>"); unset = no mail at all (local runs, tests).
    mail_from: str | None = Field(default=None, alias="MAIL_FROM")
    # The accredited platform (PA) that transmits e-reports: its 4-character registration
    # number (scheme 0238) and name. Unset = no e-reporting file is produced.
    ereporting_platform_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9]{4}$", alias="EREPORTING_PLATFORM_ID"
    )
    ereporting_platform_name: str = Field(default="", alias="EREPORTING_PLATFORM_NAME")
    # Its flow API (AFNOR XP Z12-013 shape) and OAuth2 client credentials. Unset URL =
    # files are produced but not sent.
    ereporting_platform_url: str | None = Field(default=None, alias="EREPORTING_PLATFORM_URL")
    ereporting_platform_token_url: str = Field(default="", alias="EREPORTING_PLATFORM_TOKEN_URL")
    ereporting_platform_client_id: str = Field(default="", alias="EREPORTING_PLATFORM_CLIENT_ID")
    ereporting_platform_client_secret: str = Field(
        default="", alias="EREPORTING_PLATFORM_CLIENT_SECRET"
    )
    # What the platform signs its status webhooks with (operators without their own).
    ereporting_platform_webhook_secret: str = Field(
        default="", alias="EREPORTING_PLATFORM_WEBHOOK_SECRET"
    )
    # On AWS these secrets (and Chorus Pro's below) are SSM SecureStrings named here (set
    # by the template, read at first use); the plain values are for local runs.
    ereporting_platform_client_secret_parameter: str | None = Field(
        default=None, alias="EREPORTING_PLATFORM_CLIENT_SECRET_PARAMETER"
    )
    ereporting_platform_webhook_secret_parameter: str | None = Field(
        default=None, alias="EREPORTING_PLATFORM_WEBHOOK_SECRET_PARAMETER"
    )
    # Chorus Pro, for invoices to public bodies (communes...): its flow API and OAuth2
    # client, in the same shape as a platform's. Unset URL = those invoices wait.
    chorus_pro_url: str | None = Field(default=None, alias="CHORUS_PRO_URL")
    chorus_pro_token_url: str = Field(default="", alias="CHORUS_PRO_TOKEN_URL")
    chorus_pro_client_id: str = Field(default="", alias="CHORUS_PRO_CLIENT_ID")
    chorus_pro_client_secret: str = Field(default="", alias="CHORUS_PRO_CLIENT_SECRET")
    chorus_pro_client_secret_parameter: str | None = Field(
        default=None, alias="CHORUS_PRO_CLIENT_SECRET_PARAMETER"
    )
    # Where each operator's own secrets (its platform's client secret) are kept: SSM
    # SecureStrings under this path (set by the template); unset = in memory (local runs).
    operator_secrets_prefix: str | None = Field(default=None, alias="OPERATOR_SECRETS_PREFIX")
    mail_reply_to: str | None = Field(default=None, alias="MAIL_REPLY_TO")
    ses_region: str | None = Field(default=None, alias="SES_REGION")  # unset = AWS_REGION
    ses_endpoint_url: str | None = Field(default=None, alias="SES_ENDPOINT_URL")
    # Closing archives (and exports) in S3; the endpoint is set locally (moto's server).
    archive_bucket: str = Field(default="relais-archives", alias="ARCHIVE_BUCKET")
    s3_endpoint_url: str | None = Field(default=None, alias="S3_ENDPOINT_URL")
    # The queue of export jobs (SQS, its worker app.export_worker); unset (locally): the
    # `run_exports` job runs pending exports itself.
    export_queue_url: str | None = Field(default=None, alias="EXPORT_QUEUE_URL")
    # The route_einvoices function (set by the template on the API's function, which has no
    # validator): a resend asks it to run at once; unset (locally, where the venv has
    # Saxon): the resend is deposited in the request.
    einvoice_router_function: str | None = Field(default=None, alias="EINVOICE_ROUTER_FUNCTION")
    # Relay-local hour from which tomorrow's bookings get their reminder.
    reminder_hour: int = Field(default=17, ge=0, le=23, alias="REMINDER_HOUR")

    # Writes (bookings, purchases, memberships) per member and fixed window; 0 = no limit.
    member_writes_per_window: int = Field(
        default=0, ge=0, le=10000, alias="MEMBER_WRITES_PER_WINDOW"
    )
    member_write_window_seconds: int = Field(
        default=60, ge=1, le=3600, alias="MEMBER_WRITE_WINDOW_SECONDS"
    )

    stripe_api_key: str = Field(default="sk_test_relais_local", alias="STRIPE_API_KEY")
    # Base URL of a Stripe-compatible server (localstripe); unset = real Stripe.
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")
    stripe_webhook_secret: str = Field(default="whsec_relais_local", alias="STRIPE_WEBHOOK_SECRET")
    # On AWS the two Stripe secrets are SSM SecureString parameters, named here and read
    # at first use (adapters/secrets.py); the plain values above are for local runs.
    stripe_api_key_parameter: str | None = Field(default=None, alias="STRIPE_API_KEY_PARAMETER")
    stripe_webhook_secret_parameter: str | None = Field(
        default=None, alias="STRIPE_WEBHOOK_SECRET_PARAMETER"
    )
    secrets_max_age_seconds: int = Field(
        default=300, ge=0, le=3600, alias="SECRETS_MAX_AGE_SECONDS"
    )
    # Set by AWS Lambda itself: tells a deployed function from a local run.
    lambda_function_name: str | None = Field(default=None, alias="AWS_LAMBDA_FUNCTION_NAME")
    stripe_webhook_tolerance: int = Field(
        default=300, ge=1, le=3600, alias="STRIPE_WEBHOOK_TOLERANCE"
    )

    @model_validator(mode="after")
    def _secrets_come_from_the_parameter_store_on_aws(self) -> Settings:
        if self.lambda_function_name:
            names = {
                "STRIPE_API_KEY_PARAMETER": self.stripe_api_key_parameter,
                "STRIPE_WEBHOOK_SECRET_PARAMETER": self.stripe_webhook_secret_parameter,
            }
            missing = [name for name, value in names.items() if not value]
            if missing:
                raise ValueError(f"{', '.join(missing)} required on AWS Lambda")
            plain = {
                "EREPORTING_PLATFORM_CLIENT_SECRET": self.ereporting_platform_client_secret,
                "EREPORTING_PLATFORM_WEBHOOK_SECRET": self.ereporting_platform_webhook_secret,
                "CHORUS_PRO_CLIENT_SECRET": self.chorus_pro_client_secret,
            }
            given = [name for name, value in plain.items() if value]
            if given:  # it would sit in the functions' environment (and stages.json)
                raise ValueError(
                    f"{', '.join(given)} must not be set on AWS Lambda: "
                    "its SSM parameter (the *_PARAMETER name) holds it"
                )
        return self


class ConfigurationError(Exception):
    """Settings that cannot work: one line per wrong setting, naming its variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration: " + "; ".join(problems))
        self.problems = problems


# Values never echoed back, even when wrong.
_SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD")


def allowed_range(name: str) -> str | None:
    """`from 30 to 86400` for the setting read from variable `name`, if it is bounded."""
    for field in Settings.model_fields.values():
        if field.alias != name:
            continue
        low = high = None
        for bound in field.metadata:
            if isinstance(bound, (Ge, Gt)):
                low = f"{bound.ge if isinstance(bound, Ge) else bound.gt}"
            if isinstance(bound, (Le, Lt)):
                high = f"{bound.le if isinstance(bound, Le) else bound.lt}"
        if low is not None and high is not None:
            return f"from {low} to {high}"
        if low is not None or high is not None:
            return f"at least {low}" if low is not None else f"at most {high}"
    return None


def _problem(error: Any) -> str:
    reason = str(error["msg"]).removeprefix("Value error, ")
    name = ".".join(str(part) for part in error["loc"])
    if not name:  # a rule across settings: its message names them; the input is everything
        return reason
    shown = "" if any(w in name.upper() for w in _SECRET_WORDS) else f"={error.get('input')!r}"
    allowed = allowed_range(name)
    return f"{name}{shown}: {reason}" + (f" (allowed: {allowed})" if allowed else "")


def load_settings() -> Settings:
    """The settings of this environment, or ConfigurationError naming every wrong one."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError([_problem(e) for e in exc.errors(include_url=False)]) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
