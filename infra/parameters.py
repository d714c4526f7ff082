"""The stack parameters: what differs per AWS account, or is set at deploy time.

Stage-specific defaults come from infra/stages.json. Secrets are no parameters: they are
SSM SecureString parameters under `/<stack name>/` (`SECRET_PARAMETERS`), created by the
operator before the first deploy and read by the functions at first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.alarms import TOPIC_PARAMETER
from infra.gateway import ORIGINS_PARAMETER
from infra.stages import Stage

ORIGIN = r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?"
# Environment variable of the function -> SSM parameter name under the stack's prefix.
SECRET_PARAMETERS = {
    "STRIPE_API_KEY_PARAMETER": "stripe/api-key",
    "STRIPE_WEBHOOK_SECRET_PARAMETER": "stripe/webhook-secret",
    # The deployment-wide accredited platform and Chorus Pro account, only if used (each
    # is read once its URL is set; a missing parameter reads as no secret).
    "EREPORTING_PLATFORM_CLIENT_SECRET_PARAMETER": "einvoicing/platform-client-secret",
    "EREPORTING_PLATFORM_WEBHOOK_SECRET_PARAMETER": "einvoicing/platform-webhook-secret",
    "CHORUS_PRO_CLIENT_SECRET_PARAMETER": "einvoicing/chorus-client-secret",
    # A path, not one parameter: each operator's platform client secret is
    # `operators/{operator id}/pa-client-secret`, written and deleted by the API
    # (ssm:PutParameter and ssm:DeleteParameter there only).
    "OPERATOR_SECRETS_PREFIX": "operators",
}


def secret_parameter_names() -> dict[str, Any]:
    """`{VARIABLE: {"Fn::Sub": "/${AWS::StackName}/stripe/api-key"}, ...}`."""
    return {
        var: {"Fn::Sub": f"/${{AWS::StackName}}/{name}"} for var, name in SECRET_PARAMETERS.items()
    }


@dataclass(frozen=True)
class DeployParameter:
    """A setting given to the stack, passed to every function as an environment variable."""

    logical_id: str
    env_var: str
    description: str
    pattern: str
    no_echo: bool = False
    default: str | None = None
    to_functions: bool = True  # else a setting of the stack only

    def cfn(self) -> dict[str, Any]:
        parameter: dict[str, Any] = {
            "Type": "String",
            "Description": self.description,
            "AllowedPattern": self.pattern,
        }
        if self.no_echo:
            parameter["NoEcho"] = True
        if self.default is not None:
            parameter["Default"] = self.default
        return parameter


def deploy_parameters(stage: Stage) -> tuple[DeployParameter, ...]:
    return (
        DeployParameter(
            "AuthIssuer",
            "AUTH_ISSUER",
            "JWT issuer (iss), e.g. the Cognito user pool URL.",
            r"^https://\S+$",
        ),
        DeployParameter(
            "AuthJwksUrl", "AUTH_JWKS_URL", "URL of the issuer's JWKS.", r"^https://\S+$"
        ),
        DeployParameter(
            "AuthAudience",
            "AUTH_AUDIENCE",
            "JWT audience (aud) the API accepts.",
            r"^\S+$",
            default="relais-api",
        ),
        DeployParameter(
            "MailFrom",
            "MAIL_FROM",
            "Sender of members' mails, a verified SES identity; empty = no mail.",
            r"^.*$",
            default=stage.mail_from,
        ),
        DeployParameter(
            ORIGINS_PARAMETER,
            "ALLOWED_ORIGINS",
            "Browser origins allowed by CORS, comma-separated, exact (scheme://host[:port]); "
            "gateway-generated errors carry the first.",
            rf"^{ORIGIN}(,{ORIGIN})*$",
            default=stage.allowed_origins,
        ),
        DeployParameter(
            TOPIC_PARAMETER,
            "ALARM_TOPIC_ARN",
            "SNS topic that receives every alarm (and its return to OK).",
            r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$",
            to_functions=False,
        ),
    )
