"""Confluence Cloud REST (v1) through the Atlassian API gateway:
`https://api.atlassian.com/ex/confluence/{cloud_id}/wiki/rest/api/...` with the OAuth 2.0
(3LO) bearer token. Tokens do not work on the site's own domain, so the site URL is only used
to build links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations._oauth import bearer
from fireline.integrations.base import ToolContext
from fireline.integrations.confluence.schema import ConfluenceConfig

GATEWAY = "https://api.atlassian.com"


def _headers(ctx: ToolContext) -> dict[str, str]:
    return {**bearer(ctx), "Accept": "application/json"}


def cloud_id(ctx: ToolContext) -> str:
    config: ConfluenceConfig = ctx.config
    if config.cloud_id is None:
        raise PermanentError("No Confluence site is selected for this connection: reconnect it")
    return config.cloud_id


async def get(ctx: ToolContext, url: str, params: Mapping[str, Any] | None = None) -> Any:
    response = await ctx.http.request(
        "GET", url, idempotent=True, headers=_headers(ctx), params=params
    )
    return response.json()


async def wiki(ctx: ToolContext, path: str, params: Mapping[str, Any] | None = None) -> Any:
    return await get(ctx, f"{GATEWAY}/ex/confluence/{cloud_id(ctx)}/wiki/rest/api{path}", params)


async def accessible_resources(ctx: ToolContext) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = await get(ctx, f"{GATEWAY}/oauth/token/accessible-resources")
    return resources
