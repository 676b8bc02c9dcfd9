"""NerdGraph: `POST /graphql` on the region's host with the `API-Key` header only.

GraphQL reports most failures with HTTP 200 and an `errors` array: authentication and
authorization errors become `CredentialError`, anything else `PermanentError` with New
Relic's messages. Inputs always travel as GraphQL variables, never spliced into the document.
"""

from __future__ import annotations

from typing import Any

from fireline.core.errors import CredentialError, PermanentError
from fireline.integrations.base import ToolContext
from fireline.integrations.new_relic.schema import NewRelicConfig, NewRelicSecrets

_AUTH_CLASSES = {"UNAUTHORIZED", "UNAUTHENTICATED", "FORBIDDEN"}
_AUTH_CODES = {"BAD_API_KEY", "FORBIDDEN", "UNAUTHORIZED"}


def _is_auth_error(error: dict[str, Any]) -> bool:
    extensions = error.get("extensions") or {}
    return (
        str(extensions.get("errorClass", "")).upper() in _AUTH_CLASSES
        or str(extensions.get("error_code", "")).upper() in _AUTH_CODES
    )


async def graphql(ctx: ToolContext, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    config: NewRelicConfig = ctx.config
    secrets: NewRelicSecrets = ctx.secrets
    response = await ctx.http.request(
        "POST",
        config.graphql_url,
        idempotent=True,  # only queries are sent, never mutations
        headers={"API-Key": secrets.api_key.get_secret_value(), "Accept": "application/json"},
        json={"query": document, "variables": variables},
    )
    body: dict[str, Any] = response.json()
    errors = [error for error in body.get("errors") or [] if isinstance(error, dict)]
    if errors:
        messages = "; ".join(str(error.get("message", "unknown error")) for error in errors)
        if any(_is_auth_error(error) for error in errors):
            raise CredentialError(f"New Relic refused the API key: {messages}")
        raise PermanentError(f"New Relic NerdGraph error: {messages}")
    data: dict[str, Any] = body.get("data") or {}
    return data


def account_of(data: dict[str, Any], account_id: int) -> dict[str, Any]:
    account = (data.get("actor") or {}).get("account")
    if not isinstance(account, dict):
        raise CredentialError(f"The API key cannot read New Relic account {account_id}")
    return account
