"""Secrets from SSM Parameter Store (moto): read at first use, cached, rotated without
a deploy; plain settings when no parameter is named (local runs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chalicelib.adapters.secrets import Secrets
from chalicelib.config import ConfigurationError, Settings, load_settings
from chalicelib.errors import InvalidSignature, Misconfigured, ServiceUnavailable
from chalicelib.services.context import Context
from chalicelib.services.webhooks import handle_stripe_webhook
from tests.conftest import make_settings
from tests.support.fake_stripe import FakeGateway, signed_event

API_KEY = "/relais-test/stripe/api-key"
WEBHOOK = "/relais-test/stripe/webhook-secret"


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ssm", region_name="eu-west-3")
        client.put_parameter(Name=API_KEY, Value="sk_test_from_ssm", Type="SecureString")
        client.put_parameter(Name=WEBHOOK, Value="whsec_from_ssm", Type="SecureString")
        yield client


def _settings(jwks: Path, **overrides: Any) -> Settings:
    return make_settings(
        jwks,
        STRIPE_API_KEY_PARAMETER=API_KEY,
        STRIPE_WEBHOOK_SECRET_PARAMETER=WEBHOOK,
        **overrides,
    )


def _rotate(ssm: Any, value: str) -> None:
    ssm.put_parameter(Name=API_KEY, Value=value, Type="SecureString", Overwrite=True)


def test_a_secret_is_read_decrypted_from_the_parameter_store(
    ssm: Any, auth_keys: tuple[Path, Path]
) -> None:
    secrets = Secrets(_settings(auth_keys[1]), client=ssm)

    assert secrets.stripe_api_key.get() == "sk_test_from_ssm"
    assert secrets.stripe_webhook_secret.get() == "whsec_from_ssm"


def test_a_secret_is_cached_for_its_max_age(ssm: Any, auth_keys: tuple[Path, Path]) -> None:
    secrets = Secrets(_settings(auth_keys[1], SECRETS_MAX_AGE_SECONDS=300), client=ssm)
    secrets.stripe_api_key.get()

    _rotate(ssm, "sk_test_rotated")

    assert secrets.stripe_api_key.get() == "sk_test_from_ssm"


def test_a_rotated_secret_is_read_once_its_cache_has_expired(
    ssm: Any, auth_keys: tuple[Path, Path]
) -> None:
    secrets = Secrets(_settings(auth_keys[1], SECRETS_MAX_AGE_SECONDS=0), client=ssm)
    secrets.stripe_api_key.get()

    _rotate(ssm, "sk_test_rotated")

    assert secrets.stripe_api_key.get() == "sk_test_rotated"


def test_without_a_parameter_name_the_plain_setting_is_used(auth_keys: tuple[Path, Path]) -> None:
    secrets = Secrets(make_settings(auth_keys[1], STRIPE_API_KEY="sk_test_plain"))

    assert secrets.stripe_api_key.get() == "sk_test_plain"
    assert not secrets.stripe_api_key.from_parameter_store


def test_a_webhook_is_verified_with_the_secret_of_the_parameter_store(
    ssm: Any, auth_keys: tuple[Path, Path], table: Any
) -> None:
    settings = _settings(auth_keys[1])
    ctx = Context(settings=settings, table=table, gateway_override=FakeGateway())
    ctx.secrets = Secrets(settings, client=ssm)
    payload, header = signed_event("customer.created", {"id": "cus_1"}, "whsec_from_ssm")

    assert handle_stripe_webhook(ctx, payload, header)["received"] is True


def test_a_webhook_signed_with_the_plain_setting_is_refused_on_aws(
    ssm: Any, auth_keys: tuple[Path, Path], table: Any
) -> None:
    settings = _settings(auth_keys[1])
    ctx = Context(settings=settings, table=table, gateway_override=FakeGateway())
    ctx.secrets = Secrets(settings, client=ssm)
    payload, header = signed_event("customer.created", {"id": "cus_1"}, "whsec_relais_local")

    with pytest.raises(InvalidSignature):
        handle_stripe_webhook(ctx, payload, header)


def test_a_deployed_function_without_secret_parameters_is_misconfigured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "relais-prod-APIHandler-x")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_must_not_show")

    with pytest.raises(ConfigurationError) as raised:
        load_settings()

    assert raised.value.problems == [
        "STRIPE_API_KEY_PARAMETER, STRIPE_WEBHOOK_SECRET_PARAMETER required on AWS Lambda"
    ]


def test_a_deployed_function_refuses_platform_secrets_in_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "relais-prod-APIHandler-x")
    monkeypatch.setenv("STRIPE_API_KEY_PARAMETER", "/relais-prod/stripe/api-key")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET_PARAMETER", "/relais-prod/stripe/webhook-secret")
    monkeypatch.setenv("EREPORTING_PLATFORM_CLIENT_SECRET", "pa-secret-must-not-show")
    monkeypatch.setenv("CHORUS_PRO_CLIENT_SECRET", "chorus-secret-must-not-show")

    with pytest.raises(ConfigurationError) as raised:
        load_settings()

    (problem,) = raised.value.problems
    assert problem.startswith(
        "EREPORTING_PLATFORM_CLIENT_SECRET, CHORUS_PRO_CLIENT_SECRET must not be set on AWS"
    )
    assert "must-not-show" not in problem


def test_a_missing_or_unreadable_secret_is_a_503_never_a_500(
    ssm: Any, auth_keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(auth_keys[1], STRIPE_API_KEY_PARAMETER="/relais-test/nope")
    missing = Secrets(settings, client=ssm)
    with pytest.raises(Misconfigured) as raised:
        missing.stripe_api_key.get()
    assert "nope" not in raised.value.detail  # the parameter's name stays in the log

    secrets = Secrets(_settings(auth_keys[1]), client=ssm)
    original = ssm._make_api_call

    def throttled(operation: str, params: dict[str, Any]) -> Any:
        if operation == "GetParameter":
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            raise ClientError(error, operation)  # type: ignore[arg-type]
        return original(operation, params)

    monkeypatch.setattr(ssm, "_make_api_call", throttled)
    with pytest.raises(ServiceUnavailable):
        secrets.stripe_webhook_secret.get()
    monkeypatch.setattr(ssm, "_make_api_call", original)
    assert secrets.stripe_webhook_secret.get() == "whsec_from_ssm"  # not remembered missing
