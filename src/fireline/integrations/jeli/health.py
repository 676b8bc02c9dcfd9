"""Verification: list one incident (`GET /v1/incidents?limit=1`). Read-only; a revoked or
wrong token is refused by Jeli ("Invalid authentication token")."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.jeli import client


async def verify(ctx: ToolContext) -> str:
    await client.call(ctx, "GET", "/incidents", idempotent=True, params={"limit": 1})
    return f"Connected to Jeli with {ctx.config.username}'s API token"
