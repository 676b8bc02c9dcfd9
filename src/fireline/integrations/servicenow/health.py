"""Verification, as the reference text describes it: request an OAuth access token from
`{instance}/oauth_token.do` with the password grant. Any refusal fails the check and, because
the text says so, stops the connection from being created (`verify_blocks_save`). Nothing is
read or written beyond the token request."""

from __future__ import annotations

from fireline.integrations.base import ToolContext, host_of
from fireline.integrations.servicenow import client


async def verify(ctx: ToolContext) -> str:
    await client.access_token(ctx)
    return f"Obtained an OAuth access token from {host_of(ctx.config.url)}"
