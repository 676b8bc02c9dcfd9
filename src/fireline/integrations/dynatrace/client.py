"""Dynatrace calls: an OAuth2 client-credentials token from sso.dynatrace.com, then the Grail
query API (`query:execute`, `query:poll`) on the environment with `Authorization: Bearer`.

The client ID and secret travel only in the form body of the token request (SEC-7); the
Grail request token is a handle on a running query, not a credential, so it may go in the
poll URL as Dynatrace requires.
"""

from __future__ import annotations

import re
from typing import Any

from fireline.core.errors import CredentialError, IntegrationError, PermanentError
from fireline.core.redaction import REDACTED, scrub
from fireline.integrations.base import ToolContext
from fireline.integrations.dynatrace.schema import DynatraceConfig, DynatraceSecrets

TOKEN_URL = "https://sso.dynatrace.com/sso/oauth2/token"
SCOPES = "storage:logs:read storage:buckets:read"
_QUERY_PATH = "/platform/storage/query/v1"
# RFC 6749 §5.2: these token-endpoint errors mean the client or its grant is wrong.
_CREDENTIAL_ERRORS = {"invalid_client", "unauthorized_client", "invalid_grant", "invalid_scope"}
_FIELD = r'"{name}"\s*:\s*"((?:[^"\\]|\\.)*)"'


def _body_field(text: str, name: str) -> str | None:
    # The egress client reports an upstream error as "<status>: <body>" (possibly cut short),
    # so the field is read with a pattern rather than a JSON parser.
    match = re.search(_FIELD.format(name=name), text)
    return match.group(1) if match else None


def _token_error(exc: IntegrationError, secrets: DynatraceSecrets) -> IntegrationError:
    text = str(exc)
    error = _body_field(text, "error") or "token request refused"
    description = _body_field(text, "error_description") or ""
    # SEC-5: whatever Dynatrace echoes back, our own values never leave in the message.
    for secret in (secrets.oauth2_client_id, secrets.oauth_client_secret):
        description = description.replace(secret.get_secret_value(), REDACTED)
    detail = scrub(f"{error}: {description}" if description else error)
    message = f"Dynatrace SSO refused the OAuth2 client credentials ({detail})"
    if isinstance(exc, CredentialError) or error in _CREDENTIAL_ERRORS:
        return CredentialError(message)
    return PermanentError(message)


async def access_token(ctx: ToolContext) -> str:
    config: DynatraceConfig = ctx.config
    secrets: DynatraceSecrets = ctx.secrets
    form = {
        "grant_type": "client_credentials",
        "client_id": secrets.oauth2_client_id.get_secret_value(),
        "client_secret": secrets.oauth_client_secret.get_secret_value(),
        "scope": SCOPES,
    }
    if config.account_urn:
        form["resource"] = config.account_urn
    try:
        response = await ctx.http.request(
            "POST",
            TOKEN_URL,
            idempotent=True,  # issuing a token changes nothing upstream
            headers={"Accept": "application/json"},
            data=form,
        )
    except (CredentialError, PermanentError) as exc:
        raise _token_error(exc, secrets) from None
    token = response.json().get("access_token")
    if not isinstance(token, str) or not token:
        raise PermanentError("Dynatrace SSO answered without an access token")
    return token


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


async def execute(ctx: ToolContext, token: str, body: dict[str, Any]) -> dict[str, Any]:
    config: DynatraceConfig = ctx.config
    response = await ctx.http.request(
        "POST",
        f"{config.platform_url}{_QUERY_PATH}/query:execute",
        idempotent=True,  # a query reads; running it twice is harmless
        headers=_headers(token),
        json=body,
    )
    result: dict[str, Any] = response.json()
    return result


async def poll(ctx: ToolContext, token: str, request_token: str, wait_ms: int) -> dict[str, Any]:
    config: DynatraceConfig = ctx.config
    response = await ctx.http.request(
        "GET",
        f"{config.platform_url}{_QUERY_PATH}/query:poll",
        idempotent=True,
        headers=_headers(token),
        # Long polling: Grail holds the request until the result is ready or wait_ms passes.
        params={"request-token": request_token, "request-timeout-milliseconds": wait_ms},
    )
    result: dict[str, Any] = response.json()
    return result


async def cancel(ctx: ToolContext, token: str, request_token: str) -> None:
    config: DynatraceConfig = ctx.config
    await ctx.http.request(
        "POST",
        f"{config.platform_url}{_QUERY_PATH}/query:cancel",
        idempotent=True,  # cancelling twice is the same as once
        headers=_headers(token),
        params={"request-token": request_token},
    )
