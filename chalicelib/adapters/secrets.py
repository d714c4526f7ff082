"""Secrets (the Stripe API key, the webhook signing secret, the deployment-wide platform's
and Chorus Pro's client secrets, each operator's own): SSM Parameter Store on AWS.

When a secret's parameter name is set (`STRIPE_API_KEY_PARAMETER`...), its value is a
SecureString read at first use through Powertools Parameters, decrypted, and cached
`SECRETS_MAX_AGE_SECONDS`: a rotated value is picked up within that time, no deploy
needed. Without a parameter name (local runs, tests) the plain setting is used. Values
are never logged, and on AWS never put in environment variables.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chalicelib.errors import Misconfigured, ServiceUnavailable
from chalicelib.observability import logger

if TYPE_CHECKING:
    from chalicelib.config import Settings


class Secret:
    """One secret: a plain value, or the SSM SecureString `parameter`, cached `max_age` s."""

    def __init__(self, plain: str, parameter: str | None, provider: SecretProvider) -> None:
        self._plain = plain
        self._parameter = parameter
        self._provider = provider

    @property
    def from_parameter_store(self) -> bool:
        return bool(self._parameter)

    def get(self) -> str:
        if not self._parameter:
            return self._plain
        return self._provider.get(self._parameter)

    def get_or_none(self) -> str | None:
        """The value, or None when none is set (an empty plain value, or no parameter
        stored under the name: a secret of a feature the deployment does not use)."""
        if not self._parameter:
            return self._plain or None
        return self._provider.get_or_none(self._parameter)


class SecretProvider:
    """Powertools' SSM provider with its per-container cache, built on first use."""

    def __init__(self, region: str, max_age: int, client: Any = None) -> None:
        self._region = region
        self._max_age = max_age
        self._client = client
        self._ssm: Any = None
        self._missing: dict[str, float] = {}  # parameter -> when found missing (monotonic)

    def get_or_none(self, parameter: str) -> str | None:
        """The value, or None when no parameter has that name. A name found missing is
        remembered so for `max_age` (paths anyone may call read some secrets: a flood must
        not become SSM calls); any other failure (throttled, denied) is a
        `ServiceUnavailable`, never read as "no secret"."""
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        missed = self._missing.get(parameter)
        if missed is not None and time.monotonic() - missed < self._max_age:
            return None
        try:
            value = self._read(parameter)
        except GetParameterError as exc:
            origin = exc.__cause__ or exc.__context__  # Powertools wraps the SDK's error
            code = getattr(origin, "response", {}).get("Error", {}).get("Code")
            if code != "ParameterNotFound":
                raise ServiceUnavailable("A secret could not be read; retry.") from exc
            self._missing[parameter] = time.monotonic()
            return None
        self._missing.pop(parameter, None)
        return value or None

    def stored(self, parameter: str) -> None:
        """`parameter` was just written: no longer remembered missing."""
        self._missing.pop(parameter, None)

    def get(self, parameter: str) -> str:
        """The value of a secret the deployment needs: a missing parameter is
        `Misconfigured`, one SSM cannot read now `ServiceUnavailable` (both 503s)."""
        value = self.get_or_none(parameter)
        if value is None:
            logger().error("secret_parameter_missing", extra={"parameter": parameter})
            raise Misconfigured("A secret is missing from the parameter store.")
        return value

    def _read(self, parameter: str) -> str:
        if self._ssm is None:
            from aws_lambda_powertools.utilities.parameters import SSMProvider

            if self._client is None:
                import boto3

                self._client = boto3.client("ssm", region_name=self._region)
            self._ssm = SSMProvider(boto3_client=self._client)
        value = self._ssm.get(parameter, max_age=self._max_age, decrypt=True)
        return str(value)


class Secrets:
    """The secrets of one deployment, as the settings name them."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        provider = SecretProvider(settings.aws_region, settings.secrets_max_age_seconds, client)
        self.stripe_api_key = Secret(
            settings.stripe_api_key, settings.stripe_api_key_parameter, provider
        )
        self.stripe_webhook_secret = Secret(
            settings.stripe_webhook_secret, settings.stripe_webhook_secret_parameter, provider
        )
        self._settings, self._provider = settings, provider
        self.operators = OperatorSecrets(
            settings.operator_secrets_prefix, provider, settings.aws_region, client
        )

    # The deployment-wide accredited platform and Chorus Pro account (operators without
    # their own), read only when their URL is set; built as asked, from the settings.
    @property
    def platform_client_secret(self) -> Secret:
        return self._from_settings("ereporting_platform_client_secret")

    @property
    def platform_webhook_secret(self) -> Secret:
        return self._from_settings("ereporting_platform_webhook_secret")

    @property
    def chorus_client_secret(self) -> Secret:
        return self._from_settings("chorus_pro_client_secret")

    def _from_settings(self, name: str) -> Secret:
        """The setting `name` (local runs) or the parameter `{name}_parameter` names."""
        plain, parameter = (
            getattr(self._settings, name),
            getattr(self._settings, f"{name}_parameter"),
        )
        return Secret(plain, parameter, self._provider)


class OperatorSecrets:
    """Per-operator secrets (the client secret of its accredited platform).

    On AWS (`OPERATOR_SECRETS_PREFIX` set, e.g. `/relais-prod/operators`): one SSM
    SecureString per operator, `{prefix}/{operator id}/{name}`, written on change and read
    through the cached provider (a rotated value is seen within `SECRETS_MAX_AGE_SECONDS`).
    Without a prefix (local runs): kept in this process's memory only, never in the table.
    Values are never logged nor answered.
    """

    def __init__(
        self, prefix: str | None, provider: SecretProvider, region: str, client: Any = None
    ) -> None:
        self._prefix = prefix.rstrip("/") if prefix else None
        self._provider = provider
        self._region = region
        self._client = client
        self._local: dict[str, str] = {}

    def parameter_name(self, operator_id: str, name: str) -> str | None:
        return f"{self._prefix}/{operator_id}/{name}" if self._prefix else None

    def put(self, operator_id: str, name: str, value: str) -> None:
        parameter = self.parameter_name(operator_id, name)
        if parameter is None:
            self._local[f"{operator_id}/{name}"] = value
            return
        self._ssm().put_parameter(Name=parameter, Value=value, Type="SecureString", Overwrite=True)
        self._provider.stored(parameter)

    def delete(self, operator_id: str, name: str) -> None:
        """Forget the secret (nothing to do if there is none). A container that read it
        may keep it cached up to `SECRETS_MAX_AGE_SECONDS`."""
        parameter = self.parameter_name(operator_id, name)
        if parameter is None:
            self._local.pop(f"{operator_id}/{name}", None)
            return
        client = self._ssm()
        try:
            client.delete_parameter(Name=parameter)
        except client.exceptions.ParameterNotFound:
            return

    def get(self, operator_id: str, name: str) -> str | None:
        """The value, or None when none was ever stored (remembered as missing for
        `SECRETS_MAX_AGE_SECONDS` but after a `put` here)."""
        parameter = self.parameter_name(operator_id, name)
        if parameter is None:
            return self._local.get(f"{operator_id}/{name}")
        return self._provider.get_or_none(parameter)

    def _ssm(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("ssm", region_name=self._region)
        return self._client
