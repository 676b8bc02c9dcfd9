"""GitHub App user access tokens (the web application flow).

- Authorize: https://github.com/login/oauth/authorize with `client_id`, `redirect_uri`,
  `state` and PKCE (`code_challenge`, `code_challenge_method=S256` — the only method GitHub
  accepts). GitHub Apps have no scopes: the app's permissions and the installations the user
  chose (the organizations) decide what the token reaches.
- Token: POST https://github.com/login/oauth/access_token with `Accept: application/json`
  (otherwise the answer is form-encoded): `client_id`, `client_secret`, `code`,
  `redirect_uri`, `code_verifier`; or `grant_type=refresh_token` + `refresh_token`.
  Expiring tokens: `access_token` (`ghu_`, 8 h), `refresh_token` (`ghr_`, 6 months,
  `refresh_token_expires_in`); using a refresh token kills it and the old access token.
  Refusals come as HTTP 200 with `error` (bad_verification_code, incorrect_client_credentials,
  redirect_uri_mismatch, bad_refresh_token, unsupported_grant_type) and `error_description`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireline.integrations._oauth import read_tokens
from fireline.integrations.base import OAuthProvider, OAuthTokens, ToolContext
from fireline.integrations.github import client


def parse_tokens(body: Mapping[str, Any]) -> OAuthTokens:
    return read_tokens("GitHub", body)


async def connect_details(ctx: ToolContext) -> dict[str, Any]:
    """The config facts for a fresh token: the user's login and the accounts (organizations)
    the app is installed on that this user can reach. Read-only."""
    user = (await client.get(ctx, "/user")).json()
    accounts: list[str] = []
    url: str | None = "/user/installations"
    params: dict[str, Any] | None = {"per_page": 100}
    while url is not None:
        response = await client.get(ctx, url, params)
        params = None
        accounts += [item["account"]["login"] for item in response.json().get("installations", [])]
        url = client.next_page(response)
    return {"login": user.get("login"), "organizations": tuple(accounts)}


PROVIDER = OAuthProvider(
    setting_prefix="GITHUB",
    authorize_url="https://github.com/login/oauth/authorize",
    token_url="https://github.com/login/oauth/access_token",
    scopes=(),
    pkce=True,
    parse_tokens=parse_tokens,
    connect_details=connect_details,
)
