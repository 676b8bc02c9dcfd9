"""Linear's GraphQL API at https://api.linear.app/graphql.

A personal API key goes in `Authorization` as is — Linear rejects a `Bearer` prefix for
personal keys (OAuth tokens take one). GraphQL reports failures in `errors`, sometimes with
HTTP 200: an `AUTHENTICATION_ERROR` (in `extensions.code`, or `extensions.type`
"authentication error") is a `CredentialError` whatever the status; any other error is a
`PermanentError` quoting Linear's user-presentable message.
"""

from __future__ import annotations

from typing import Any

from fireline.core.errors import CredentialError, IntegrationError, PermanentError
from fireline.integrations._upstream import error_body, safe_text
from fireline.integrations.base import ToolContext
from fireline.integrations.linear.schema import LinearSecrets

API_HOST = "api.linear.app"
API_URL = f"https://{API_HOST}/graphql"


def _raise_for_errors(ctx: ToolContext, errors: Any) -> None:
    if not errors:
        return
    secrets: LinearSecrets = ctx.secrets
    key = secrets.api_key.get_secret_value()
    first = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
    extensions = first.get("extensions") or {}
    text = extensions.get("userPresentableMessage") or first.get("message") or "unknown error"
    message = f"Linear: {safe_text(str(text), key)}"
    if (
        extensions.get("code") == "AUTHENTICATION_ERROR"
        or extensions.get("type") == "authentication error"
    ):
        raise CredentialError(message)
    raise PermanentError(message)


async def graphql(
    ctx: ToolContext, query: str, variables: dict[str, Any] | None = None, *, idempotent: bool
) -> dict[str, Any]:
    secrets: LinearSecrets = ctx.secrets
    try:
        response = await ctx.http.request(
            "POST",
            API_URL,
            idempotent=idempotent,
            headers={
                "Authorization": secrets.api_key.get_secret_value(),
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            json={"query": query, "variables": variables or {}},
        )
    except IntegrationError as exc:
        body = error_body(exc)
        if isinstance(body, dict):
            _raise_for_errors(ctx, body.get("errors"))
        raise
    body = response.json()
    _raise_for_errors(ctx, body.get("errors"))
    data: dict[str, Any] = body.get("data") or {}
    return data
