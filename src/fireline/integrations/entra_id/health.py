"""Verification: `GET /v1.0/organization` — reads the tenant's id and name. An expired or
revoked token answers 401 `InvalidAuthenticationToken` → `CredentialError`."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.entra_id import client


async def verify(ctx: ToolContext) -> str:
    org = await client.organization(ctx)
    return (
        f"Connected to Microsoft Entra tenant {org.get('displayName', '?')} ({org.get('id', '?')})"
    )
