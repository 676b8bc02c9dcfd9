"""Slack OAuth v2 ("Add to Slack") for a bot token.

- Authorize: https://slack.com/oauth/v2/authorize with `client_id`, comma-separated bot
  `scope`, `redirect_uri`, `state`.
- Token: POST https://slack.com/api/oauth.v2.access (form; client credentials in the body or
  HTTP Basic) with `code` + `redirect_uri`, or `grant_type=refresh_token` + `refresh_token`
  when the app has token rotation on. The answer is Slack-shaped, not RFC 6749: `ok`, the bot
  token in `access_token` (`xoxb-`, `xoxe.xoxb-` when rotating), `expires_in` and
  `refresh_token` (`xoxe-1-`) only with rotation, `team {id, name}`, `bot_user_id`.
  Refusals are `ok: false` with `error` (invalid_code, bad_redirect_uri, invalid_refresh_token,
  …), sometimes `invalid_grant` with HTTP 400 for a dead refresh token.
- PKCE: Slack documents `code_verifier` for public clients; Fireline is a confidential client
  (client secret) and binds the callback with `state`, so no PKCE is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireline.core.errors import CredentialError
from fireline.integrations._oauth import raise_for_error, read_tokens
from fireline.integrations.base import OAuthProvider, OAuthTokens, ToolContext
from fireline.integrations.slack import client

# Bot scopes, by the methods that need them: chat.postMessage (chat:write);
# conversations.list (channels:read, groups:read); conversations.create, .archive and
# .setTopic on public channels (channels:manage) and private ones (groups:write);
# conversations.open for a DM (im:write); bookmarks.list and bookmarks.add (bookmarks:*).
# A connection made before a scope was added answers missing_scope until reconnected.
SCOPES = (
    "chat:write",
    "channels:read",
    "groups:read",
    "channels:manage",
    "groups:write",
    "im:write",
    "bookmarks:read",
    "bookmarks:write",
)


def parse_tokens(body: Mapping[str, Any]) -> OAuthTokens:
    raise_for_error("Slack", body)
    if body.get("ok") is not True:
        raise CredentialError(
            f"Slack refused the token request ({body.get('error') or 'unknown_error'})"
        )
    team = body.get("team") or {}
    return read_tokens(
        "Slack",
        body,
        details={
            "team_id": team.get("id"),
            "team_name": team.get("name"),
            "bot_user_id": body.get("bot_user_id"),
        },
    )


async def connect_details(ctx: ToolContext) -> dict[str, Any]:
    """The config facts for a token, read back with `auth.test` (the token answer already
    carries them; this is for a reconnect or a check)."""
    info = await client.call(ctx, "auth.test", idempotent=True)
    return {
        "team_id": info.get("team_id"),
        "team_name": info.get("team"),
        "bot_user_id": info.get("user_id"),
    }


PROVIDER = OAuthProvider(
    setting_prefix="SLACK",
    authorize_url="https://slack.com/oauth/v2/authorize",
    token_url="https://slack.com/api/oauth.v2.access",
    scopes=SCOPES,
    pkce=False,
    scope_separator=",",
    parse_tokens=parse_tokens,
    connect_details=connect_details,
)
