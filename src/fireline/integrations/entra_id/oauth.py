"""Microsoft identity platform (v2.0) authorization-code flow with PKCE, for delegated Graph
access on behalf of a work or school account.

- Authorize: https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize with
  `client_id`, `response_type=code`, `redirect_uri`, space-separated `scope`, `state`,
  `code_challenge` + `code_challenge_method=S256`. `organizations` lets any Entra tenant sign
  in (no personal accounts).
- Token: POST .../organizations/oauth2/v2.0/token (form) — `authorization_code` with
  `code_verifier`, or `refresh_token`. Access tokens live ~1 h; `offline_access` yields a
  refresh token, and each refresh returns a new one to store. Refusals: 400 `invalid_grant`
  (AADSTS70008 expired code, AADSTS54005 code already redeemed, AADSTS501481 verifier
  mismatch, AADSTS700082 refresh token expired), 401 `invalid_client` (AADSTS7000215).
- The tenant: the `tid` claim of the id_token (`openid` scope), else `GET /v1.0/organization`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from fireline.integrations._oauth import read_tokens
from fireline.integrations.base import OAuthProvider, OAuthTokens, ToolContext
from fireline.integrations.entra_id import client

SCOPES = ("openid", "offline_access", "User.Read", "User.Read.All", "GroupMember.Read.All")


def _tenant_from_id_token(id_token: Any) -> str | None:
    # OpenID Connect Core §3.1.3.7 (6): an ID token received directly from the token endpoint
    # over TLS may be trusted without checking its signature. Only the non-secret `tid`
    # claim is read; anything malformed is ignored (connect_details asks Graph instead).
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    tid = claims.get("tid") if isinstance(claims, dict) else None
    return tid if isinstance(tid, str) else None


def parse_tokens(body: Mapping[str, Any]) -> OAuthTokens:
    return read_tokens(
        "Microsoft identity platform",
        body,
        details={"tenant_id": _tenant_from_id_token(body.get("id_token"))},
    )


async def connect_details(ctx: ToolContext) -> dict[str, Any]:
    org = await client.organization(ctx)
    return {"tenant_id": org.get("id"), "tenant_name": org.get("displayName")}


PROVIDER = OAuthProvider(
    setting_prefix="ENTRA_ID",
    authorize_url="https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
    token_url="https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
    scopes=SCOPES,
    pkce=True,
    parse_tokens=parse_tokens,
    connect_details=connect_details,
    refresh_sends_scope=True,
)
