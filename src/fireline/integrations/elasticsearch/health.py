"""Verification: an authenticated GET of the cluster URL (reference text: "PagerDuty sends an
authenticated GET request to the Elasticsearch URL"); 401/403 or unreachable fails."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.elasticsearch import client


async def verify(ctx: ToolContext) -> str:
    info = await client.root(ctx)
    version = (info.get("version") or {}).get("number", "unknown version")
    cluster = info.get("cluster_name", "cluster")
    return f"Connected to {cluster} (Elasticsearch {version})"
