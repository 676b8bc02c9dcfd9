"""Verification: `GET /services/authentication/current-context` — the lightest authenticated
read, answering who the token belongs to. 401 (`call not properly authenticated`) is a
credential error."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.splunk import client


async def verify(ctx: ToolContext) -> str:
    body = await client.current_context(ctx)
    entries = body.get("entry") or [{}]
    user = (entries[0].get("content") or {}).get("username") or "unknown user"
    return f"Authenticated to Splunk as {user}"
