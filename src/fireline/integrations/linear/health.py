"""Verification: the `viewer` query — who the API key belongs to. Read-only."""

from __future__ import annotations

from fireline.core.errors import CredentialError
from fireline.integrations.base import ToolContext
from fireline.integrations.linear import client

VIEWER = "query Viewer { viewer { id name email } }"


async def verify(ctx: ToolContext) -> str:
    viewer = (await client.graphql(ctx, VIEWER, idempotent=True)).get("viewer")
    if not viewer:
        raise CredentialError("Linear did not identify the API key's user")
    return f"Connected to Linear as {viewer.get('name')} <{viewer.get('email')}>"
