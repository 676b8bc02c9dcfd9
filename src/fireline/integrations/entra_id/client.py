"""Microsoft Graph v1.0 calls on https://graph.microsoft.com with the delegated access token.
Paging follows `@odata.nextLink`, only while it stays on graph.microsoft.com."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from fireline.core.errors import PermanentError
from fireline.integrations._oauth import bearer
from fireline.integrations.base import ToolContext

GRAPH = "https://graph.microsoft.com/v1.0"


async def get(ctx: ToolContext, path_or_url: str, params: Mapping[str, Any] | None = None) -> Any:
    url = path_or_url if path_or_url.startswith("https://") else GRAPH + path_or_url
    response = await ctx.http.request(
        "GET",
        url,
        idempotent=True,
        headers={**bearer(ctx), "Accept": "application/json"},
        params=params,
    )
    return response.json()


def next_link(page: Mapping[str, Any]) -> str | None:
    url = page.get("@odata.nextLink")
    if url is None:
        return None
    if httpx.URL(url).host != "graph.microsoft.com":
        raise PermanentError("Graph paging pointed outside graph.microsoft.com")
    return str(url)


async def organization(ctx: ToolContext) -> dict[str, Any]:
    page = await get(ctx, "/organization", {"$select": "id,displayName"})
    values = page.get("value") or [{}]
    org: dict[str, Any] = values[0]
    return org
