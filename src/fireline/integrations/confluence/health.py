"""Verification: read one space of the chosen site (`GET .../wiki/rest/api/space?limit=1`);
before a site is chosen, the read-only accessible-resources call proves the token. A revoked
or expired token answers 401 → `CredentialError`."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.confluence import client
from fireline.integrations.confluence.schema import ConfluenceConfig


async def verify(ctx: ToolContext) -> str:
    config: ConfluenceConfig = ctx.config
    if config.cloud_id is None:
        sites = await client.accessible_resources(ctx)
        return f"Authorized for {len(sites)} Atlassian site(s); no Confluence site selected yet"
    await client.wiki(ctx, "/space", {"limit": 1})
    return f"Connected to Confluence site {config.site_name or config.site_url or config.cloud_id}"
