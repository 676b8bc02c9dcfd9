"""Logz.io API calls on the region's API host, authenticated with the `X-API-TOKEN` header only."""

from __future__ import annotations

from typing import Any

from fireline.integrations.base import ToolContext
from fireline.integrations.logzio.schema import LogzioConfig, LogzioSecrets


async def _call(ctx: ToolContext, method: str, path: str, json: Any = None) -> dict[str, Any]:
    config: LogzioConfig = ctx.config
    secrets: LogzioSecrets = ctx.secrets
    response = await ctx.http.request(
        method,
        config.api_url + path,
        idempotent=True,  # reads only; /v1/search is a POST that reads
        headers={"X-API-TOKEN": secrets.api_token.get_secret_value(), "Accept": "application/json"},
        json=json,
    )
    body: dict[str, Any] = response.json()
    return body


async def whoami(ctx: ToolContext) -> dict[str, Any]:
    return await _call(ctx, "GET", "/v1/account-management/whoami")


async def search(ctx: ToolContext, body: dict[str, Any]) -> dict[str, Any]:
    return await _call(ctx, "POST", "/v1/search", json=body)
