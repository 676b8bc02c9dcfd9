"""Helpers shared by the OAuth tool packages (Slack, GitHub, Confluence, Entra ID).

They read a token-endpoint answer — RFC 6749 §5.1 (success) and §5.2 (error) — into
`OAuthTokens`, refusing anything without an access token, and build the bearer header from
the stored `OAuthSecrets`. A refusal becomes `CredentialError` carrying the provider's error
code (never a token: token-endpoint error bodies do not echo them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireline.core.errors import CredentialError
from fireline.integrations.base import OAuthSecrets, OAuthTokens, ToolContext


def bearer(ctx: ToolContext) -> dict[str, str]:
    secrets: OAuthSecrets = ctx.secrets
    return {"Authorization": f"Bearer {secrets.access_token.get_secret_value()}"}


def raise_for_error(provider: str, body: Mapping[str, Any]) -> None:
    """RFC 6749 §5.2: `error` (+ optional `error_description`) means the grant was refused."""
    error = body.get("error")
    if error is None:
        return
    description = str(body.get("error_description") or "").strip().splitlines()
    detail = f": {description[0][:200]}" if description else ""
    raise CredentialError(f"{provider} refused the token request ({error}){detail}")


def read_tokens(
    provider: str, body: Mapping[str, Any], *, details: Mapping[str, Any] | None = None
) -> OAuthTokens:
    raise_for_error(provider, body)
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise CredentialError(f"{provider} token response has no access_token")
    refresh_token = body.get("refresh_token")
    expires_in = body.get("expires_in")
    return OAuthTokens(
        access_token=access_token,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        # Some providers send numbers as strings (RFC 6749 says a number); accept both.
        expires_in=int(expires_in) if expires_in not in (None, "") else None,
        details={key: value for key, value in (details or {}).items() if value is not None},
    )
