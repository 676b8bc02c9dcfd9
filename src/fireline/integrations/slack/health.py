"""Verification: `auth.test`, which only reads who the token belongs to. A revoked, expired or
invalid token answers `ok: false` and becomes `CredentialError`."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.slack import client


async def verify(ctx: ToolContext) -> str:
    info = await client.call(ctx, "auth.test", idempotent=True)
    return f"Connected to Slack workspace {info.get('team', '?')} as {info.get('user', '?')}"
