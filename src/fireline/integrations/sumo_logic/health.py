"""Verification: `GET /api/v1/collectors?limit=1` — a read needing only the "View Collectors"
capability, which the Search Job API requires anyway. Nothing is created upstream (a search
job would be)."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.sumo_logic import client
from fireline.integrations.sumo_logic.schema import SumoLogicConfig


async def verify(ctx: ToolContext) -> str:
    await client.call(ctx, "GET", "/api/v1/collectors", params={"limit": 1})
    config: SumoLogicConfig = ctx.config
    return f"Access key accepted by Sumo Logic {config.deployment}"
