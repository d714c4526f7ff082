"""The stack parameters: what differs per AWS account, or is set at deploy time.

Stage-specific defaults come from infra/stages.json; nothing secret is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.gateway import ORIGINS_PARAMETER
from infra.stages import Stage

ORIGIN = r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?"


@dataclass(frozen=True)
class DeployParameter:
    """A setting given to the stack, passed to every function as an environment variable."""

    logical_id: str
    env_var: str
    description: str
    pattern: str
    no_echo: bool = False
    default: str | None = None

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
            "StripeApiKey",
            "STRIPE_API_KEY",
            "Stripe secret or restricted API key (sk_/rk_...).",
            r"^(sk|rk)_(test|live)_\S+$",
            no_echo=True,
        ),
        DeployParameter(
            "StripeWebhookSecret",
            "STRIPE_WEBHOOK_SECRET",
            "Signing secret of the Stripe webhook endpoint (whsec_...).",
            r"^whsec_\S+$",
            no_echo=True,
        ),
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
    )
