"""Verification: `GET /api/{v}/user/info`, the token's own user profile — readable by any
valid token, unlike `/system/info`, which needs system read access in the ACLs. The profile's
login must be the connection's Username (the user associated with the token)."""

from __future__ import annotations

from fireline.core.errors import CredentialError
from fireline.integrations.base import ToolContext
from fireline.integrations.pagerduty_rba import client


async def verify(ctx: ToolContext) -> str:
    profile = await client.call(ctx, "GET", "/user/info", idempotent=True)
    login = str(profile.get("login", ""))
    if login.lower() != ctx.config.username.lower():
        raise CredentialError(
            f"The token belongs to user {login!r}, not to {ctx.config.username!r}"
        )
    return f"Connected to {client.host(ctx.config)} as {login}"
