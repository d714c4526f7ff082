"""Runtime configuration, read once from the environment (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
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

    hold_seconds: int = Field(default=900, ge=30, alias="HOLD_SECONDS")
    cancel_free_hours: int = Field(default=24, ge=0, alias="CANCEL_FREE_HOURS")
    booking_horizon_days: int = Field(default=90, ge=1, alias="BOOKING_HORIZON_DAYS")
    idempotency_ttl_seconds: int = Field(default=86400, alias="IDEMPOTENCY_TTL_SECONDS")
    # The network catalogue is small and read on every request: each container
    # keeps it this long (writes in the same container refresh it at once).
    catalogue_cache_seconds: float = Field(default=30.0, ge=0, alias="CATALOGUE_CACHE_SECONDS")

    # Browser origins allowed to call the API (CORS): comma-separated, exact match
    # (`https://www.relais.coop,https://relais-gare.fr`); empty = no browser origin.
    allowed_origins: str = Field(default="", alias="ALLOWED_ORIGINS")

    # What `/v1` sits under publicly (calendar feed URLs); unset = taken from the request.
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL")

    # Members' mails through SES. The sender must be a verified SES identity
    # ("Relais <noreply@example.org>"); unset = no mail at all (local runs, tests).
    mail_from: str | None = Field(default=None, alias="MAIL_FROM")
    mail_reply_to: str | None = Field(default=None, alias="MAIL_REPLY_TO")
    ses_region: str | None = Field(default=None, alias="SES_REGION")  # unset = AWS_REGION
    ses_endpoint_url: str | None = Field(default=None, alias="SES_ENDPOINT_URL")
    # Relay-local hour from which tomorrow's bookings get their reminder.
    reminder_hour: int = Field(default=17, ge=0, le=23, alias="REMINDER_HOUR")

    stripe_api_key: str = Field(default="sk_test_relais_local", alias="STRIPE_API_KEY")
    # Base URL of a Stripe-compatible server (localstripe); unset = real Stripe.
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")
    stripe_webhook_secret: str = Field(default="whsec_relais_local", alias="STRIPE_WEBHOOK_SECRET")
    stripe_webhook_tolerance: int = Field(default=300, alias="STRIPE_WEBHOOK_TOLERANCE")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
