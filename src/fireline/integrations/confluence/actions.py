"""Confluence actions: Search Pages (CQL via `/wiki/rest/api/search`) and Get Page
(`/wiki/rest/api/content/{id}` with the storage or view body)."""

from __future__ import annotations

import re
from typing import Any

from fireline.integrations.base import Action, ToolContext
from fireline.integrations.confluence import client
from fireline.integrations.confluence.schema import (
    ConfluenceConfig,
    GetPageInput,
    GetPageOutput,
    PageHit,
    SearchPagesInput,
    SearchPagesOutput,
)

# The `highlight` excerpt strategy wraps matches in these markers.
_HIGHLIGHT = re.compile(r"@@@(?:end)?hl@@@")


def _base(ctx: ToolContext, links: dict[str, Any]) -> str:
    config: ConfluenceConfig = ctx.config
    return str(links.get("base") or (f"{config.site_url}/wiki" if config.site_url else ""))


async def search_pages(ctx: ToolContext, data: SearchPagesInput) -> SearchPagesOutput:
    answer = await client.wiki(
        ctx, "/search", {"cql": data.cql, "limit": data.limit, "excerpt": "highlight"}
    )
    base = _base(ctx, answer.get("_links") or {})
    results = []
    for item in answer.get("results", []):
        content = item.get("content") or {}
        container = item.get("resultGlobalContainer") or {}
        space_key = (content.get("space") or {}).get("key") or (
            container.get("displayUrl", "").rsplit("/", 1)[-1] or None
        )
        results.append(
            PageHit(
                id=content.get("id"),
                title=_HIGHLIGHT.sub("", item.get("title") or content.get("title") or ""),
                url=base + (item.get("url") or (content.get("_links") or {}).get("webui", "")),
                excerpt=_HIGHLIGHT.sub("", item.get("excerpt") or ""),
                space_key=space_key,
                last_modified=item.get("lastModified"),
            )
        )
    return SearchPagesOutput(total_size=int(answer.get("totalSize", len(results))), results=results)


async def get_page(ctx: ToolContext, data: GetPageInput) -> GetPageOutput:
    page = await client.wiki(
        ctx,
        f"/content/{data.page_id}",
        {"expand": f"body.{data.body_format},version,space"},
    )
    links = page.get("_links") or {}
    return GetPageOutput(
        id=page["id"],
        title=page["title"],
        space_key=(page.get("space") or {}).get("key"),
        version=(page.get("version") or {}).get("number"),
        url=_base(ctx, links) + links.get("webui", ""),
        body=((page.get("body") or {}).get(data.body_format) or {}).get("value", ""),
    )


SEARCH_PAGES = Action(
    name="search_pages",
    title="Search Pages",
    input=SearchPagesInput,
    output=SearchPagesOutput,
    idempotent=True,
    run=search_pages,
)

GET_PAGE = Action(
    name="get_page",
    title="Get Page",
    input=GetPageInput,
    output=GetPageOutput,
    idempotent=True,
    run=get_page,
)
