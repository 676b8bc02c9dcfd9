"""Rundeck API calls to `https://{subdomain}.runbook.pagerduty.cloud/api/{API_VERSION}/…`,
authenticated by `X-Rundeck-Auth-Token` (never the `authtoken` query parameter: SEC-7), with
`Accept: application/json`. Rundeck's JSON error body (`{"error": true, "errorCode": …,
"message": …}`) is quoted, scrubbed, in the raised error."""

from __future__ import annotations

from typing import Any

from fireline.core.errors import IntegrationError
from fireline.integrations._upstream import error_body, error_status, safe_text, same_kind
from fireline.integrations.base import ToolContext
from fireline.integrations.pagerduty_rba.schema import (
    DOMAIN,
    RunbookAutomationConfig,
    RunbookAutomationSecrets,
)

# Rundeck 4.x / Runbook Automation: v41 is well inside the supported range (minimum 11,
# deprecation floor 14+), and every endpoint used here exists since v21 or earlier.
API_VERSION = 41


def host(config: RunbookAutomationConfig) -> str:
    return f"{config.subdomain}.{DOMAIN}"


async def call(
    ctx: ToolContext, method: str, path: str, *, idempotent: bool, json: Any = None
) -> Any:
    config: RunbookAutomationConfig = ctx.config
    secrets: RunbookAutomationSecrets = ctx.secrets
    token = secrets.token.get_secret_value()
    headers = {"X-Rundeck-Auth-Token": token, "Accept": "application/json"}
    if json is not None:
        headers["Content-Type"] = "application/json"
    try:
        response = await ctx.http.request(
            method,
            f"https://{host(config)}/api/{API_VERSION}{path}",
            idempotent=idempotent,
            headers=headers,
            json=json,
        )
    except IntegrationError as exc:
        body = error_body(exc)
        status = error_status(exc)
        message = f"Runbook Automation refused {method} {path}" + (
            f" (HTTP {status})" if status else ""
        )
        if isinstance(body, dict) and body.get("message"):
            message += f": {safe_text(str(body['message']), token)}"
        raise same_kind(exc, message) from None
    return response.json()
