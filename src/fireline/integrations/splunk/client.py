"""Splunk REST API calls (splunkd, usually port 8089), JSON output (`output_mode=json`).

Authentication: Splunk authentication tokens are JSON Web Tokens and go in
`Authorization: Bearer <token>`; session keys (from `/services/auth/login`) go in
`Authorization: Splunk <key>`. A value that already starts with one of those schemes is sent
as given; otherwise a JWT-shaped value is a token and anything else a session key — the same
rule as Splunk's own SDK, which sends `Splunk <key>` unless told the value is a bearer token.
"""

from __future__ import annotations

import re
from typing import Any

from fireline.integrations.base import ToolContext
from fireline.integrations.splunk.schema import SplunkConfig, SplunkSecrets

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


def authorization(token: str) -> str:
    if token.startswith(("Bearer ", "Splunk ")):
        return token
    return f"Bearer {token}" if _JWT.match(token) else f"Splunk {token}"


def _headers(ctx: ToolContext) -> dict[str, str]:
    secrets: SplunkSecrets = ctx.secrets
    return {
        "Authorization": authorization(secrets.authentication_token.get_secret_value()),
        "Accept": "application/json",
    }


def _url(ctx: ToolContext, path: str) -> str:
    config: SplunkConfig = ctx.config
    return config.url + path


async def current_context(ctx: ToolContext) -> dict[str, Any]:
    response = await ctx.http.request(
        "GET",
        _url(ctx, "/services/authentication/current-context"),
        idempotent=True,
        headers=_headers(ctx),
        params={"output_mode": "json"},
    )
    body: dict[str, Any] = response.json()
    return body


async def oneshot(ctx: ToolContext, form: dict[str, str]) -> dict[str, Any]:
    # A oneshot search returns its results in the answer and keeps no job to poll. It reads
    # only, so a retry is safe.
    response = await ctx.http.request(
        "POST",
        _url(ctx, "/services/search/v2/jobs"),
        idempotent=True,
        headers=_headers(ctx),
        data={**form, "exec_mode": "oneshot", "output_mode": "json"},
    )
    if not response.content.strip():
        return {"results": []}
    body: dict[str, Any] = response.json()
    return body
