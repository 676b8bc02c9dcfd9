"""Verification: `GET /api/org`, an authenticated read of the token's organization. (`/api/health`
answers without authentication, so it would prove nothing about the token.)"""

from __future__ import annotations

from fireline.core.errors import PermanentError
from fireline.integrations.base import ToolContext
from fireline.integrations.grafana import client


async def verify(ctx: ToolContext) -> str:
    org = await client.get(ctx, "/api/org")
    if not isinstance(org, dict) or "name" not in org:
        raise PermanentError("The URL did not answer like a Grafana instance")
    return f"Connected to Grafana organization {org['name']}"
