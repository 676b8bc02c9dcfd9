"""ServiceNow calls: an OAuth token by the Resource Owner Password Credentials grant at
`{instance}/oauth_token.do`, then the Table and Attachment APIs with `Authorization: Bearer`
(GET to read; POST to insert one record, which is not idempotent).

All four credentials travel in the form body of the token request only (SEC-7); error text
quoted from ServiceNow is scrubbed of them (SEC-5) and the request is never echoed.
"""

from __future__ import annotations

from typing import Any, NoReturn

from fireline.core.errors import (
    CredentialError,
    IntegrationError,
    PermanentError,
    TransientError,
)
from fireline.integrations._upstream import error_body, error_status, safe_text, same_kind
from fireline.integrations.base import ToolContext
from fireline.integrations.servicenow.schema import ServiceNowConfig, ServiceNowSecrets


def _secrets(ctx: ToolContext) -> tuple[str, ...]:
    secrets: ServiceNowSecrets = ctx.secrets
    return (
        secrets.username.get_secret_value(),
        secrets.password.get_secret_value(),
        secrets.client_id.get_secret_value(),
        secrets.client_secret.get_secret_value(),
    )


def _upstream_message(exc: Exception) -> str | None:
    body = error_body(exc)
    if not isinstance(body, dict):
        return None
    # oauth_token.do: {"error_description": "access_denied", "error": "server_error"}
    if body.get("error_description") or isinstance(body.get("error"), str):
        return str(body.get("error_description") or body["error"])
    # Table API: {"error": {"message": ..., "detail": ...}, "status": "failure"}
    error = body.get("error")
    if isinstance(error, dict) and error.get("message"):
        detail = error.get("detail")
        return f"{error['message']}: {detail}" if detail else str(error["message"])
    return None


def _reraise(ctx: ToolContext, exc: IntegrationError, what: str, *extra: str) -> NoReturn:
    upstream = _upstream_message(exc)
    status = error_status(exc)
    message = what + (f" (HTTP {status})" if status else "")
    if upstream:
        message += f": {safe_text(upstream, *_secrets(ctx), *extra)}"
    raise same_kind(exc, message) from None


async def access_token(ctx: ToolContext) -> str:
    config: ServiceNowConfig = ctx.config
    username, password, client_id, client_secret = _secrets(ctx)
    try:
        response = await ctx.http.request(
            "POST",
            f"{config.url}/oauth_token.do",
            idempotent=True,  # asking for a token twice yields a token; nothing is created
            headers={"Accept": "application/json"},
            # ServiceNow docs: the token endpoint takes application/x-www-form-urlencoded only.
            data={
                "grant_type": "password",
                "client_id": client_id,
                "client_secret": client_secret,
                "username": username,
                "password": password,
            },
        )
    except TransientError:
        raise
    except IntegrationError as exc:
        # A refused grant is a credential problem whatever the status (401 access_denied,
        # 400 for an OAuth application that does not allow the password grant).
        upstream = _upstream_message(exc)
        message = "ServiceNow refused the OAuth password grant"
        if upstream:
            message += f": {safe_text(upstream, *_secrets(ctx))}"
        raise CredentialError(message) from None
    try:
        token = response.json().get("access_token")
    except ValueError:
        token = None
    if not isinstance(token, str) or not token:
        raise PermanentError(
            "ServiceNow's token endpoint answered without an access token: is the URL the "
            "instance URL?"
        )
    return token


async def get(
    ctx: ToolContext,
    token: str,
    path: str,
    params: dict[str, str] | None = None,
    *,
    missing_ok: bool = False,
) -> Any:
    """The `result` of a Table/Attachment API GET; None for a 404 when `missing_ok`."""
    config: ServiceNowConfig = ctx.config
    try:
        response = await ctx.http.request(
            "GET",
            f"{config.url}{path}",
            idempotent=True,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            params=params,
        )
    except PermanentError as exc:
        if missing_ok and error_status(exc) == 404:
            return None
        _reraise(ctx, exc, f"ServiceNow refused GET {path}", token)
    except IntegrationError as exc:
        _reraise(ctx, exc, f"ServiceNow refused GET {path}", token)
    return response.json().get("result")


async def post(
    ctx: ToolContext, token: str, path: str, body: dict[str, Any], params: dict[str, str]
) -> Any:
    """The `result` of a Table API POST (one record inserted: never retried blindly)."""
    config: ServiceNowConfig = ctx.config
    try:
        response = await ctx.http.request(
            "POST",
            f"{config.url}{path}",
            idempotent=False,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            params=params,
            json=body,
        )
    except IntegrationError as exc:
        _reraise(ctx, exc, f"ServiceNow refused POST {path}", token)
    return response.json().get("result")
